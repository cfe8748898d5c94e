package dev.skiff.gateway;

import com.codahale.metrics.MetricRegistry;
import dev.skiff.kernel.Guard;
import dev.skiff.kernel.LimitedJetty;
import dev.skiff.kernel.SignInClients;
import dev.skiff.kernel.discovery.Registry;
import dev.skiff.kernel.http.CannotListen;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.health.HealthChecks;
import dev.skiff.platform.security.LoginTokenVerifier;
import dev.skiff.platform.security.ServiceIdentities;
import dev.skiff.platform.security.TokenVerifier;
import dev.skiff.platform.server.LoginServiceSource;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.trace.TraceSettings;
import dev.skiff.platform.trace.Tracing;
import dev.skiff.platform.transport.Transport;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import org.eclipse.jetty.http.UriCompliance;
import org.eclipse.jetty.http2.server.HTTP2CServerConnectionFactory;
import org.eclipse.jetty.http2.server.HTTP2ServerConnectionFactory;
import org.eclipse.jetty.server.ConnectionFactory;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.server.handler.GracefulHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Skiff's HTTP API gateway (docs/gateway.md): the public edge into the services. It serves each endpoint
 * that its proto annotates with {@code google.api.http} at that method and path, JSON in and out, learning
 * the routes live from the services' discovery announcements; verifies {@code Authorization: Bearer}
 * tokens at the edge and makes the call for that person; and bounds everything a client sends (body 413,
 * headers 431, idle and slow connections, per-address and per-user rate limits 429). HTTP/1.1 with
 * keep-alive and HTTP/2 (h2c in the clear; h2 under TLS, {@code SKIFF_GATEWAY_TLS_KEYSTORE}), on Jetty 12 with the
 * kernel pages' limits ({@link LimitedJetty}).
 *
 * <p>It is a Skiff service itself ({@value GatewayServer#NAME}: announced, monitored, with healthchecks
 * {@code http}, {@code routes}, {@code token-keys}; {@link #health()}).
 *
 * <p>Started with {@code skiff gateway} (port {@value GatewayOptions#DEFAULT_PORT}, {@code SKIFF_GATEWAY_PORT}).
 * Thread-safe; closing it stops being ready and announces that it stops, serves on for
 * {@link GatewayOptions#stopGrace()}, then drains the requests in progress (up to {@link GatewayOptions#drain()}),
 * then stops.
 */
public final class Gateway implements AutoCloseable {
  /** The deadline of a call whose endpoint declared none and whose request named none. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);
  /** The longest deadline a request may ask for ({@value GatewayHandler#TIMEOUT_HEADER}). */
  public static final Duration MAX_TIMEOUT = Duration.ofSeconds(60);

  private static final Logger log = LoggerFactory.getLogger(Gateway.class);
  /**
   * What the gateway's connector lets through of the path ambiguities Jetty refuses by default: an encoded
   * {@code %} ({@code %25}), {@code /} ({@code %2F}) and {@code \} ({@code %5C}), which gRPC transcoding
   * allows in a path variable. Safe here: nothing maps a path to files, and {@link PathTemplate} matches the
   * raw path split at each {@code /}, decoding each segment once, so an encoded separator is never one.
   * Everything else stays refused (400 with Jetty's reason): dot segments ({@code %2e%2e}), empty segments,
   * invalid UTF-8, UTF-16 {@code %u} encodings, raw illegal characters.
   */
  static final UriCompliance URI_COMPLIANCE = UriCompliance.DEFAULT.with("SKIFF_GATEWAY",
      UriCompliance.Violation.AMBIGUOUS_PATH_ENCODING, UriCompliance.Violation.AMBIGUOUS_PATH_SEPARATOR,
      UriCompliance.Violation.SUSPICIOUS_PATH_CHARACTERS);

  private final LimitedJetty jetty;
  private final Registry registry;
  private final List<Client> clients;
  private final AutoCloseable ownedVerifier;
  private final MetricRegistry metrics;
  private final RouteTable routes;
  private final Server server;
  private final Readiness readiness;
  private final Tracing tracing;
  private final Duration stopGrace;
  private final AtomicBoolean closed = new AtomicBoolean();

  private Gateway(LimitedJetty jetty, Registry registry, List<Client> clients, AutoCloseable ownedVerifier, MetricRegistry metrics,
      RouteTable routes, Server server, Readiness readiness, Tracing tracing, Duration stopGrace) {
    this.tracing = tracing;
    this.stopGrace = stopGrace;
    this.readiness = readiness;
    this.jetty = jetty;
    this.registry = registry;
    this.clients = clients;
    this.ownedVerifier = ownedVerifier;
    this.metrics = metrics;
    this.routes = routes;
    this.server = server;
  }

  /**
   * Starts a gateway that verifies people's tokens with a {@link LoginTokenVerifier} of its own (the login
   * service's keys and revocations, as every server checks them).
   *
   * @param transport the broker connection (not owned)
   * @param identities which broker user may act as which service (who may announce what)
   * @param options the port and limits
   * @return the running gateway
   * @throws CannotListen naming the address when the port cannot be bound (in use)
   * @throws IllegalStateException when it cannot start for another reason
   */
  public static Gateway start(Transport transport, ServiceIdentities identities, GatewayOptions options) {
    return start(transport, identities, options, null);
  }

  /**
   * Starts a gateway.
   *
   * @param transport the broker connection (not owned)
   * @param identities which broker user may act as which service (who may announce what)
   * @param options the port and limits
   * @param verifier checks people's tokens (not owned), or null for a {@link LoginTokenVerifier} of its own
   * @return the running gateway
   * @throws CannotListen naming the address when the port cannot be bound (in use)
   * @throws IllegalStateException when it cannot start for another reason
   */
  public static Gateway start(Transport transport, ServiceIdentities identities, GatewayOptions options, TokenVerifier verifier) {
    Objects.requireNonNull(transport, "transport");
    Objects.requireNonNull(options, "options");
    MetricRegistry metrics = new MetricRegistry();
    // the calls' client spans: a request's traceparent names the HTTP caller's span, whose child each call is
    // (SKIFF_TRACE_SAMPLE_RATE and the other SKIFF_TRACE_* variables, as for every service)
    Tracing tracing = Tracing.builder(GatewayServer.NAME).transport(transport).settings(TraceSettings.fromEnvironment()).build().start();
    Client client = Client.builder().transport(transport).name(GatewayServer.NAME).identities(identities).metrics(metrics)
        .defaultTimeout(DEFAULT_TIMEOUT).observer(tracing).build();
    // the sign-in routes' client (SignInRoutes): no retries, no breaker that locked names could open
    Client signInClient = SignInClients.create(transport, GatewayServer.NAME, identities, metrics, DEFAULT_TIMEOUT);
    LoginTokenVerifier own = null;
    if (verifier == null) {
      own = LoginTokenVerifier.builder().transport(transport).source(new LoginServiceSource(client, Duration.ofSeconds(5)))
          .identities(identities).metrics(metrics).build();
      verifier = own;
    }
    Registry registry = null;
    LimitedJetty jetty = null;
    Server server = null;
    try {
      registry = new Registry(Clock.systemUTC()).start(transport, new Guard(identities, metrics));
      RouteTable routes = new RouteTable(metrics).follow(registry);
      // HTTP/2 as h2c in the clear, or as h2 chosen by ALPN under TLS (what browsers speak)
      Function<HttpConfiguration, ConnectionFactory> http2 = options.http().tls().isPresent()
          ? HTTP2ServerConnectionFactory::new
          : HTTP2CServerConnectionFactory::new;
      jetty = LimitedJetty.create("skiff-gateway", options.http(), "0.0.0.0", options.port(), http2);
      for (ConnectionFactory factory : jetty.connector().getConnectionFactories()) {
        if (factory instanceof HttpConfiguration.ConnectionFactory http) {
          http.getHttpConfiguration().setUriCompliance(URI_COMPLIANCE);
        }
      }
      Readiness readiness = new Readiness();
      GatewayHandler handler = new GatewayHandler(routes, client, signInClient, verifier, options, metrics, readiness);
      GracefulHandler graceful = new GracefulHandler(handler);
      jetty.handler(graceful);
      jetty.server().setErrorHandler(handler.errorHandler());
      jetty.server().setStopTimeout(options.drain().toMillis());
      jetty.start();
      server = GatewayServer.build(transport, identities, verifier, metrics, jetty, registry, routes, handler::openApi).start();
      readiness.follow(server.health());
      Gateway gateway = new Gateway(jetty, registry, List.of(client, signInClient), own, metrics, routes, server, readiness, tracing,
          options.stopGrace());
      log.info("gateway listening at {}{}", gateway.address(), options.http().tls().map(t -> ", " + t).orElse(""));
      return gateway;
    } catch (Exception e) {
      if (server != null) {
        server.close();
      }
      if (jetty != null) {
        try {
          jetty.server().stop();
        } catch (Exception ignored) {
          // already failing
        }
      }
      if (registry != null) {
        registry.close();
      }
      if (own != null) {
        own.close();
      }
      signInClient.close();
      client.close();
      tracing.close();
      if (e instanceof CannotListen c) {
        throw c;
      }
      throw new IllegalStateException("cannot start the gateway on port " + options.port() + ": " + e.getMessage(), e);
    }
  }

  /** @return the port it listens on */
  public int port() {
    return jetty.connector().getLocalPort();
  }

  /**
   * @return where and how it listens, for people: {@code https://localhost:PORT/ (HTTP/2 and HTTP/1.1 over TLS)}
   *     or {@code http://localhost:PORT/ (HTTP/1.1 and h2c)}
   */
  public String address() {
    boolean tls = jetty.connector().getConnectionFactory(SslConnectionFactory.class) != null;
    return (tls ? "https" : "http") + "://localhost:" + port() + "/ (" + (tls ? "HTTP/2 and HTTP/1.1 over TLS" : "HTTP/1.1 and h2c") + ")";
  }

  /** @return its metrics ({@code skiff.gateway.*}, its client's, its verifier's) */
  public MetricRegistry metrics() {
    return metrics;
  }

  /** @return how many routes it serves now */
  public int routeCount() {
    return routes.all().size();
  }

  /**
   * Its healthchecks ({@code http}, {@code routes}, {@code token-keys}), as reported to monitoring.
   *
   * @return them: {@link HealthChecks#runAll()} runs them now, {@link HealthChecks#results()} gives the latest
   */
  public HealthChecks health() {
    return server.health();
  }

  /** @return its instance of the {@value GatewayServer#NAME} service (announced to discovery) */
  public String instanceId() {
    return server.instanceId();
  }

  /**
   * Stops being ready ({@code /readyz} answers 503) and announces that it stops (discovery forgets it at
   * once, so load balancers that follow either turn away); goes on accepting connections and serving every
   * request for the stop grace ({@link GatewayOptions#stopGrace()}: a load balancer that polls {@code /readyz}
   * sees the 503 and turns away meanwhile); then stops accepting and drains the HTTP requests in progress (up
   * to the drain time), stops listening and closes what it owns. Idempotent; blocks until it has stopped.
   */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    readiness.stopping(); // /readyz answers 503 from now on, while everything else is still served
    server.close();
    if (!stopGrace.isZero()) {
      try {
        Thread.sleep(stopGrace.toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt(); // stop now: drain and close
      }
    }
    try {
      // Jetty's graceful stop: the connector stops accepting, GracefulHandler waits for the requests in
      // progress (up to the server's stop timeout, the drain), then the connections close
      jetty.server().stop();
    } catch (Exception e) {
      log.debug("stopping the gateway: {}", e.toString());
    }
    registry.close();
    if (ownedVerifier != null) {
      try {
        ownedVerifier.close();
      } catch (Exception e) {
        log.debug("closing the verifier: {}", e.toString());
      }
    }
    clients.forEach(Client::close);
    tracing.close();
  }
}
