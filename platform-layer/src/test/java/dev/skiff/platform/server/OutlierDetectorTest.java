package dev.skiff.platform.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.skiff.platform.server.OutlierDetector.Action;
import dev.skiff.platform.server.PeerOutcomes.Counts;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The decision of outlier ejection, on a clock the test moves: when an instance steps aside and comes back. */
class OutlierDetectorTest {
  private static final long T0 = 1_700_000_000_000L;
  /** Window 30 s, at least 20 requests, out at 50% while peers fail at most 10%, for 10 s doubling to 40 s. */
  private static final OutlierOptions OPTIONS = OutlierOptions.defaults().withEjectFor(Duration.ofSeconds(10), Duration.ofSeconds(40));
  private static final Counts HEALTHY_PEERS = new Counts(212, 0);

  private final OutlierDetector detector = new OutlierDetector(OPTIONS, T0);
  private long now = T0;

  /** Serves {@code n} requests over the next second, {@code failed} of them failing. */
  private void serve(int n, int failed) {
    now += 1000;
    for (int i = 0; i < n; i++) {
      detector.record(now, i < failed);
    }
  }

  private Action tick(Counts peers, boolean othersHealthy) {
    return detector.evaluate(now, peers, othersHealthy);
  }

  @Test
  void anInstanceIsNotJudgedOnFewerRequestsThanTheMinimum() {
    serve(19, 19);
    assertThat(tick(HEALTHY_PEERS, true)).isEqualTo(Action.NONE);
    assertThat(detector.inRotation()).isTrue();
    serve(1, 1);
    assertThat(tick(HEALTHY_PEERS, true)).isEqualTo(Action.EJECT);
  }

  @Test
  void anInstanceFailingAtTheThresholdWhilePeersSucceedIsEjectedWithAReason() {
    serve(20, 9);
    assertThat(tick(HEALTHY_PEERS, true)).as("45%").isEqualTo(Action.NONE);
    serve(20, 11);
    assertThat(tick(HEALTHY_PEERS, true)).as("50% of 40").isEqualTo(Action.EJECT);
    assertThat(detector.inRotation()).isFalse();
    assertThat(detector.reason())
        .isEqualTo("out of rotation for 10 s: 50% of its 40 requests in the last 30 s failed while its peers failed 0% of 212");
  }

  @Test
  void anInstanceIsNotEjectedWhenItsPeersFailToo() {
    serve(40, 40);
    assertThat(tick(new Counts(100, 11), true)).as("peers at 11%: the service fails").isEqualTo(Action.NONE);
    assertThat(tick(new Counts(100, 100), true)).isEqualTo(Action.NONE);
    assertThat(tick(new Counts(100, 10), true)).as("peers at 10%").isEqualTo(Action.EJECT);
  }

  @Test
  void anInstanceIsNotEjectedWhenItsPeersServedTooFew() {
    serve(40, 40);
    assertThat(tick(Counts.NONE, true)).as("no peers: stepping aside would leave none").isEqualTo(Action.NONE);
    assertThat(tick(new Counts(19, 0), true)).isEqualTo(Action.NONE);
    assertThat(tick(new Counts(20, 0), true)).isEqualTo(Action.EJECT);
  }

  @Test
  void failuresOlderThanTheWindowDoNotCount() {
    serve(40, 40);
    now += 30_000;
    assertThat(tick(HEALTHY_PEERS, true)).as("its failures are older than the window").isEqualTo(Action.NONE);
    assertThat(detector.own(now)).isEqualTo(Counts.NONE);
  }

  @Test
  void anEjectedInstanceComesBackAfterTheEjectionTimeOnlyWhenItsOtherChecksPass() {
    serve(40, 40);
    assertThat(tick(HEALTHY_PEERS, true)).isEqualTo(Action.EJECT);
    now += 9_999;
    assertThat(tick(HEALTHY_PEERS, true)).isEqualTo(Action.NONE);
    now += 1;
    assertThat(tick(HEALTHY_PEERS, false)).as("a check fails").isEqualTo(Action.NONE);
    assertThat(detector.reason()).endsWith("now waiting for its other healthchecks to pass");
    now += 60_000;
    assertThat(tick(HEALTHY_PEERS, false)).isEqualTo(Action.NONE);
    assertThat(detector.inRotation()).isFalse();
    assertThat(tick(HEALTHY_PEERS, true)).isEqualTo(Action.RETURN);
    assertThat(detector.inRotation()).isTrue();
    assertThat(detector.own(now)).as("its window starts afresh").isEqualTo(Counts.NONE);
    assertThat(tick(HEALTHY_PEERS, true)).isEqualTo(Action.NONE);
  }

