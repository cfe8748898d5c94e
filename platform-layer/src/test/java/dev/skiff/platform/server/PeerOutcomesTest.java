package dev.skiff.platform.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.platform.server.PeerOutcomes.Counts;
import org.junit.jupiter.api.Test;

/** Peers' recent outcomes from their cumulative reports, including made-up and hostile ones. */
class PeerOutcomesTest {
  private static final long T0 = 1_700_000_000_000L;
  private final PeerOutcomes peers = new PeerOutcomes(30_000, 3);

  @Test
  void aPeersRecentCountsAreItsLastReportInTheWindowMinusItsFirst() {
    peers.report("a", T0, 100, 10);
    assertThat(peers.recent(T0)).as("one report: nothing recent yet").isEqualTo(Counts.NONE);
    peers.report("a", T0 + 5_000, 150, 12);
    peers.report("b", T0 + 5_000, 1_000, 0);
    peers.report("b", T0 + 10_000, 1_100, 5);
    assertThat(peers.recent(T0 + 10_000)).isEqualTo(new Counts(150, 7));
    assertThat(peers.recent(T0 + 35_000)).as("a's first report left the window").isEqualTo(new Counts(100, 5));
    assertThat(peers.recent(T0 + 40_001)).as("a peer silent for a window is forgotten").isEqualTo(Counts.NONE);
    assertThat(peers.size()).isZero();
  }

  @Test
  void countsThatGoBackStartThePeerOver() {
    peers.report("a", T0, 100, 10);
    peers.report("a", T0 + 5_000, 50, 50);
    peers.report("a", T0 + 10_000, 60, 50);
    assertThat(peers.recent(T0 + 10_000)).isEqualTo(new Counts(10, 0));
  }

  @Test
  void aFloodOfMadeUpInstancesKeepsOnlyTheMostRecentlyHeard() {
    for (int i = 0; i < 1000; i++) {
      assertThat(peers.report("fake-" + i, T0, 0, 0)).isEqualTo(i >= 3);
    }
    assertThat(peers.size()).isEqualTo(3);
    peers.report("fake-997", T0 + 1_000, 10, 0);
    peers.report("fake-1000", T0 + 1_000, 0, 0);
    peers.report("fake-997", T0 + 2_000, 20, 0);
    assertThat(peers.recent(T0 + 2_000)).as("997, heard again, was kept").isEqualTo(new Counts(20, 0));
  }

  @Test
  void hugeCountsSaturateAndFailuresNeverExceedRequests() {
    peers.report("a", T0, 0, 0);
    peers.report("a", T0 + 1_000, Long.MAX_VALUE, Long.MAX_VALUE);
    peers.report("b", T0, 0, 0);
    peers.report("b", T0 + 1_000, Long.MAX_VALUE, 0);
    Counts c = peers.recent(T0 + 1_000);
    assertThat(c.requests()).isEqualTo(Long.MAX_VALUE);
    assertThat(c.failurePercent()).isBetween(0.0, 100.0);
  }

  @Test
  void aPeerReportingManyTimesAWindowKeepsABoundedHistory() {
    for (int i = 0; i <= 30_000; i++) {
      peers.report("a", T0 + i, i, 0);
    }
    assertThat(peers.recent(T0 + 30_000)).as("first and last kept").isEqualTo(new Counts(30_000, 0));
  }
}
