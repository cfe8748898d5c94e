package dev.skiff.gateway;

import com.codahale.metrics.MetricRegistry;
import com.google.protobuf.Empty;
import com.google.protobuf.StringValue;
import dev.skiff.kernel.Guard;
import dev.skiff.kernel.LimitedJetty;
import dev.skiff.kernel.discovery.Registry;
import dev.skiff.platform.health.HealthCheck;
import dev.skiff.platform.health.Priority;
import dev.skiff.platform.internal.Printable;
import dev.skiff.platform.internal.Release;
import dev.skiff.platform.security.LoginTokenVerifier;
import dev.skiff.platform.security.ServiceIdentities;
import dev.skiff.platform.security.TokenVerifier;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.transport.Transport;
import java.security.KeyStore;
import java.security.KeyStoreException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Collections;
import java.util.List;
import java.util.function.Supplier;
import org.eclipse.jetty.server.SslConnectionFactory;

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
   * @param openApi the OpenAPI document of what the gateway serves now ({@link GatewayHandler#openApi()})
   * @return the server, built and not started
   */
  static Server build(Transport transport, ServiceIdentities identities, TokenVerifier verifier, MetricRegistry metrics,
      LimitedJetty jetty, Registry registry, RouteTable routes, Supplier<String> openApi) {
    Server server = Server.builder(NAME).version(Release.version()).transport(transport).identities(identities).tokenVerifier(verifier).metrics(metrics)
        .description("HTTP API gateway: the public edge into the services")
        .endpoint(Endpoint.of("openapi", Empty.class, StringValue.class,
            (req, ctx) -> StringValue.of(openApi.get())).withAccess(Guard.READ_VIEWS).asIdempotent())
        .build();
    server.health().register("http", Priority.PAGE, INTERVAL, new Http(jetty));
    // its own check, out of readiness (Readiness.GATING): every copy serves the same certificate, and a
    // certificate a week from its end is still served, so that warning must page someone, not take the edge down
    server.health().register("tls-certificate", Priority.PAGE, INTERVAL, new Certificate(jetty, Clock.systemUTC()));
    server.health().register("routes", Priority.PAGE, INTERVAL, new Routes(registry, routes, server.instanceId()));
    server.health().register("token-keys", Priority.PAGE, INTERVAL, new TokenKeys(verifier));
    return server;
  }

  /** The HTTP listener is started and its port open (HTTPS, under TLS): what readiness needs. */
  static final class Http extends HealthCheck {
    private final LimitedJetty jetty;

    Http(LimitedJetty jetty) {
      this.jetty = jetty;
    }

    @Override
    protected Result check() {
      if (!jetty.server().isRunning() || !jetty.connector().isOpen()) {
        return Result.unhealthy("the HTTP listener is " + (jetty.server().isStopping() ? "stopping" : "not running"));
      }
      boolean tls = jetty.connector().getConnectionFactory(SslConnectionFactory.class) != null;
      return Result.healthy("listening on port " + jetty.connector().getLocalPort() + (tls ? " (HTTPS)" : ""));
    }
  }

  /**
   * Under TLS, the certificate served (the key store's, re-read when the file changes) is not within
   * {@link #CERTIFICATE_WARNING} of its end; without TLS, nothing to renew.
   */
  static final class Certificate extends HealthCheck {
    /** How long before its end a served certificate makes the check fail, so that it is renewed in time. */
    static final Duration CERTIFICATE_WARNING = Duration.ofDays(7);

    private final LimitedJetty jetty;
    private final Clock clock;

    Certificate(LimitedJetty jetty, Clock clock) {
      this.jetty = jetty;
      this.clock = clock;
    }

    @Override
    protected Result check() {
      SslConnectionFactory tls = jetty.connector().getConnectionFactory(SslConnectionFactory.class);
      if (tls == null) {
        return Result.healthy("plain HTTP: no certificate");
      }
      X509Certificate served;
      try {
        served = served(tls.getSslContextFactory().getKeyStore());
      } catch (KeyStoreException e) {
        return Result.unhealthy("its key store cannot be read: " + e.getMessage());
      }
      if (served == null) {
        return Result.unhealthy("its key store holds no certificate");
      }
      Instant starts = served.getNotBefore().toInstant();
      Instant ends = served.getNotAfter().toInstant();
      String name = "certificate " + Printable.of(served.getSubjectX500Principal().getName(), 200);
      if (starts.isAfter(clock.instant())) {
        // clients refuse it as they refuse an expired one ("certificate is not yet valid")
        return Result.unhealthy(name + " is not valid before " + starts + " (until " + ends + "): clients refuse it until then;"
            + " serve one valid now (the new key store is served about 10-15 s after it is written)");
      }
      String what = name + " valid until " + ends;
      return ends.isAfter(clock.instant().plus(CERTIFICATE_WARNING)) ? Result.healthy(what)
          : Result.unhealthy(what + ": renew it (the new key store is served about 10-15 s after it is written)");
    }

    /** @return the certificate of the store's first key entry, or null */
    private static X509Certificate served(KeyStore store) throws KeyStoreException {
      if (store == null) {
        return null;
      }
      for (String alias : Collections.list(store.aliases())) {
        if (store.isKeyEntry(alias) && store.getCertificate(alias) instanceof X509Certificate c) {
          return c;
        }
      }
      return null;
    }
  }

  /**
   * The route table follows discovery: the gateway's own announcement, sent at every heartbeat, is in its
   * registry (it leaves it once no heartbeat arrived for the expiry, 6 s, so a broken subscription shows).
   * Says how many routes it serves from how many services (those with a route).
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
      // the services that have routes (not every service discovery knows: the kernel's and the gateway's own have none)
      List<Route> all = routes.all();
      long services = all.stream().map(Route::service).distinct().count();
      return Result.healthy(all.size() + " routes from " + services + (services == 1 ? " service" : " services"));
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