  @Test
  void consecutiveEjectionsDoubleTheEjectionTimeUpToTheMaximum() {
    long[] expected = {10_000, 20_000, 40_000, 40_000};
    for (long forMillis : expected) {
      serve(40, 40);
      assertThat(tick(HEALTHY_PEERS, true)).isEqualTo(Action.EJECT);
      assertThat(detector.reason()).startsWith("out of rotation for " + forMillis / 1000 + " s:");
      now += forMillis - 1;
      assertThat(tick(HEALTHY_PEERS, true)).isEqualTo(Action.NONE);
      now += 1;
      assertThat(tick(HEALTHY_PEERS, true)).isEqualTo(Action.RETURN);
    }
    assertThat(detector.consecutiveEjections()).isEqualTo(4);
  }

  @Test
  void aFullWindowInRotationWithoutEjectionResetsTheEjectionTime() {
    for (int i = 0; i < 2; i++) {
      serve(40, 40);
      assertThat(tick(HEALTHY_PEERS, true)).isEqualTo(Action.EJECT);
      now += 60_000;
      assertThat(tick(HEALTHY_PEERS, true)).isEqualTo(Action.RETURN);
    }
    now += 29_000;
    serve(40, 40);
    assertThat(tick(HEALTHY_PEERS, true)).as("29 s + 1 s... a full window").isEqualTo(Action.EJECT);
    assertThat(detector.reason()).as("window of 30 s in rotation: back to the first time").startsWith("out of rotation for 10 s:");

    now += 60_000;
    assertThat(tick(HEALTHY_PEERS, true)).isEqualTo(Action.RETURN);
    serve(40, 40);
    assertThat(tick(HEALTHY_PEERS, true)).isEqualTo(Action.EJECT);
    assertThat(detector.reason()).as("within the window: doubled").startsWith("out of rotation for 20 s:");
  }

  @Test
  void optionsAreCheckedWithClearMessages() {
    OutlierOptions d = OutlierOptions.defaults();
    assertThat(d).isEqualTo(new OutlierOptions(Duration.ofSeconds(30), 20, 50, 10, Duration.ofSeconds(10), Duration.ofMinutes(5)));
    assertThatThrownBy(() -> d.withWindow(Duration.ZERO)).hasMessageContaining("window must be positive");
    assertThatThrownBy(() -> d.withWindow(Duration.ofMillis(500))).hasMessageContaining("at least 1 s");
    assertThatThrownBy(() -> d.withMinimumRequests(0)).hasMessageContaining("minimumRequests must be at least 1");
    assertThatThrownBy(() -> d.withEjectFor(Duration.ofSeconds(10), Duration.ofSeconds(5)))
        .hasMessageContaining("must not be shorter than ejectFor");
    assertThatThrownBy(() -> new OutlierOptions(Duration.ofSeconds(30), 20, 101, 10, Duration.ofSeconds(1), Duration.ofSeconds(1)))
        .hasMessageContaining("failurePercent must be between 1 and 100");
    assertThatThrownBy(() -> new OutlierOptions(Duration.ofSeconds(30), 20, 50, 50, Duration.ofSeconds(1), Duration.ofSeconds(1)))
        .hasMessageContaining("peersMaxFailurePercent must be at least 0 and below failurePercent");
    assertThatThrownBy(() -> d.withEjectFor(null, Duration.ofSeconds(1))).isInstanceOf(NullPointerException.class).hasMessage("ejectFor");
  }

  @Test
  void theEnvironmentCanSwitchItOff() {
    assertThat(new ServerBuilder("test.outliers").outlier).isEqualTo(OutlierOptions.defaults());
    ServerBuilder on = new ServerBuilder("test.outliers").outlierEjection(OPTIONS)
        .settings(dev.skiff.platform.config.Settings.fromEnvironment(java.util.Map.of()));
    assertThat(on.outlier).as("unset: as the code says").isEqualTo(OPTIONS);
    ServerBuilder off = new ServerBuilder("test.outliers")
        .settings(dev.skiff.platform.config.Settings.fromEnvironment(java.util.Map.of("SKIFF_OUTLIER_EJECTION", "off")));
    assertThat(off.outlier).isNull();
    assertThatThrownBy(() -> dev.skiff.platform.config.Settings.fromEnvironment(java.util.Map.of("SKIFF_OUTLIER_EJECTION", "maybe")))
        .hasMessage("SKIFF_OUTLIER_EJECTION must be 'on' or 'off', not 'maybe'");
  }
}
