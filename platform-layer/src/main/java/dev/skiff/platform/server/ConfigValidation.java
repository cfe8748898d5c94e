package dev.skiff.platform.server;

import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.liveconfig.ConfigServiceLayer;
import dev.skiff.platform.liveconfig.LiveConfig;
import dev.skiff.platform.security.Access;
import dev.skiff.proto.v1.ValidateConfigRequest;
import dev.skiff.proto.v1.ValidateConfigResponse;

/**
 * A service's endpoint {@value #ENDPOINT}: the config service asks, before it records a change that would
 * reach this service, whether the service's validators take the merged view it would make. Offered only
 * to {@value ConfigServiceLayer#SERVICE}, and only by a server with validators
 * ({@link ServerBuilder#configValidator}).
 */
final class ConfigValidation {
  /** The endpoint's name. */
  static final String ENDPOINT = "config.validate";

  private volatile LiveConfig live;

  /** @return the endpoint, answering once {@link #serve} was given the server's live configuration */
  Endpoint<ValidateConfigRequest, ValidateConfigResponse> endpoint() {
    return Endpoint.of(ENDPOINT, ValidateConfigRequest.class, ValidateConfigResponse.class, (req, ctx) -> validate(req))
        .withAccess(Access.services(ConfigServiceLayer.SERVICE)).asIdempotent();
  }

  /** @param config the server's live configuration, from its start on */
  void serve(LiveConfig config) {
    this.live = config;
  }

  private ValidateConfigResponse validate(ValidateConfigRequest req) {
    LiveConfig c = live;
    if (c == null) {
      throw new SkiffException(ErrorCode.UNAVAILABLE, "the configuration is not read yet");
    }
    return c.validate(req);
  }
}
