package dev.skiff.gateway;

import com.codahale.metrics.MetricRegistry;
import com.google.protobuf.Empty;
import com.google.protobuf.StringValue;
import dev.skiff.kernel.Guard;
import dev.skiff.kernel.LimitedJetty;
import dev.skiff.kernel.discovery.Registry;
import dev.skiff.platform.health.HealthCheck;
import dev.skiff.platform.health.Priority;
import dev.skiff.platform.security.LoginTokenVerifier;
import dev.skiff.platform.security.ServiceIdentities;
import dev.skiff.platform.security.TokenVerifier;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.transport.Transport;
import java.time.Duration;

/**
 * The gateway as a Skiff service (docs/gateway.md, "Monitored like every service"): a server named
 * {@value #NAME} that announces itself to discovery, reports its health and metrics to monitoring like
 * every service, and answers one endpoint ({@code openapi}: the OpenAPI document of the routes served now).
 * Its healthchecks: {@code http} (the listener is up), {@code routes} (the route table is fed: the
 * gateway's own latest announcement came back through its discovery registry), {@code token-keys} (the
 * login service's signing keys are loaded, so tokens can be verified).
 */
final class GatewayServer {
  /** The gateway's service name. */
  static final String NAME = ServiceIdentities.GATEWAY_SERVICE;
  /** How often the checks run. */
  static final Duration INTERVAL = Duration.ofSeconds(2);

  private GatewayServer() {}

  /**
   * @param transport the broker connection (not owned)
   * @param identities who may act as whom
   * @param verifier checks people's tokens (not owned)
   * @param metrics the gateway's metrics, reported with the server's
   * @param jetty the HTTP listener
   * @param registry the gateway's discovery registry
   * @param routes the route table
   * @return the server, built and not started
   */
  static Server build(Transport transport, ServiceIdentities identities, TokenVerifier verifier, MetricRegistry metrics,
      LimitedJetty jetty, Registry registry, RouteTable routes) {
    Server server = Server.builder(NAME).transport(transport).identities(identities).tokenVerifier(verifier).metrics(metrics)
        .description("HTTP API gateway: the public edge into the services")
        .endpoint(Endpoint.of("openapi", Empty.class, StringValue.class,
            (req, ctx) -> StringValue.of(OpenApi.document(routes.all()))).withAccess(Guard.READ_VIEWS).asIdempotent())
        .build();
    server.health().register("http", Priority.PAGE, INTERVAL, new Http(jetty));
    server.health().register("routes", Priority.PAGE, INTERVAL, new Routes(registry, routes, server.instanceId()));
    server.health().register("token-keys", Priority.PAGE, INTERVAL, new TokenKeys(verifier));
    return server;
  }

  /** The HTTP listener is started and its port open. */
  static final class Http extends HealthCheck {
    private final LimitedJetty jetty;

    Http(LimitedJetty jetty) {
      this.jetty = jetty;
    }

    @Override
    protected Result check() {
      if (jetty.server().isRunning() && jetty.connector().isOpen()) {
        return Result.healthy("listening on port " + jetty.connector().getLocalPort());
      }
      return Result.unhealthy("the HTTP listener is " + (jetty.server().isStopping() ? "stopping" : "not running"));
    }
  }

  /**
   * The route table follows discovery: the gateway's own announcement, sent at every heartbeat, is in its
   * registry (it leaves it once no heartbeat arrived for the expiry, 6 s, so a broken subscription shows).
   */
  static final class Routes extends HealthCheck {
    private final Registry registry;
    private final RouteTable routes;
    private final String instance;

    Routes(Registry registry, RouteTable routes, String instance) {
      this.registry = registry;
      this.routes = routes;
      this.instance = instance;
    }

    @Override
    protected Result check() {
      boolean heard = registry.list(NAME).stream().anyMatch(i -> i.getAnnouncement().getInstance().equals(instance));
      if (!heard) {
        return Result.unhealthy("the gateway's own announcement has not come back through discovery lately: routes may be stale");
      }
      return Result.healthy(routes.all().size() + " routes from " + registry.services().size() + " services");
    }
  }

  /** The login service's signing keys are held (without them every token is refused, 401 KEYS_UNAVAILABLE). */
  static final class TokenKeys extends HealthCheck {
    private final TokenVerifier verifier;

    TokenKeys(TokenVerifier verifier) {
      this.verifier = verifier;
    }

    @Override
    protected Result check() {
      if (!(verifier instanceof LoginTokenVerifier login)) {
        return Result.healthy("tokens are checked by a verifier the embedding code gave");
      }
      int keys = login.signingKeys();
      return keys > 0 ? Result.healthy(keys + " signing keys of " + LoginTokenVerifier.SERVICE)
          : Result.unhealthy("no signing key from " + LoginTokenVerifier.SERVICE + " yet: every token is refused");
    }
  }
}
