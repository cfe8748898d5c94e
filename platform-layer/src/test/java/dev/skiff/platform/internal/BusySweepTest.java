package dev.skiff.platform.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class BusySweepTest {
  private final ScheduledThreadPoolExecutor executor = new ScheduledThreadPoolExecutor(1);

  @AfterEach
  void stop() {
    executor.shutdownNow();
  }

  /**
   * Lets the executor run {@code n} ticks of a task of its own every 5 ms: a clock on the executor's own
   * timeline, so that any pass the sweep under test had scheduled in that time has run by the time this
   * returns.
   */
  private void letPassesGoBy(int n) {
    AtomicInteger ticks = new AtomicInteger();
    executor.setRemoveOnCancelPolicy(true); // the clock leaves nothing behind in the queue
    java.util.concurrent.ScheduledFuture<?> clock = executor.scheduleAtFixedRate(ticks::incrementAndGet, 5, 5, TimeUnit.MILLISECONDS);
    await().atMost(Duration.ofSeconds(30)).until(() -> ticks.get() >= n);
    clock.cancel(false);
  }

  /** A sweep whose passes come every {@code periodMillis} while {@code busy} says there is work. */
  private BusySweep periodic(long periodMillis, Runnable pass, java.util.function.BooleanSupplier busy) {
    return new BusySweep(executor, periodMillis, periodMillis, () -> {
      pass.run();
      return busy.getAsBoolean() ? periodMillis : BusySweep.IDLE;
    });
  }

  @Test
  void passesRunOnlyWhileThereIsWork() throws Exception {
    Set<Integer> work = ConcurrentHashMap.newKeySet();
    AtomicInteger passes = new AtomicInteger();
    BusySweep sweep = periodic(5, passes::incrementAndGet, () -> !work.isEmpty());

    // idle from the start: nothing is scheduled, no pass runs
    assertThat(executor.getQueue()).isEmpty();
    letPassesGoBy(10);
    assertThat(passes).hasValue(0);

    // work arrives: passes run every period while it is there, one schedule at a time however often armed
    work.add(1);
    for (int i = 0; i < 100; i++) {
      sweep.arm();
    }
    await().atMost(Duration.ofSeconds(2)).until(() -> passes.get() >= 5);
    assertThat(executor.getQueue()).hasSizeLessThanOrEqualTo(1);

    // the work is gone: after at most one more pass, none runs and nothing is scheduled
    work.clear();
    await().atMost(Duration.ofSeconds(2)).until(() -> executor.getQueue().isEmpty() && executor.getActiveCount() == 0);
    int after = passes.get();
    letPassesGoBy(10);
    assertThat(passes).as("an idle owner wakes no thread").hasValue(after);

    // and it starts again when work comes back
    work.add(2);
    sweep.arm();
    await().atMost(Duration.ofSeconds(2)).until(() -> passes.get() > after);
  }

  @Test
  void workAddedWhileAPassEndsIsNeverLeftWithoutOne() throws Exception {
    // Work that comes and goes as fast as it can, while passes end: whenever work is present a pass must
    // come within a few periods (a lost arm would leave it unswept for ever).
    Set<Long> work = ConcurrentHashMap.newKeySet();
    AtomicLong lastPass = new AtomicLong(System.nanoTime());
    BusySweep sweep = periodic(1, () -> lastPass.set(System.nanoTime()), () -> !work.isEmpty());
    churnAndExpectPasses(work, sweep::arm, lastPass);
  }

  /**
   * Adds 2,000 items, arming after each and taking every even one away again at once, then expects
   * passes to keep coming for the odd ones that remain.
   */
  private static void churnAndExpectPasses(Set<Long> work, Runnable arm, AtomicLong lastPass) throws InterruptedException {
    for (long i = 0; i < 2_000; i++) {
      work.add(i);
      arm.run();
      if (i % 2 == 0) {
        work.remove(i);
      }
      if (i % 100 == 0) {
        TimeUnit.MICROSECONDS.sleep(500);
      }
    }
    long seen = lastPass.get();
    await().atMost(Duration.ofSeconds(2)).until(() -> lastPass.get() != seen);
    long seen2 = lastPass.get();
    await().atMost(Duration.ofSeconds(2)).until(() -> lastPass.get() != seen2);
  }

  @Test
  void anOwnerThatClosedItsExecutorGetsNoPassAndNoError() {
    executor.shutdownNow();
    AtomicInteger passes = new AtomicInteger();
    BusySweep sweep = periodic(1, passes::incrementAndGet, () -> true);
    sweep.arm();
    sweep.arm();
    assertThat(passes).hasValue(0);
  }

  @Test
  void aBusyOwnerIsSweptWhenItsWorkIsDueNotEveryPeriod() throws Exception {
    // the work is due 300 ms after each pass: in a second, a pass every 5 ms would be 200 passes
    AtomicInteger passes = new AtomicInteger();
    BusySweep sweep = new BusySweep(executor, 5, 10_000, () -> {
      passes.incrementAndGet();
      return 300;
    });
    long t0 = System.nanoTime();
    for (int i = 0; i < 100; i++) {
      sweep.arm(300);
    }
    await().atMost(Duration.ofSeconds(5)).until(() -> passes.get() >= 1);
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).as("not before it is due").isGreaterThanOrEqualTo(Duration.ofMillis(290));
    TimeUnit.MILLISECONDS.sleep(1000);
    assertThat(passes.get()).as("about one pass per 300 ms").isBetween(3, 6);
    assertThat(executor.getQueue()).as("one pass scheduled at a time").hasSizeLessThanOrEqualTo(1);
  }

  @Test
  void workDueSoonerBringsTheNextPassForwardAndThePassItReplacedDoesNothing() throws Exception {
    AtomicInteger passes = new AtomicInteger();
    AtomicLong firstPass = new AtomicLong();
    BusySweep sweep = new BusySweep(executor, 5, 10_000, () -> {
      firstPass.compareAndSet(0, System.nanoTime());
      passes.incrementAndGet();
      return BusySweep.IDLE;
    });
    long t0 = System.nanoTime();
    sweep.arm(1500);
    sweep.arm(2000); // due later than the pass scheduled: changes nothing
    assertThat(executor.getQueue()).hasSize(1);
    sweep.arm(50); // due sooner: a pass comes at 50 ms
    await().atMost(Duration.ofSeconds(5)).until(() -> passes.get() >= 1);
    assertThat(Duration.ofNanos(firstPass.get() - t0)).isLessThan(Duration.ofMillis(1000)).isGreaterThanOrEqualTo(Duration.ofMillis(45));
    // the pass at 1.5 s was replaced: when its time comes it finds so and runs no pass
    await().atMost(Duration.ofSeconds(10)).until(() -> executor.getQueue().isEmpty() && executor.getActiveCount() == 0);
    assertThat(passes).hasValue(1);
  }

  @Test
  void whileThereIsWorkPassesComeAtLeastEveryMaximumDelay() {
    // a clock that moved could put the next due time far off: the maximum still brings passes
    AtomicInteger passes = new AtomicInteger();
    BusySweep sweep = new BusySweep(executor, 5, 50, () -> {
      passes.incrementAndGet();
      return 3_600_000;
    });
    sweep.arm(3_600_000);
    await().atMost(Duration.ofSeconds(5)).until(() -> passes.get() >= 3);
  }

  @Test
  void workAddedWhileADueDrivenPassEndsIsNeverLeftWithoutOne() throws Exception {
    // as above, with passes that say when the next is due: whenever work is present a pass must come
    Set<Long> work = ConcurrentHashMap.newKeySet();
    AtomicLong lastPass = new AtomicLong(System.nanoTime());
    BusySweep sweep = new BusySweep(executor, 1, 1000, () -> {
      lastPass.set(System.nanoTime());
      return work.isEmpty() ? BusySweep.IDLE : 2;
    });
    churnAndExpectPasses(work, () -> sweep.arm(2), lastPass);
  }
}
