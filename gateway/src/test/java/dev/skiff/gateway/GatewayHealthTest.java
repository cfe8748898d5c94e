package dev.skiff.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.codahale.metrics.MetricRegistry;
import dev.skiff.kernel.Guard;
import dev.skiff.kernel.Kernel;
import dev.skiff.kernel.WebServer;
import dev.skiff.kernel.discovery.DiscoveryService;
import dev.skiff.kernel.discovery.Registry;
import dev.skiff.kernel.login.LoginService;
import dev.skiff.kernel.monitoring.MonitoringService;
import dev.skiff.platform.client.CallScope;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.config.Settings;
import dev.skiff.platform.security.ServiceIdentities;
import dev.skiff.proto.v1.CheckResult;
import dev.skiff.proto.v1.HealthOverview;
import dev.skiff.proto.v1.HealthQuery;
import dev.skiff.proto.v1.InstanceStatus;
import dev.skiff.proto.v1.ListServicesRequest;
import dev.skiff.proto.v1.ListServicesResponse;
import dev.skiff.proto.v1.LoginRequest;
import dev.skiff.proto.v1.Session;
import dev.skiff.testing.RabbitMqExtension;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The gateway is a Skiff service ({@code skiff.gateway}): announced to discovery, reporting to monitoring
 * with its checks {@code http}, {@code routes}, {@code token-keys} (which fails until the login service's
 * keys are loaded); on close it announces that it stops before it drains the HTTP requests in progress, and
 * for its stop grace goes on serving, {@code /readyz} answering 503, before it drains and closes its port.
 */
class GatewayHealthTest {
  @RegisterExtension static final RabbitMqExtension broker = RabbitMqExtension.create();
  private static final String PASSWORD = "gateway-health-pass";

