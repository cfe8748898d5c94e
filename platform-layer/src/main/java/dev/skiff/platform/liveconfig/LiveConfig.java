package dev.skiff.platform.liveconfig;

import com.codahale.metrics.MetricRegistry;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.config.ConfigException;
import dev.skiff.platform.config.LayeredConfig;
import dev.skiff.platform.security.ServiceIdentities;
import dev.skiff.platform.transport.Transport;
import dev.skiff.proto.v1.ValidateConfigRequest;
import dev.skiff.proto.v1.ValidateConfigResponse;
import java.util.Objects;

/**
 * A server's live configuration: its own layers (defaults, files, ZooKeeper...) with the config service's
 * layer above them and the environment and system properties on top, and the service's answer to the
 * config service's question "would you take this?" ({@link #validate}). Made and closed by the server
 * ({@link dev.skiff.platform.server.ServerBuilder#liveConfig()}).
 */
public final class LiveConfig implements AutoCloseable {
  /** The longest reason a service gives for refusing a view (longer ones are cut). */
  static final int MAX_REASON = 1000;

  private final LayeredConfig config;
  private final ConfigServiceLayer layer;

  private LiveConfig(LayeredConfig config, ConfigServiceLayer layer) {
    this.config = config;
    this.layer = layer;
  }

  /**
   * Reads the configuration (waiting for the config service up to {@link LiveConfigOptions#firstRead()})
   * and starts following it.
   *
   * @param layers the service's own layers; the config service's layer is added above them
   * @param client the service's client
   * @param transport the transport change events arrive on
   * @param identities who may speak for the config service
   * @param metrics where the layer's counters go
   * @param service the service
   * @param options region, environment, local copy
   * @return the live configuration
   * @throws ConfigException when the configuration is invalid at start
   */
  public static LiveConfig start(LayeredConfig.Builder layers, Client client, Transport transport, ServiceIdentities identities,
      MetricRegistry metrics, String service, LiveConfigOptions options) {
    ConfigServiceLayer layer = ConfigServiceLayer.start(client, transport, identities, metrics, service, options);
    LayeredConfig config;
    try {
      config = layers.source(layer).build();
    } catch (RuntimeException e) {
      layer.close();
      throw e;
    }
    layer.checkWith(values -> config.check(layer, values));
    return new LiveConfig(config, layer);
  }

  /** @return the configuration in force, followed live */
  public LayeredConfig config() {
    return config;
  }

  /** @return the config service's layer */
  public ConfigServiceLayer layer() {
    return layer;
  }

  /**
   * Checks a merged view the config service is about to make: would this service take it?
   *
   * @param request the view
   * @return ok, or the reason it would be refused
   */
  public ValidateConfigResponse validate(ValidateConfigRequest request) {
    Objects.requireNonNull(request, "request");
    try {
      config.check(layer, JsonTrees.flatten(request.getJson()));
      return ValidateConfigResponse.newBuilder().setOk(true).build();
    } catch (IllegalArgumentException e) {
      String reason = String.valueOf(e.getMessage());
      return ValidateConfigResponse.newBuilder().setOk(false)
          .setReason(reason.length() > MAX_REASON ? reason.substring(0, MAX_REASON) + "..." : reason).build();
    }
  }

  /** Stops following and closes every layer. Idempotent. */
  @Override
  public void close() {
    config.close();
  }
}
