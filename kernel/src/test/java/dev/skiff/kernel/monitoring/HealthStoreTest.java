package dev.skiff.kernel.monitoring;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.kernel.Bound;
import dev.skiff.kernel.TestClock;
import dev.skiff.proto.v1.CheckResult;
import dev.skiff.proto.v1.EndpointStats;
import dev.skiff.proto.v1.HealthReport;
import dev.skiff.proto.v1.ServiceStatus;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class HealthStoreTest {
  final TestClock clock = new TestClock(Instant.ofEpochMilli(1_000_000));

  static HealthReport report(String instance, long sent, long requests, long errors, boolean healthy) {
    HealthReport.Builder r = HealthReport.newBuilder().setService("svc").setInstance(instance).setVersion("1")
        .setSentEpochMillis(sent).setIntervalMillis(1000).setHealthy(healthy)
        .addEndpoints(EndpointStats.newBuilder().setName("e").setSide("server").setRequests(requests).setErrors(errors).setP95Millis(3));
    if (!healthy) {
      r.addChecks(CheckResult.newBuilder().setName("db").setMessage("down"));
    }
    return r.build();
  }

  @Test
  void atItsBoundTheStoreRefusesNewInstancesUntilOldOnesAreForgotten() {
    HealthStore store = new HealthStore(clock, 3, new Bound("test-health", new Bound.Limits(2, 1 << 20), false));
    store.accept(report("a", 1_000, 0, 0, true));
    store.accept(report("b", 1_000, 0, 0, true));
    store.accept(report("c", 1_000, 0, 0, true));
    assertThat(store.service("svc").orElseThrow().getInstancesList()).extracting(i -> i.getLatest().getInstance()).containsExactly("a", "b");
    assertThat(store.bound().hits()).isEqualTo(1);
    clock.advance(Duration.ofMillis(30_000));
    store.accept(report("a", 31_000, 0, 0, true)); // a known instance is still heard at the bound
    clock.advance(Duration.ofMillis(31_000)); // b: 61 s without a report, past 60 intervals of 1 s
    store.accept(report("c", 62_000, 0, 0, true));
    assertThat(store.service("svc").orElseThrow().getInstancesList()).extracting(i -> i.getLatest().getInstance()).containsExactly("a", "c");
    assertThat(store.bound().count()).isEqualTo(2);
  }

  @Test
  void ratesComeFromSuccessiveReportsAndSilentInstancesGoStaleThenAway() {
    HealthStore store = new HealthStore(clock, 3);
    store.accept(report("a", 1_000, 0, 0, true));
    store.accept(report("a", 2_000, 50, 5, true));
    store.accept(report("a", 1_500, 10, 0, true)); // out of order: ignored
    ServiceStatus s = store.service("svc").orElseThrow();
    assertThat(s.getStatus()).isEqualTo("healthy");
    assertThat(s.getSeries(0).getPointsList()).hasSize(2);
    assertThat(s.getSeries(0).getPoints(1).getRate()).isEqualTo(50.0);
    assertThat(s.getSeries(0).getPoints(1).getErrorRate()).isEqualTo(5.0);
    for (int i = 3; i < 10; i++) {
      store.accept(report("a", i * 1000L, i * 50L, 5, true));
    }
    assertThat(store.service("svc").orElseThrow().getSeries(0).getPointsList()).hasSize(3);
    assertThat(store.service("svc").orElseThrow().getSeries(0).getPoints(2).getP95Millis()).isEqualTo(3.0);
    store.accept(report("a", 10_000, 450, 5, true)); // no request since the previous report
    dev.skiff.proto.v1.EndpointPoint idle = store.service("svc").orElseThrow().getSeries(0).getPoints(2);
    assertThat(idle.getRate()).isZero();
    assertThat(idle.getP95Millis()).as("no latency measured in an idle interval, not the last busy one's").isZero();
    assertThat(idle.getMeanMillis()).isZero();

    store.accept(report("b", 10_000, 0, 0, false));
    s = store.service("svc").orElseThrow();
    assertThat(s.getStatus()).isEqualTo("unhealthy");
    assertThat(s.getFailingList()).containsExactly("b: db [CHECK_PRIORITY_UNSPECIFIED]: down");

    clock.advance(Duration.ofMillis(3_500));
    s = store.service("svc").orElseThrow();
    assertThat(s.getStatus()).isEqualTo("stale");
    assertThat(s.getInstancesList()).allMatch(i -> i.getStale());
    clock.advance(Duration.ofMillis(60_000));
    assertThat(store.service("svc")).isEmpty();
    assertThat(store.names()).isEmpty();
  }

  @Test
  void anInstanceThatStoppedCleanlyIsNoLongerShownAndALateOlderReportDoesNotBringItBack() {
    HealthStore store = new HealthStore(clock, 3);
    store.accept(report("a", 1_000, 0, 0, true));
    store.accept(report("b", 1_000, 0, 0, false));
    assertThat(store.service("svc").orElseThrow().getStatus()).isEqualTo("unhealthy");
    store.accept(report("b", 2_000, 0, 0, false).toBuilder().setStopping(true).build());
    ServiceStatus s = store.service("svc").orElseThrow();
    assertThat(s.getInstancesList()).extracting(i -> i.getLatest().getInstance()).as("b stopped: not shown, not stale").containsExactly("a");
    assertThat(s.getStatus()).as("nor counted").isEqualTo("healthy");
    store.accept(report("b", 1_500, 0, 0, false)); // sent before it stopped, arriving late
    assertThat(store.service("svc").orElseThrow().getInstancesList()).hasSize(1);

    store.accept(report("a", 3_000, 0, 0, true).toBuilder().setStopping(true).build());
    assertThat(store.service("svc")).as("every instance stopped: the service is not shown").isEmpty();
    assertThat(store.overview().getServicesList()).isEmpty();
    assertThat(store.names()).isEmpty();
    store.accept(report("c", 4_000, 0, 0, true));
    assertThat(store.names()).as("a new instance brings it back").containsExactly("svc");
  }
}
