package dev.skiff.gateway;

import static org.awaitility.Awaitility.await;

import dev.skiff.gateway.testproto.Echoed;
import dev.skiff.gateway.testproto.Thing;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.internal.Ids;
import dev.skiff.platform.security.Access;
import dev.skiff.platform.security.ServiceIdentities;
import dev.skiff.platform.security.TokenVerifier;
import dev.skiff.platform.security.UserIdentity;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.Handler;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.transport.amqp.AmqpOptions;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/**
 * A gateway and the tests' {@code Things} service (gateway_test.proto) on the real broker, with HTTP
 * helpers. The service's endpoints echo the request they got and the person who called; {@code fail}
 * fails with the error code its {@code id} names ({@code SLOW}: answers after 2 s). Closed by the test.
 */
public final class GatewayFixture implements AutoCloseable {
  /** The service's name: one per fixture, so test classes never share routes. */
  public final String service = "gwtest.things" + Ids.random32().substring(0, 6);
  public final AmqpTransport transport;
  public final Gateway gateway;
  public Server server;
  public final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(2)).build();

  /**
   * @param amqpUri the broker
   * @param options the gateway's options (its port is set to 0; a stop grace left at its default, made for a load
   *     balancer, is set to none, so that closing a test's gateway does not wait for one: set another to have one)
   * @param verifier checks tokens, or null for a login-service verifier
   */
  public GatewayFixture(String amqpUri, GatewayOptions options, TokenVerifier verifier) {
    transport = AmqpTransport.connect(AmqpOptions.of(amqpUri).withServiceQueueExpiry(Duration.ofMinutes(2)));
    try {
      GatewayOptions o = options.stopGrace().equals(GatewayOptions.DEFAULT_STOP_GRACE) ? options.withStopGrace(Duration.ZERO) : options;
      gateway = Gateway.start(transport, ServiceIdentities.defaults(), o.withPort(0), verifier);
    } catch (RuntimeException e) {
      transport.close();
      throw e;
    }
  }

  /** Starts the Things service and waits until the gateway serves its routes. */
  public GatewayFixture startService() {
    server = things(service, transport).start();
    await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20)).until(() -> gateway.routeCount() >= 6);
    return this;
  }

  /** @return the Things service, not started */
  public static Server things(String name, AmqpTransport transport) {
    Handler<Thing, Echoed> echo = (req, ctx) -> Echoed.newBuilder().setGot(req)
        .setUser(ctx.caller().user().map(UserIdentity::user).orElse("")).build();
    return Server.builder(name).transport(transport).identities(ServiceIdentities.defaults())
        .endpoint(Endpoint.of("get", Thing.class, Echoed.class, echo).withAccess(Access.anyone()))
        .endpoint(Endpoint.of("create", Thing.class, Echoed.class, echo).withAccess(Access.anyone()))
        .endpoint(Endpoint.of("move", Thing.class, Echoed.class, echo).withAccess(Access.anyone()))
        .endpoint(Endpoint.of("in_city", Thing.class, Echoed.class, echo).withAccess(Access.anyone()))
        .endpoint(Endpoint.of("whoami", Thing.class, Echoed.class, echo).withAccess(Access.signedIn()))
        .endpoint(Endpoint.of("hidden", Thing.class, Echoed.class, echo).withAccess(Access.anyone()))
        .endpoint(Endpoint.of("limited", Thing.class, Echoed.class, echo).withAccess(Access.anyone()))
        .endpoint(Endpoint.of("touch", Thing.class, Echoed.class, echo).withAccess(Access.anyone()))
        .endpoint(Endpoint.of("tag", Thing.class, Echoed.class, echo).withAccess(Access.anyone()))
        .endpoint(Endpoint.of("recount", Thing.class, Echoed.class, echo).withAccess(Access.anyone()))
        .endpoint(Endpoint.of("parts", Thing.class, Thing.class, (req, ctx) -> req).withAccess(Access.anyone()))
        .endpoint(Endpoint.of("fail", Thing.class, Echoed.class, (req, ctx) -> {
          if (req.getId().equals("SLOW")) {
            try {
              Thread.sleep(2000);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
            return Echoed.getDefaultInstance();
          }
          throw new SkiffException(ErrorCode.valueOf(req.getId()), "failing as asked");
        }).withAccess(Access.anyone()))
        .build();
  }

  /** @return the gateway's base URI */
  public String base() {
    return "http://127.0.0.1:" + gateway.port();
  }

  /** @return a request to a path of the gateway */
  public HttpRequest.Builder request(String path) {
    return HttpRequest.newBuilder(URI.create(base() + path)).timeout(Duration.ofSeconds(10));
  }

  /** @return the response to GET path */
  public HttpResponse<String> get(String path) throws Exception {
    return send(request(path).GET());
  }

  /** @return the response to a request with a JSON body */
  public HttpResponse<String> send(String method, String path, String json) throws Exception {
    return send(request(path).header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(json)));
  }

  /** @return the response */
  public HttpResponse<String> send(HttpRequest.Builder b) throws Exception {
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Override
  public void close() {
    if (server != null) {
      server.close();
    }
    gateway.close();
    transport.close();
  }
}
