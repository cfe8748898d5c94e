package dev.skiff.platform.internal;

import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A pass over some work (the server's overrun watchdog, the client's timeout sweep) that runs only when
 * something in the work is due: each pass says when the next is due, and adding work brings the next
 * pass forward if the new work is due sooner. An idle owner wakes no thread at all (a 10-ms sweep in each
 * of 600 idle instances in one JVM took more than a core), and a busy one wakes a thread only when a
 * deadline can have passed, not every few milliseconds (a client with calls of 5 s always in flight
 * sweeps about once a second, where a pass every 10 ms was 100 wake-ups a second: on a virtual machine
 * each costs tens of microseconds of CPU).
 *
 * <p>Passes never run closer together than the minimum delay (they coalesce: work due sooner waits for
 * it, so it is also how late a deadline may be found) nor further apart than the maximum while there is
 * work (a guard against a clock that moved). One pass is scheduled at a time, except for a moment after
 * work due sooner brought the next forward: the later one then finds itself replaced and does nothing.
 * Thread-safe. Not API.
 */
public final class BusySweep {
  /** What a pass returns when nothing is left to look at: no pass runs until work is added again. */
  public static final long IDLE = -1;

  /** One pass over the work. */
  @FunctionalInterface
  public interface Pass {
    /**
     * Looks at the work.
     *
     * @return in how many milliseconds the next pass is due (0 or less: as soon as may be), or
     *     {@link #IDLE} when there is no work left
     */
    long run();
  }

  /** {@link #due}'s value while no pass is scheduled. */
  private static final long NONE = Long.MIN_VALUE;

  private final ScheduledExecutorService executor;
  private final long minNanos;
  private final long maxNanos;
  private final Pass pass;
  /** When (System.nanoTime) the pass scheduled last, the one that counts, is due; NONE: none is. */
  private final AtomicLong due = new AtomicLong(NONE);

  /**
   * A sweep whose passes say when the next is due.
   *
   * @param executor runs the passes; once it is shut down no pass is scheduled
   * @param minDelayMillis the least time between passes (also how late a due time may be met)
   * @param maxDelayMillis the most time between passes while there is work
   * @param pass one pass over the work
   */
  public BusySweep(ScheduledExecutorService executor, long minDelayMillis, long maxDelayMillis, Pass pass) {
    if (minDelayMillis < 0 || maxDelayMillis < minDelayMillis) {
      throw new IllegalArgumentException("need 0 <= minDelayMillis <= maxDelayMillis");
    }
    this.executor = executor;
    this.minNanos = TimeUnit.MILLISECONDS.toNanos(minDelayMillis);
    this.maxNanos = TimeUnit.MILLISECONDS.toNanos(maxDelayMillis);
    this.pass = pass;
  }

  /** Makes sure a pass comes within the minimum delay: call after adding work whose due time is not known. */
  public void arm() {
    arm(0);
  }

  /**
   * Makes sure a pass comes by the time given (or the minimum delay, if that is later): call after adding
   * work. Cheap when a pass is due by then already: one clock read and one volatile read.
   *
   * @param delayMillis in how many milliseconds the work added is due
   */
  public void arm(long delayMillis) {
    long now = System.nanoTime();
    long at = now + Math.min(Math.max(TimeUnit.MILLISECONDS.toNanos(delayMillis), minNanos), maxNanos);
    for (;;) {
      long d = due.get();
      if (d != NONE && d - at <= 0) {
        return; // a pass comes by then
      }
      if (due.compareAndSet(d, at)) {
        schedule(at, at - now);
        return;
      }
    }
  }

  private void schedule(long at, long delayNanos) {
    try {
      executor.schedule(() -> run(at), delayNanos, TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      due.compareAndSet(at, NONE); // the owner is closing: no more passes
    }
  }

  private void run(long at) {
    // from here on no pass is scheduled, so work added while this one looks arms one of its own
    if (!due.compareAndSet(at, NONE)) {
      return; // replaced by a pass brought forward, which ran or will run instead
    }
    long next = 0; // if the pass throws, the next comes after the minimum delay
    try {
      next = pass.run();
    } finally {
      if (next != IDLE) {
        arm(next);
      }
    }
  }
}
