package dev.skiff.kernel.trace;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.skiff.kernel.Kernel;
import dev.skiff.kernel.monitoring.MonitoringService;
import dev.skiff.platform.config.Settings;
import dev.skiff.platform.health.HealthCheck;
import dev.skiff.platform.health.Priority;
import dev.skiff.platform.metrics.MonitoringOptions;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.transport.Transport;
import dev.skiff.platform.transport.amqp.AmqpOptions;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import dev.skiff.platform.transport.inprocess.InProcessTransport;
import dev.skiff.proto.v1.HealthQuery;
import dev.skiff.proto.v1.Span;
import dev.skiff.proto.v1.SpanBatch;
import dev.skiff.proto.v1.SpanKind;
import dev.skiff.testing.RabbitMqExtension;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The service graph takes its colours from the monitoring service: real servers publish their health
 * (a failing PAGE check, a failing NOTIFY check, all checks passing), and the trace service's graph shows
 * CRITICAL, WARNING and OK for them, marked as from monitoring, while services monitoring does not know
 * keep their error-rate colour. Once in one kernel with the monitoring service (what {@code skiff
 * kernel} runs), once on its own over RabbitMQ (monitoring elsewhere: it follows the health reports).
 */
class GraphHealthTest {
  @RegisterExtension static final RabbitMqExtension broker = RabbitMqExtension.create();