  @Test
  void itIsAnnouncedAndMonitoredWithItsChecks() throws Exception {
    try (GatewayFixture f = new GatewayFixture(broker.amqpUri(), GatewayOptions.defaults(), null).startService()) {
      assertThat(f.get("/livez").statusCode()).isEqualTo(200);
      await().atMost(Duration.ofSeconds(10)).until(() -> f.gateway.health().run("routes").healthy());
      // only the services that have routes: the Things service, not the gateway's own skiff.gateway
      assertThat(f.gateway.health().run("routes").message()).isEqualTo(f.gateway.routeCount() + " routes from 1 service");
      HttpResponse<String> ready = await().atMost(Duration.ofSeconds(10)).until(() -> f.get("/readyz"), r -> r.statusCode() == 200);
      assertThat(ready.body()).isEqualTo("{\"status\":\"ready\"}");
      assertThat(f.gateway.health().run("token-keys").healthy()).as("ready without the login service").isFalse();
      assertThat(f.gateway.health().run("http").healthy()).isTrue();
      assertThat(f.gateway.health().run("http").message()).contains(Integer.toString(f.gateway.port()));
      assertThat(f.gateway.health().run("token-keys").healthy()).as("no login service yet").isFalse();
      Kernel kernel = Kernel.start(f.transport, Settings.fromEnvironment(Map.of()), ServiceIdentities.defaults(),
          List.of(new LoginService(Map.of("SKIFF_BOOTSTRAP_ADMIN_PASSWORD", PASSWORD)), new DiscoveryService(), new MonitoringService()),
          0, WebServer.Options.defaults());
      try (Client client = Client.builder().transport(f.transport).build()) {
        await().atMost(Duration.ofSeconds(30)).until(() -> f.gateway.health().run("token-keys").healthy());
        String token = client.call(LoginService.SERVICE, "login", LoginRequest.newBuilder().setUser("admin").setPassword(PASSWORD).build(),
            Session.class).getToken();
        Client admin = client.withScope(CallScope.forUser(token));
        await().atMost(Duration.ofSeconds(15)).ignoreExceptions().until(() -> admin.call(DiscoveryService.SERVICE, "list",
                ListServicesRequest.newBuilder().setService(GatewayServer.NAME).build(), ListServicesResponse.class).getInstancesList(),
            l -> l.stream().anyMatch(i -> i.getAnnouncement().getInstance().equals(f.gateway.instanceId())));
        InstanceStatus reported = await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() -> admin.call(MonitoringService.SERVICE,
                MonitoringService.ENDPOINT, HealthQuery.newBuilder().setService(GatewayServer.NAME).build(), HealthOverview.class)
            .getServices(0).getInstancesList().stream().filter(i -> i.getLatest().getInstance().equals(f.gateway.instanceId()))
            .findFirst().orElseThrow(), i -> i.getLatest().getHealthy());
        assertThat(reported.getLatest().getChecksList().stream().map(CheckResult::getName).collect(Collectors.toSet()))
            .contains("http", "tls-certificate", "routes", "token-keys");
        assertThat(reported.getLatest().getGaugesMap()).isNotEmpty();
      } finally {
        kernel.close();
      }
    }
  }

  @Test
  void onCloseItAnnouncesItsStopFirstThenDrainsTheRequestsInProgress() throws Exception {
    MetricRegistry m = new MetricRegistry();
    Registry discovery = new Registry(Clock.systemUTC()).start(broker.transport(), new Guard(ServiceIdentities.defaults(), m));
    try (GatewayFixture f = new GatewayFixture(broker.amqpUri(), GatewayOptions.defaults(), null).startService()) {
      String instance = f.gateway.instanceId();
      await().atMost(Duration.ofSeconds(10))
          .until(() -> discovery.list(GatewayServer.NAME).stream().anyMatch(i -> i.getAnnouncement().getInstance().equals(instance)));
      long requestsBefore = f.gateway.metrics().meter("skiff.gateway.requests").getCount();
      long[] answeredAt = new long[1];
      CompletableFuture<HttpResponse<String>> slow = f.http.sendAsync(f.request("/v1/fail/SLOW").header("X-Skiff-Timeout", "10s").GET().build(),
          HttpResponse.BodyHandlers.ofString()).whenComplete((r, e) -> answeredAt[0] = System.nanoTime());
      await().atMost(Duration.ofSeconds(5)).until(() -> f.gateway.metrics().meter("skiff.gateway.requests").getCount() > requestsBefore);
      java.net.URI readyz = java.net.URI.create(f.base() + "/readyz"); // the port, read while the gateway listens
      CompletableFuture<Void> closing = CompletableFuture.runAsync(f.gateway::close);
      await().atMost(Duration.ofSeconds(3)).pollInterval(Duration.ofMillis(10))
          .until(() -> discovery.list(GatewayServer.NAME).stream().noneMatch(i -> i.getAnnouncement().getInstance().equals(instance)));
      long forgottenAt = System.nanoTime();
      // a load balancer's probe while it drains: 503 on a connection still open, refused on a new one
      // (the port stops accepting before the requests in progress drain); never "ready"
      try {
        HttpResponse<String> probe = f.http.send(java.net.http.HttpRequest.newBuilder(readyz).timeout(Duration.ofSeconds(5)).build(),
            HttpResponse.BodyHandlers.ofString());
        assertThat(probe.statusCode()).as(probe.body()).isEqualTo(503);
      } catch (java.io.IOException refused) {
        // not accepting, or a kept connection closed: as good as 503 to a load balancer
      }
      HttpResponse<String> r = slow.get(15, java.util.concurrent.TimeUnit.SECONDS);
      assertThat(r.statusCode()).as("drained, not cut: " + r.body()).isEqualTo(200);
      assertThat(forgottenAt).as("discovery forgot it (STOPPING) before the request in progress was answered").isLessThan(answeredAt[0]);
      closing.get(15, java.util.concurrent.TimeUnit.SECONDS);
      assertThat(f.gateway.health().run("http").healthy()).isFalse();
    } finally {
      discovery.close();
    }
  }

  @Test
  void onCloseItServesNotReadyForTheGraceThenDrainsThenStopsListening() throws Exception {
    Duration grace = Duration.ofMillis(1500);
    try (GatewayFixture f = new GatewayFixture(broker.amqpUri(), GatewayOptions.defaults().withStopGrace(grace), null).startService()) {
      int port = f.gateway.port();
      await().atMost(Duration.ofSeconds(10)).until(() -> rawGet(port, "/readyz").startsWith("HTTP/1.1 200"));
      long requestsBefore = f.gateway.metrics().meter("skiff.gateway.requests").getCount();
      CompletableFuture<HttpResponse<String>> slow = f.http.sendAsync(f.request("/v1/fail/SLOW").header("X-Skiff-Timeout", "10s").GET().build(),
          HttpResponse.BodyHandlers.ofString());
      await().atMost(Duration.ofSeconds(5)).until(() -> f.gateway.metrics().meter("skiff.gateway.requests").getCount() > requestsBefore);
      CompletableFuture<Void> closing = CompletableFuture.runAsync(f.gateway::close);
      // during the grace: new connections are accepted, /readyz says 503 (stopping), other requests are served
      String probe = await().atMost(Duration.ofSeconds(1)).pollInterval(Duration.ofMillis(10))
          .until(() -> rawGet(port, "/readyz"), a -> a.startsWith("HTTP/1.1 503"));
      assertThat(probe).contains("\"stopping\"");
      String served = rawGet(port, "/v1/things/during-grace");
      assertThat(served).startsWith("HTTP/1.1 200").contains("\"id\":\"during-grace\"");
      assertThat(closing).as("still in its grace").isNotDone();
      HttpResponse<String> r = slow.get(15, java.util.concurrent.TimeUnit.SECONDS);
      assertThat(r.statusCode()).as("drained, not cut: " + r.body()).isEqualTo(200);
      closing.get(15, java.util.concurrent.TimeUnit.SECONDS);
      assertThatThrownBy(() -> rawGet(port, "/livez")).as("the port is closed at the end").isInstanceOf(java.net.ConnectException.class);
    }
  }

  /** @return the whole answer to a GET of the path on a new connection */
  private static String rawGet(int port, String path) throws java.io.IOException {
    try (java.net.Socket s = new java.net.Socket("127.0.0.1", port)) {
      s.setSoTimeout(5000);
      s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
          .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      return new String(s.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    }
  }
}
