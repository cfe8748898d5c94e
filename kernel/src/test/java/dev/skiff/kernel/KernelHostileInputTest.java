package dev.skiff.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnknownFieldSet;
import dev.skiff.kernel.binding.BindingService;
import dev.skiff.kernel.discovery.DiscoveryService;
import dev.skiff.kernel.discovery.Registry;
import dev.skiff.kernel.monitoring.HealthStore;
import dev.skiff.kernel.monitoring.MonitoringService;
import dev.skiff.kernel.trace.HealthSource;
import dev.skiff.kernel.trace.InMemoryTraceStore;
import dev.skiff.kernel.trace.TraceService;
import dev.skiff.platform.config.Settings;
import dev.skiff.platform.discovery.Announcer;
import dev.skiff.platform.health.ServiceMonitor;
import dev.skiff.platform.pubsub.PubSub;
import dev.skiff.platform.trace.SpanSink;
import dev.skiff.platform.transport.Transport;
import dev.skiff.proto.v1.CheckPriority;
import dev.skiff.proto.v1.CheckResult;
import dev.skiff.proto.v1.EndpointStats;
import dev.skiff.proto.v1.HealthReport;
import dev.skiff.proto.v1.InstanceAnnouncement;
import dev.skiff.proto.v1.Span;
import dev.skiff.proto.v1.SpanBatch;
import dev.skiff.proto.v1.SpanKind;
import dev.skiff.testing.RabbitMqExtension;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Issue 17, item 9 (docs/security.md, "Hostile input"): what arrives over the broker cannot make the
 * kernel's registries and stores grow without bound, nor make the binding leader storm the broker with
 * channel errors. Each attack is sent as a sender may (in development the {@code guest} user may act as
 * any service) against the real broker, with small bounds; each store stays within its bound, counts
 * what it refused or evicted ({@code skiff.kernel.bound.NAME.hit}) and says so in its kernel service's
 * {@code bounds} healthcheck (priority WARN), published with the service's health.
 */
class KernelHostileInputTest {
  @RegisterExtension static final RabbitMqExtension broker = RabbitMqExtension.create();

  /** Stops only a hung test. */
  static final Duration HANG = Duration.ofSeconds(60);

  final String prefix = "test.hostile.k" + Integer.toHexString(ThreadLocalRandom.current().nextInt(1 << 24));

  static InstanceAnnouncement announcement(String service, String instance, String description) {
    return InstanceAnnouncement.newBuilder().setService(service).setVersion("1.0.0").setInstance(instance)
        .setState(InstanceAnnouncement.State.RUNNING).setHeartbeatMs(20_000).setExpireAfterMs(60_000)
        .setDescription(description).setSentMs(System.currentTimeMillis()).build();
  }

  /**
   * Waits for a health report of a kernel service whose {@code bounds} check fails at priority WARN
   * with a message that contains {@code marker} (the test's own odd limits: other kernels share the broker).
   */
  static CheckResult awaitBoundsWarning(Transport transport, String service, String marker) {
    AtomicReference<CheckResult> seen = new AtomicReference<>();
    Transport.Subscription s = new PubSub(transport).subscribe(ServiceMonitor.TOPIC_PREFIX + service, null, HealthReport.class,
        (topic, r) -> r.getChecksList().stream()
            .filter(c -> c.getName().equals("bounds") && !c.getHealthy() && c.getMessage().contains(marker))
            .findFirst().ifPresent(seen::set));
    try {
      await().atMost(HANG).until(() -> seen.get() != null);
    } finally {
      s.close();
    }
    assertThat(seen.get().getPriority()).isEqualTo(CheckPriority.WARN);
    return seen.get();
  }

