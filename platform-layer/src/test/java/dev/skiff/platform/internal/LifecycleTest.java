package dev.skiff.platform.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The lifecycle rule every resource-owning component follows. */
class LifecycleTest {
  private final Lifecycle life = new Lifecycle("thing t1");

  @Test
  void startsOnceRunsAndClosesOnceWithClearErrorsForEverythingElse() {
    assertThatThrownBy(() -> life.checkRunning("call")).isInstanceOf(IllegalStateException.class)
        .hasMessage("cannot call: thing t1 is not started (call start() first)");
    AtomicInteger started = new AtomicInteger();
    life.start(started::incrementAndGet, () -> { });
    assertThat(started).hasValue(1);
    assertThat(life.isRunning()).isTrue();
    life.checkRunning("call");
    assertThatThrownBy(() -> life.start(started::incrementAndGet, () -> { })).isInstanceOf(IllegalStateException.class)
        .hasMessage("thing t1 was already started");
    assertThat(life.beginClose()).isEqualTo(Lifecycle.State.RUNNING);
    life.closed();
    assertThat(life.beginClose()).as("a second close finds it closed").isEqualTo(Lifecycle.State.CLOSED);
    assertThat(life.isClosed()).isTrue();
    assertThatThrownBy(() -> life.checkRunning("call")).hasMessage("cannot call: thing t1 is closed");
    assertThatThrownBy(() -> life.start(started::incrementAndGet, () -> { })).hasMessage("thing t1 is closed: it cannot be started again");
    assertThat(started).hasValue(1);
  }

  @Test
  void aFailedStartReleasesWhatItTookAndLeavesTheComponentClosed() {
    AtomicInteger released = new AtomicInteger();
    assertThatThrownBy(() -> life.start(() -> {
      throw new IllegalArgumentException("no broker");
    }, released::incrementAndGet)).hasMessage("no broker");
    assertThat(released).hasValue(1);
    assertThat(life.isClosed()).isTrue();
    assertThat(life.beginClose()).as("close after a failed start returns at once").isEqualTo(Lifecycle.State.CLOSED);
  }

  @Test
  void closingANeverStartedComponentIsItsOwnCaseAndAConcurrentCloserWaitsForTheFirst() throws Exception {
    assertThat(life.beginClose()).isEqualTo(Lifecycle.State.NEW);
    Thread second = Threads.start("second-closer", life::beginClose);
    second.join(200);
    assertThat(second.isAlive()).as("waits while the first closer works").isTrue();
    life.closed();
    second.join(10_000);
    assertThat(second.isAlive()).isFalse();
  }
}
