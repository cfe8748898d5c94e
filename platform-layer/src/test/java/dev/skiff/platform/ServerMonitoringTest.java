package dev.skiff.platform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.skiff.platform.client.Client;
import dev.skiff.platform.health.HealthCheck;
import dev.skiff.platform.health.SwitchableCheck;
import dev.skiff.platform.metrics.MonitoringOptions;
import dev.skiff.platform.metrics.RpcMetrics;
import dev.skiff.platform.pubsub.PubSub;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.server.ServerBuilder;
import dev.skiff.platform.testproto.EchoRequest;
import dev.skiff.platform.testproto.EchoResponse;
import dev.skiff.platform.transport.Transport;
import dev.skiff.platform.transport.inprocess.InProcessTransport;
import dev.skiff.proto.v1.CheckResult;
import dev.skiff.proto.v1.EndpointStats;
import dev.skiff.proto.v1.HealthReport;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Built-in health and metrics of a server, over the in-process transport. */
class ServerMonitoringTest {
  private final InProcessTransport transport = InProcessTransport.create();
  private Server server;
  private Client client;

  @AfterEach
  void tearDown() {
    if (client != null) {
      client.close();
    }
    if (server != null) {
      server.close();
    }
    transport.close();
  }

  static EchoResponse echo(EchoRequest r) throws InterruptedException {
    if (r.getSleepMs() > 0) {
      Thread.sleep(r.getSleepMs());
    }
    if (!r.getFail().isEmpty()) {
      throw new SkiffException(ErrorCode.valueOf(r.getFail()), "asked to fail");
    }
    return EchoResponse.newBuilder().setText(r.getText()).build();
  }

  private Server start(MonitoringOptions options, Endpoint<EchoRequest, EchoResponse> endpoint, HealthCheck custom) {
    return start(options, endpoint, custom, java.time.Clock.systemUTC());
  }

  private Server start(MonitoringOptions options, Endpoint<EchoRequest, EchoResponse> endpoint, HealthCheck custom,
      java.time.Clock clock) {
    ServerBuilder b = Server.builder("test.monitored").transport(transport).monitoring(options).endpoint(endpoint).clock(clock);
    if (custom != null) {
      b.healthCheck("custom", custom);
    }
    server = b.build().start();
    // the monitor's first round of checks runs on its own thread as the server starts; an endpoint's check
    // counts the requests since its last run, so a test that counts must not race that first round
    await().atMost(Duration.ofSeconds(5)).until(() -> server.health().results().stream().allMatch(s -> s.result() != null));
    client = Client.builder().transport(transport).defaultTimeout(Duration.ofSeconds(5)).build();
    return server;
  }

  private static Endpoint<EchoRequest, EchoResponse> echoEndpoint() {
    return Endpoint.of("echo", EchoRequest.class, EchoResponse.class, (req, ctx) -> {
      try {
        return echo(req);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new SkiffException(ErrorCode.INTERNAL, "interrupted");
      }
    });
  }