  @Test
  void threeHundredFakeServicesStayWithinTheRegistryBoundAndTheKnownInstancesAreKept() {
    Bound.Limits limits = new Bound.Limits(137, 100_003);
    DiscoveryService discovery = new DiscoveryService(Clock.systemUTC(), limits);
    try (Kernel kernel = Kernel.start(broker.transport(), Settings.fromEnvironment(Map.of()), List.of(discovery), 0)) {
      PubSub events = new PubSub(broker.transport());
      String keeper = prefix + ".keeper";
      events.publish(Announcer.TOPIC_PREFIX + keeper, announcement(keeper, "k1", ""));
      await().atMost(HANG).until(() -> !discovery.registry().list(keeper).isEmpty());

      // 20 announcements of 10 kB (a large description), then 300 small ones: the bytes bound, then the count bound
      for (int i = 0; i < 20; i++) {
        String s = prefix + ".big" + i;
        events.publish(Announcer.TOPIC_PREFIX + s, announcement(s, "i", "x".repeat(10_000)));
      }
      for (int i = 0; i < 300; i++) {
        String s = prefix + ".fake" + i;
        events.publish(Announcer.TOPIC_PREFIX + s, announcement(s, "i", ""));
      }
      // the last one was either refused or taken: wait until 300 + 20 were considered
      Registry registry = discovery.registry();
      await().atMost(HANG).until(() -> registry.bound().hits() + mine(registry) >= 320);

      assertThat(registry.list(null)).hasSizeLessThanOrEqualTo(limits.maxCount());
      assertThat(registry.bound().count()).isEqualTo(registry.list(null).size());
      assertThat(registry.bound().bytes()).isLessThanOrEqualTo(limits.maxBytes())
          .isEqualTo(registry.list(null).stream().mapToLong(i -> i.getSerializedSize()).sum());
      assertThat(registry.list(keeper)).as("an instance known before the flood is kept").hasSize(1);
      assertThat(registry.list(null).stream().filter(i -> i.getAnnouncement().getService().startsWith(prefix + ".big")).count())
          .as("large announcements stop at the bytes bound").isLessThan(10);
      long hits = kernel.metricsOf("discovery").counter("skiff.kernel.bound." + DiscoveryService.BOUND + ".hit").getCount();
      assertThat(hits).isEqualTo(registry.bound().hits()).isGreaterThanOrEqualTo(320 - limits.maxCount());

      // a known instance's heartbeat is still heard at the bound
      long seenBefore = registry.list(keeper).get(0).getLastSeenMs();
      await().atMost(HANG).until(() -> {
        events.publish(Announcer.TOPIC_PREFIX + keeper, announcement(keeper, "k1", ""));
        return registry.list(keeper).get(0).getLastSeenMs() > seenBefore;
      });

      CheckResult warning = awaitBoundsWarning(broker.transport(), DiscoveryService.SERVICE, "of 137 entries");
      assertThat(warning.getMessage()).contains(DiscoveryService.BOUND + " is at its bound");
    }
  }

  private long mine(Registry registry) {
    return registry.list(null).stream().filter(i -> i.getAnnouncement().getService().startsWith(prefix + ".")
        && !i.getAnnouncement().getService().endsWith(".keeper")).count();
  }

  @Test
  void theBindingLeaderDoesNotBindMissingQueuesAgainAtEveryPass() {
    int fakes = 40;
    BindingService binding = new BindingService(Clock.systemUTC(), Duration.ofSeconds(1));
    try (Kernel kernel = Kernel.start(broker.transport(), Settings.fromEnvironment(Map.of()), List.of(binding), 0)) {
      await().atMost(HANG).until(binding::isLeader);
      PubSub events = new PubSub(broker.transport());
      // announced services whose queues nobody declared: every bind of them is a channel error on the broker
      for (int i = 0; i < fakes; i++) {
        String s = prefix + ".noqueue" + i;
        events.publish(Announcer.TOPIC_PREFIX + s, announcement(s, "i", ""));
      }
      await().atMost(HANG).until(() -> binding.registry().services().stream().filter(s -> s.startsWith(prefix + ".noqueue")).count() == fakes);
      var missing = kernel.metricsOf("binding").counter(BindingService.MISSING_QUEUES);
      // each fake has two queues to bind (its version queue and its service queue): wait until each was tried
      await().atMost(HANG).until(() -> missing.getCount() >= 2L * fakes);
      long before = missing.getCount();
      long passes = binding.fullPasses();
      await().atMost(HANG).until(() -> binding.fullPasses() >= passes + 8);
      long during = missing.getCount() - before;
      long passesDuring = binding.fullPasses() - passes;
      System.out.printf("[hostile] %d binds of the %d missing queues over %d full passes%n", during, 2 * fakes, passesDuring);
      // before: every pass bound every missing queue again (2 x 40 channel errors a pass: 639 over 8 passes);
      // now: each is tried again after 1 s, 2 s, 4 s, ... (240 over 8 passes, then fewer and fewer)
      assertThat(during).as("binds of missing queues over " + passesDuring + " full passes")
          .isLessThan(passesDuring * 2L * fakes / 2);
    }
  }

  static Span span(String traceId, String spanId, String service) {
    return Span.newBuilder().setTraceId(traceId).setSpanId(spanId).setKind(SpanKind.SPAN_KIND_SERVER)
        .setService(service).setEndpoint("hello").setInstance("i1").setVersion("1.0.0")
        .setRequestId("r-" + spanId).setStartMicros(System.currentTimeMillis() * 1000).setDurationMicros(1500).build();
  }

  static String hex(long v, int digits) {
    String h = Long.toHexString(v);
    return "0".repeat(Math.max(0, digits - h.length())) + h;
  }

