package dev.skiff.platform;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The steady load of a node-loss test, shared by the cluster tests of the platform and the kernel:
 * callers that make calls until stopped, half of them idempotent (endpoint {@code echo}), half not
 * ({@code once}), each counted in its {@link CallTally}; the moment of the kill, from which
 * {@link CallTally#okAfterKill} counts; and what every node loss must keep. Close it (in the test's
 * {@code finally}) to stop the callers however the test ends.
 */
public final class NodeLossLoad implements AutoCloseable {
  /** How a caller makes one call. */
  @FunctionalInterface
  public interface Call {
    /**
     * Makes a call, counted by {@link NodeLossLoad#record}.
     *
     * @param endpoint {@code echo} (idempotent) or {@code once}
     * @param text the request's text, unique per call
     * @param tally where it counts
     */
    void make(String endpoint, String text, CallTally tally);
  }

  /** The idempotent calls ({@code echo}). */
  public final CallTally idempotent;
  /** The non-idempotent calls ({@code once}). */
  public final CallTally once;
  private final int callerCount;
  private final ExecutorService callers;
  private final AtomicBoolean loading = new AtomicBoolean(true);
  private final AtomicLong killedAt = new AtomicLong(Long.MAX_VALUE);
  private final List<CompletableFuture<Void>> loops = new ArrayList<>();

  /**
   * @param callers how many callers make calls side by side (half of them idempotent ones)
   * @param latest how long a call may take at most: its deadline and some slack
   */
  public NodeLossLoad(int callers, Duration latest) {
    this.idempotent = new CallTally(latest);
    this.once = new CallTally(latest);
    this.callerCount = callers;
    this.callers = Executors.newFixedThreadPool(callers);
  }

  /**
   * Starts the callers; each makes calls one after the other until {@link #stop}.
   *
   * @param call how a call is made
   */
  public void start(Call call) {
    AtomicLong seq = new AtomicLong();
    for (int i = 0; i < callerCount; i++) {
      boolean idem = i % 2 == 0;
      loops.add(CompletableFuture.runAsync(() -> {
        while (loading.get()) {
          call.make(idem ? "echo" : "once", (idem ? "i-" : "n-") + seq.incrementAndGet(), idem ? idempotent : once);
        }
      }, callers));
    }
  }

  /**
   * Makes a call and counts how it ended ({@link CallTally#record}).
   *
   * @param tally where it counts
   * @param call the call, asserting its answer
   */
  public void record(CallTally tally, Runnable call) {
    tally.record(killedAt, call);
  }

  /** Notes that the node is killed now: a call started after it that succeeds is OK after the kill. */
  public void killed() {
    killedAt.set(System.nanoTime());
  }

  /** @return {@link System#nanoTime()} of the kill ({@code Long.MAX_VALUE} before it) */
  public long killedAtNanos() {
    return killedAt.get();
  }

  /**
   * Stops the callers and waits for the calls they are making to end.
   *
   * @param max how long to wait at most
   * @throws InterruptedException if interrupted while waiting
   * @throws ExecutionException if a caller failed (an answer not as asserted)
   * @throws TimeoutException if a call is still running after {@code max}
   */
  public void stop(Duration max) throws InterruptedException, ExecutionException, TimeoutException {
    loading.set(false);
    CompletableFuture.allOf(loops.toArray(CompletableFuture[]::new)).get(max.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Asserts what no node loss may cost: a non-idempotent request run twice, or a call over its deadline. */
  public void assertNothingRunTwiceOrLate() {
    assertThat(once.runTwice()).as("non-idempotent requests run twice").isZero();
    assertThat(idempotent.overDeadline.sum() + once.overDeadline.sum()).as("calls over their deadline").isZero();
  }

  /**
   * Asserts that idempotent calls were all retried on a live node, and that non-idempotent ones failed only
   * with a clear code ({@code UNAVAILABLE} or {@code UNKNOWN_OUTCOME}).
   */
  public void assertOnlyNonIdempotentCallsFailedClearly() {
    assertThat(idempotent.failedByCode).as("idempotent calls are retried on a live node").isEmpty();
    assertThat(once.failedByCode.keySet()).as("non-idempotent calls fail with a clear code")
        .isSubsetOf("UNAVAILABLE", "UNKNOWN_OUTCOME");
  }

  /** Stops the callers without waiting (the test's {@code finally}). */
  @Override
  public void close() {
    loading.set(false);
    callers.shutdownNow();
  }
}
