package dev.skiff.platform.internal;

import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;

/**
 * A periodic pass that runs only while there is something to look at: the server's overrun watchdog
 * and the client's timeout sweep. {@link #arm()} after adding work schedules a pass unless one is
 * scheduled; a pass reschedules itself while the work is not empty and stops when it is, so that an
 * idle server or client wakes no thread at all (a 10-ms sweep in each of 600 idle instances in one JVM
 * took more than a core). Not API.
 */
public final class BusySweep {
  private final ScheduledExecutorService executor;
  private final long periodMillis;
  private final Runnable pass;
  private final BooleanSupplier busy;
  /** Whether a pass is scheduled. */
  private final AtomicBoolean scheduled = new AtomicBoolean();

  /**
   * @param executor runs the passes; once it is shut down no pass is scheduled
   * @param periodMillis the delay between passes
   * @param pass one pass over the work
   * @param busy whether there is work to look at
   */
  public BusySweep(ScheduledExecutorService executor, long periodMillis, Runnable pass, BooleanSupplier busy) {
    this.executor = executor;
    this.periodMillis = periodMillis;
    this.pass = pass;
    this.busy = busy;
  }

  /** Schedules a pass unless one is scheduled: call after adding work (so that {@code busy} is true). */
  public void arm() {
    if (!scheduled.get() && scheduled.compareAndSet(false, true)) {
      schedule();
    }
  }

  private void schedule() {
    try {
      executor.schedule(this::run, periodMillis, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      scheduled.set(false); // the owner is closing: no more passes
    }
  }

  private void run() {
    try {
      pass.run();
    } finally {
      if (busy.getAsBoolean()) {
        schedule();
      } else {
        scheduled.set(false);
        // work added after the look above saw a pass still scheduled and did not arm one
        if (busy.getAsBoolean()) {
          arm();
        }
      }
    }
  }
}