  @Test
  void sixtyMegabytesOfSpansStayWithinTheTraceStoresByteBound() {
    long maxBytes = 1_000_003;
    InMemoryTraceStore store = new InMemoryTraceStore(10_000, 1_000, maxBytes);
    TraceService traces = new TraceService(store, HealthSource.NONE, Clock.systemUTC());
    try (Kernel kernel = Kernel.start(broker.transport(), Settings.fromEnvironment(Map.of()), List.of(traces), 0)) {
      PubSub events = new PubSub(broker.transport());
      String service = prefix + ".spans";
      long base = ThreadLocalRandom.current().nextLong() & 0xffffffffL;
      int spansPerTrace = 500;
      long sent = 0;
      long bytes = 0;
      String lastTrace = null;
      for (int t = 0; bytes < 60_000_000L; t++) {
        lastTrace = hex(base, 16) + hex(t + 1, 16);
        SpanBatch.Builder b = SpanBatch.newBuilder().setService(service).setInstance("i1");
        for (int s = 0; s < spansPerTrace; s++) {
          b.addSpans(span(lastTrace, hex(s + 1, 16), service));
        }
        SpanBatch batch = b.build();
        bytes += batch.getSerializedSize();
        sent += spansPerTrace;
        events.publish(SpanSink.TOPIC_PREFIX + service, batch);
      }
      long total = sent;
      await().atMost(HANG).until(() -> traces.spansReceived() >= total);
      System.out.printf("[hostile] %d bytes of spans sent (%d spans); the store holds %d bytes in %d traces%n",
          bytes, total, store.bytes(), store.size());

      // a span made large by fields Skiff does not know is refused as malformed
      long invalid = kernel.metricsOf("trace").counter(TraceService.INVALID_SPANS).getCount();
      Span padded = span(hex(base, 16) + hex(0, 15) + "f", hex(1, 16), service).toBuilder()
          .setUnknownFields(UnknownFieldSet.newBuilder().addField(999,
              UnknownFieldSet.Field.newBuilder().addLengthDelimited(ByteString.copyFrom(new byte[100_000])).build()).build())
          .build();
      events.publish(SpanSink.TOPIC_PREFIX + service, SpanBatch.newBuilder().setService(service).setInstance("i1").addSpans(padded).build());
      await().atMost(HANG).until(() -> kernel.metricsOf("trace").counter(TraceService.INVALID_SPANS).getCount() > invalid);

      assertThat(store.bytes()).isLessThanOrEqualTo(maxBytes).isGreaterThan(maxBytes / 2);
      assertThat(store.trace(lastTrace)).as("the newest trace is kept").isPresent();
      assertThat(store.size()).isLessThan(40);
      long hits = kernel.metricsOf("trace").counter("skiff.kernel.bound.trace-store.hit").getCount();
      assertThat(hits).isGreaterThan(50);
      CheckResult warning = awaitBoundsWarning(broker.transport(), TraceService.SERVICE, "of 1000003 bytes");
      assertThat(warning.getMessage()).contains("trace-store is at its bound").contains("evicted");
    }
  }

  static HealthReport report(String service, String instance, long sent, String... endpoints) {
    HealthReport.Builder r = HealthReport.newBuilder().setService(service).setInstance(instance).setVersion("1.0.0")
        .setSentEpochMillis(sent).setIntervalMillis(60_000).setHealthy(true);
    for (String e : endpoints) {
      r.addEndpoints(EndpointStats.newBuilder().setName(e).setSide("server").setRequests(1));
    }
    return r.build();
  }

  @Test
  void healthReportsOfThreeHundredFakeInstancesStayWithinTheMonitoringBound() {
    Bound.Limits limits = new Bound.Limits(53, 1_000_003);
    MonitoringService monitoring = new MonitoringService(Clock.systemUTC(), limits);
    try (Kernel kernel = Kernel.start(broker.transport(), Settings.fromEnvironment(Map.of()), List.of(monitoring), 0)) {
      PubSub events = new PubSub(broker.transport());
      String service = prefix + ".reports";
      long now = System.currentTimeMillis();
      events.publish(ServiceMonitor.TOPIC_PREFIX + service, report(service, "keeper", now, "e"));
      HealthStore store = monitoring.store();
      await().atMost(HANG).until(() -> store.service(service).isPresent());

      // one instance that names a new endpoint in every report: its history keeps only what it reports now
      for (int i = 0; i < 200; i++) {
        events.publish(ServiceMonitor.TOPIC_PREFIX + service, report(service, "keeper", now + 1 + i, "e" + i));
      }
      await().atMost(HANG).until(() -> store.service(service).orElseThrow().getSeriesList().stream().anyMatch(s -> s.getName().equals("e199")));
      assertThat(store.service(service).orElseThrow().getSeriesList()).hasSize(1);

      for (int i = 0; i < 300; i++) {
        events.publish(ServiceMonitor.TOPIC_PREFIX + service, report(service, "fake" + i, now, "e"));
      }
      await().atMost(HANG).until(() -> store.bound().hits() + store.service(service).orElseThrow().getInstancesCount() >= 301);

      assertThat(store.bound().count()).isLessThanOrEqualTo(limits.maxCount());
      assertThat(store.bound().bytes()).isLessThanOrEqualTo(limits.maxBytes());
      assertThat(store.service(service).orElseThrow().getInstancesList())
          .as("the instance known before the flood is kept").anyMatch(i -> i.getLatest().getInstance().equals("keeper"));
      assertThat(kernel.metricsOf("monitoring").counter("skiff.kernel.bound." + MonitoringService.BOUND + ".hit").getCount())
          .isGreaterThanOrEqualTo(301 - limits.maxCount());
      CheckResult warning = awaitBoundsWarning(broker.transport(), MonitoringService.SERVICE, "of 53 entries");
      assertThat(warning.getMessage()).contains(MonitoringService.BOUND + " is at its bound").contains("refused");
    }
  }
}