  private final String prefix = "test.graph" + Integer.toHexString(ThreadLocalRandom.current().nextInt(1 << 24));
  private final List<AutoCloseable> toClose = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (int i = toClose.size() - 1; i >= 0; i--) {
      toClose.get(i).close();
    }
  }

  private String svc(String name) {
    return prefix + "." + name;
  }

  /** A server whose one check, of the given priority, fails while {@code failure} holds a reason. */
  private Server monitored(Transport transport, String name, Priority priority, AtomicReference<String> failure) {
    HealthCheck check = new HealthCheck() {
      @Override
      protected Result check() {
        String why = failure.get();
        return why == null ? Result.healthy("fine") : Result.unhealthy(why);
      }

      @Override
      public Priority priority() {
        return priority;
      }

      @Override
      public Duration interval() {
        return Duration.ofMillis(100);
      }
    };
    Server s = Server.builder(svc(name)).transport(transport)
        .monitoring(MonitoringOptions.defaults().withPublishInterval(Duration.ofMillis(200)))
        .endpoint(Endpoint.of("ping", HealthQuery.class, HealthQuery.class, (q, ctx) -> q))
        .healthCheck("store", check)
        .build()
        .start();
    toClose.add(s);
    return s;
  }

  /** Spans of {@code requests} requests served by each service, {@code errors} of them failed. */
  private static SpanBatch served(String service, int requests, int errors) {
    SpanBatch.Builder b = SpanBatch.newBuilder().setService(service).setInstance("i1");
    for (int i = 0; i < requests; i++) {
      String trace = String.format("%032x", ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE);
      b.addSpans(Span.newBuilder().setTraceId(trace).setSpanId(String.format("%016x", i + 1)).setKind(SpanKind.SPAN_KIND_SERVER).setService(service)
          .setEndpoint("ping").setStartMicros(1000).setDurationMicros(10).setErrorCode(i < errors ? "INTERNAL" : ""));
    }
    return b.build();
  }

  /** The graph's colours (tracing.md "Reading the service graph": green OK, amber WARNING, red CRITICAL), as the page draws them. */
  static final String GREEN = "#3fa35b";
  static final String AMBER = "#e3a21a";
  static final String RED = "#d64541";

  /** @return the fill of the circle the SVG draws for {@code service} */
  private static String fill(String svg, String service) {
    Matcher m = Pattern.compile("<g class=\"node\" data-service=\"" + Pattern.quote(service)
        + "\"[^>]*><title>[^<]*</title><circle [^>]*fill=\"(#[0-9a-f]{6})\"").matcher(svg);
    assertThat(m.find()).as("a circle for %s in %s", service, svg).isTrue();
    return m.group(1);
  }

  private static ServiceGraph.Node node(TraceService traces, String service) {
    return traces.graph().nodes().stream().filter(n -> n.service().equals(service)).findFirst()
        .orElseThrow(() -> new AssertionError("no node " + service + " in " + traces.graph().nodes()));
  }

  private static String page(Kernel kernel, String path) throws Exception {
    return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + kernel.web().port() + path)).build(),
        HttpResponse.BodyHandlers.ofString()).body();
  }

  /** Three monitored services (critical, warning, ok) and two it does not know (failing, fine), all with traffic. */
  private void trafficAndHealth(Transport transport, TraceService traces, AtomicReference<String> critical) {
    monitored(transport, "crit", Priority.PAGE, critical);
    monitored(transport, "warn", Priority.NOTIFY, new AtomicReference<>("queue is filling up"));
    monitored(transport, "ok", Priority.PAGE, new AtomicReference<>());
    // every service served 100 requests without an error, except 'failing' (20 errors: red by its rate)
    for (String s : List.of("crit", "warn", "ok", "quiet")) {
      traces.accept(served(svc(s), 100, 0));
    }
    traces.accept(served(svc("failing"), 100, 20));
  }

  private void assertColours(TraceService traces) {
    await("the graph takes the monitoring service's view").atMost(Duration.ofSeconds(15)).untilAsserted(() -> {
      assertThat(node(traces, svc("crit"))).as("a failing PAGE check: CRITICAL despite no errors in the spans")
          .extracting(ServiceGraph.Node::health, ServiceGraph.Node::fromMonitoring).containsExactly(HealthSource.Health.CRITICAL, true);
      assertThat(node(traces, svc("warn"))).as("a failing NOTIFY check: WARNING")
          .extracting(ServiceGraph.Node::health, ServiceGraph.Node::fromMonitoring).containsExactly(HealthSource.Health.WARNING, true);
      assertThat(node(traces, svc("ok"))).as("all checks pass: OK")
          .extracting(ServiceGraph.Node::health, ServiceGraph.Node::fromMonitoring).containsExactly(HealthSource.Health.OK, true);
    });
    assertThat(node(traces, svc("failing"))).as("unknown to monitoring: coloured by its 20% error rate")
        .extracting(ServiceGraph.Node::health, ServiceGraph.Node::fromMonitoring).containsExactly(HealthSource.Health.CRITICAL, false);
    assertThat(node(traces, svc("quiet"))).as("unknown to monitoring, no errors")
        .extracting(ServiceGraph.Node::health, ServiceGraph.Node::fromMonitoring).containsExactly(HealthSource.Health.OK, false);
  }

  @Test
  void inOneKernelWithTheMonitoringServiceTheGraphReadsItsStore() throws Exception {
    Transport transport = InProcessTransport.create();
    toClose.add(transport);
    TraceService traces = new TraceService(new InMemoryTraceStore(1000, 100), Clock.systemUTC());
    MonitoringService monitoring = new MonitoringService();
    // the order of skiff kernel: the trace service starts before the monitoring service
    Kernel kernel = Kernel.start(transport, Settings.fromEnvironment(Map.of()), List.of(traces, monitoring), 0);
    toClose.add(kernel);
    assertThat(traces.healthSource()).isInstanceOfSatisfying(MonitoringHealth.class, h -> assertThat(h.local()).isTrue());

    AtomicReference<String> critical = new AtomicReference<>("database is gone");
    trafficAndHealth(transport, traces, critical);
    assertColours(traces);
    assertThat(monitoring.store().service(svc("crit")).orElseThrow().getStatus()).isEqualTo("unhealthy");

    String svg = page(kernel, "/traces/graph");
    assertThat(svg).as("the rendered graph")
        .contains("data-service=\"" + svc("crit") + "\" data-health=\"CRITICAL\"")
        .contains("data-service=\"" + svc("warn") + "\" data-health=\"WARNING\"")
        .contains("data-service=\"" + svc("failing") + "\" data-health=\"CRITICAL\"");
    assertThat(fill(svg, svc("crit"))).as("a failing PAGE check: drawn red").isEqualTo(RED);
    assertThat(fill(svg, svc("warn"))).as("a failing NOTIFY check: drawn amber").isEqualTo(AMBER);
    assertThat(fill(svg, svc("ok"))).as("all checks pass: drawn green").isEqualTo(GREEN);
    assertThat(fill(svg, svc("failing"))).as("unknown to monitoring, 20% errors: drawn red").isEqualTo(RED);
    assertThat(fill(svg, svc("quiet"))).as("unknown to monitoring, no errors: drawn green").isEqualTo(GREEN);
    assertThat(page(kernel, "/traces/api/graph"))
        .contains("{\"service\":\"" + svc("crit") + "\",\"requests\":100,\"errors\":0,\"health\":\"CRITICAL\",\"healthFromMonitoring\":true}");

    critical.set(null);
    await("the check recovers and the colour follows").atMost(Duration.ofSeconds(15))
        .untilAsserted(() -> assertThat(node(traces, svc("crit")).health()).isEqualTo(HealthSource.Health.OK));
  }

  @Test
  void onItsOwnTheTraceServiceFollowsTheHealthReportsOverTheBroker() {
    // the services (and whatever monitoring service) on one connection, the trace service alone on another
    Transport services = broker.transport();
    Transport own = AmqpTransport.connect(AmqpOptions.of(broker.amqpUri()).withServiceQueueExpiry(Duration.ofMinutes(2)));
    toClose.add(own);
    TraceService traces = new TraceService(new InMemoryTraceStore(1000, 100), Clock.systemUTC());
    Kernel kernel = Kernel.start(own, Settings.fromEnvironment(Map.of()), List.of(traces), 0);
    toClose.add(kernel);
    assertThat(traces.healthSource()).isInstanceOfSatisfying(MonitoringHealth.class, h -> assertThat(h.local()).isFalse());

    trafficAndHealth(services, traces, new AtomicReference<>("database is gone"));
    assertColours(traces);

    // an instance that stops reporting goes stale: monitoring no longer vouches for it, the spans decide
    toClose.remove(monitoredServer(svc("crit")));
    await("a stale service falls back to its error rate").atMost(Duration.ofSeconds(15)).untilAsserted(() ->
        assertThat(node(traces, svc("crit"))).extracting(ServiceGraph.Node::health, ServiceGraph.Node::fromMonitoring)
            .containsExactly(HealthSource.Health.OK, false));
  }

  /** Closes the monitored server of that name and returns it. */
  private Server monitoredServer(String name) {
    Server s = toClose.stream().filter(c -> c instanceof Server srv && srv.name().equals(name)).map(Server.class::cast)
        .findFirst().orElseThrow();
    s.close();
    return s;
  }
}