  /** Calls echo: a request asked to fail must fail with the code it asked for, any other must succeed. */
  private void call(EchoRequest r) {
    if (r.getFail().isEmpty()) {
      assertThat(client.call("test.monitored", "echo", r, EchoResponse.class).getText()).isEqualTo(r.getText());
    } else {
      assertThatThrownBy(() -> client.call("test.monitored", "echo", r, EchoResponse.class))
          .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.valueOf(r.getFail())));
    }
  }

  /** The server records a request just after it answers: wait until it has recorded {@code n}. */
  private void awaitRecorded(long n) {
    await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
      assertThat(server.metrics().meter("skiff.server.endpoint.echo.requests").getCount()).isEqualTo(n);
      assertThat(server.metrics().timer("skiff.server.endpoint.echo").getCount()).isEqualTo(n);
    });
  }

  @Test
  void everyServerHasBuiltInChecksAndPerEndpointMetricsByErrorCode() {
    start(MonitoringOptions.defaults(), echoEndpoint(), null);
    for (int i = 0; i < 5; i++) {
      call(EchoRequest.newBuilder().setText("hi").build());
    }
    call(EchoRequest.newBuilder().setFail("CONFLICT").build());
    call(EchoRequest.newBuilder().setFail("INTERNAL").build());
    call(EchoRequest.newBuilder().setFail("INTERNAL").build());
    awaitRecorded(8);
    assertThat(server.health().names()).containsExactly("broker", "capacity", "configuration", "dead-letters", "endpoint.echo", "rotation");
    Map<String, HealthCheck.Result> results = server.health().runAll();
    assertThat(results).allSatisfy((n, r) -> assertThat(r.healthy()).as(n + ": " + r.message()).isTrue());
    assertThat(results.get("configuration").message()).contains("concurrency 16").contains("metrics on");
    assertThat(results.get("capacity").message()).contains("/16 handlers busy");

    assertThat(server.metrics().meter("skiff.server.endpoint.echo.requests").getCount()).isEqualTo(8);
    assertThat(server.metrics().meter("skiff.server.endpoint.echo.errors").getCount()).isEqualTo(3);
    assertThat(server.metrics().counter("skiff.server.endpoint.echo.errors.INTERNAL").getCount()).isEqualTo(2);
    assertThat(server.metrics().counter("skiff.server.endpoint.echo.errors.CONFLICT").getCount()).isEqualTo(1);
    assertThat(server.metrics().timer("skiff.server.endpoint.echo").getCount()).isEqualTo(8);

    HealthReport report = server.monitor().report();
    assertThat(report.getService()).isEqualTo("test.monitored");
    assertThat(report.getHealthy()).isTrue();
    EndpointStats echo = report.getEndpointsList().stream().filter(e -> e.getName().equals("echo")).findFirst().orElseThrow();
    assertThat(echo.getSide()).isEqualTo("server");
    assertThat(echo.getRequests()).isEqualTo(8);
    assertThat(echo.getErrors()).isEqualTo(3);
    assertThat(echo.getErrorsByCodeMap()).containsEntry("INTERNAL", 2L).containsEntry("CONFLICT", 1L);
    assertThat(report.getGaugesMap()).containsKeys("skiff.server.in-flight", "skiff.server.dropped-expired", "skiff.client.late-replies");
  }

  @Test
  void clientSideCallsAreTimedPerTargetThroughTheObserverHook() {
    RpcMetrics rpc = new RpcMetrics(new com.codahale.metrics.MetricRegistry(), Set.of());
    start(MonitoringOptions.defaults(), echoEndpoint(), null);
    try (Client c = Client.builder().transport(transport).observer(rpc).build()) {
      c.call("test.monitored", "echo", EchoRequest.newBuilder().setText("x").build(), EchoResponse.class);
      assertThatThrownBy(() -> c.call("test.monitored", "echo", EchoRequest.newBuilder().setFail("CONFLICT").build(), EchoResponse.class))
          .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.CONFLICT));
    }
    RpcMetrics.Side side = rpc.clientCalls().get("test.monitored/echo");
    assertThat(side.count()).isEqualTo(2);
    assertThat(side.errors(ErrorCode.CONFLICT)).isEqualTo(1);
    assertThat(side.timer().getSnapshot().getMax()).isPositive();
  }

  @Test
  void anEndpointMissingItsSlaOrFailingTooOftenTurnsItsCheckUnhealthy() {
    start(MonitoringOptions.defaults(),
        echoEndpoint().withSla(Duration.ofMillis(200), Duration.ofMillis(300)), null);
    HealthCheck.Result idle = server.health().run("endpoint.echo");
    assertThat(idle.healthy()).as(idle.message()).isTrue();
    assertThat(idle.message()).isEqualTo("no requests yet");
    // handlers that sleep longer than the SLA miss it however fast or loaded the machine is
    for (int i = 0; i < 3; i++) {
      call(EchoRequest.newBuilder().setSleepMs(350).build());
    }
    awaitRecorded(3);
    HealthCheck.Result slow = server.health().run("endpoint.echo");
    assertThat(slow.healthy()).isFalse();
    assertThat(slow.message()).contains("p95").contains("over its SLA of 300.0 ms");

    server.close();
    start(MonitoringOptions.defaults(), echoEndpoint(), null);
    for (int i = 0; i < 10; i++) {
      call(EchoRequest.newBuilder().setFail(i < 3 ? "INTERNAL" : "").build());
    }
    awaitRecorded(10);
    HealthCheck.Result failing = server.health().run("endpoint.echo");
    assertThat(failing.healthy()).as(failing.message()).isFalse();
    assertThat(failing.message()).contains("3 of the last 10 requests failed (30%, limit 5%)");
    for (int i = 0; i < 10; i++) {
      call(EchoRequest.newBuilder().setFail("NOT_FOUND").build());
    }
    awaitRecorded(20);
    assertThat(server.health().run("endpoint.echo").healthy()).as("caller errors are not the service's fault").isTrue();
  }

  /** The system's clock, moved on by hand. */
  private static final class MovedClock extends java.time.Clock {
    final java.util.concurrent.atomic.AtomicLong aheadMillis = new java.util.concurrent.atomic.AtomicLong();

    @Override
    public java.time.ZoneId getZone() {
      return java.time.ZoneOffset.UTC;
    }

    @Override
    public java.time.Clock withZone(java.time.ZoneId zone) {
      return this;
    }

    @Override
    public java.time.Instant instant() {
      return java.time.Instant.now().plusMillis(aheadMillis.get());
    }
  }

  @Test
  void anEndpointIdleForFiveMinutesIsNoLongerJudgedByItsLastBusyMinutes() {
    MovedClock clock = new MovedClock();
    start(MonitoringOptions.defaults(), echoEndpoint().withSla(Duration.ofMillis(200), Duration.ofMillis(300)), null, clock);
    for (int i = 0; i < 3; i++) {
      call(EchoRequest.newBuilder().setSleepMs(350).build());
    }
    awaitRecorded(3);
    assertThat(server.health().run("endpoint.echo").healthy()).isFalse();
    clock.aheadMillis.set(Duration.ofMinutes(4).toMillis());
    assertThat(server.health().run("endpoint.echo").healthy()).as("four minutes without a request: still its figures").isFalse();
    clock.aheadMillis.set(Duration.ofMinutes(5).plusSeconds(1).toMillis());
    HealthCheck.Result idle = server.health().run("endpoint.echo");
    assertThat(idle.healthy()).as(idle.message()).isTrue();
    assertThat(idle.message()).startsWith("no requests for 5 min (before: mean ").contains("p95");
  }

  @Test
  void healthIsPublishedPeriodicallyAndACustomCheckFailureShows() {
    SwitchableCheck custom = new SwitchableCheck(Duration.ofMillis(100), "warm");
    Map<String, HealthReport> seen = new ConcurrentHashMap<>();
    Transport.Subscription sub = new PubSub(transport).subscribe("health.#", null, HealthReport.class,
        (topic, r) -> seen.put(topic, r));
    try {
      start(MonitoringOptions.defaults().withPublishInterval(Duration.ofMillis(200)), echoEndpoint(), custom);
      await().atMost(Duration.ofSeconds(5)).until(() -> seen.containsKey("health.test.monitored")
          && seen.get("health.test.monitored").getChecksList().stream().anyMatch(c -> c.getName().equals("custom") && c.getCheckedEpochMillis() > 0));
      assertThat(seen.get("health.test.monitored").getHealthy()).isTrue();
      custom.fail("the flux capacitor is cold");
      await().atMost(Duration.ofSeconds(5)).until(() -> !seen.get("health.test.monitored").getHealthy());
      CheckResult c = seen.get("health.test.monitored").getChecksList().stream()
          .filter(x -> x.getName().equals("custom")).findFirst().orElseThrow();
      assertThat(c.getMessage()).isEqualTo("the flux capacitor is cold");
      assertThat(c.getError()).startsWith("java.lang.IllegalStateException");
      assertThat(c.getPriority()).isEqualTo(dev.skiff.proto.v1.CheckPriority.PAGE);
    } finally {
      sub.close();
    }
  }

  @Test
  void metricsOffMeansNoObserverAndNoEndpointMetrics() {
    start(MonitoringOptions.defaults().withMetrics(false), echoEndpoint(), null);
    call(EchoRequest.newBuilder().setText("hi").build());
    await().atMost(Duration.ofSeconds(5)).until(() -> server.metrics().timer("skiff.server.endpoint.echo").getCount() == 1);
    assertThat(server.metrics().getMeters()).doesNotContainKey("skiff.server.endpoint.echo.requests");
    assertThat(server.health().names()).containsExactly("broker", "capacity", "configuration", "dead-letters");
    assertThat(server.metrics().getGauges()).as("no outlier ejection without metrics").doesNotContainKey("skiff.server.rotation.in");
    assertThat(server.monitor().report().getEndpointsList()).isEmpty();
    assertThat(MonitoringOptions.fromEnvironment(Map.of("SKIFF_METRICS", "off")).metricsEnabled()).isFalse();
  }
}
