package dev.skiff.benchmarks;

import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiConsumer;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Keeps {@link #inFlight} asynchronous calls outstanding from one benchmark thread: each operation takes
 * a permit (waiting for an earlier call to complete when all are out) and starts one call, whose
 * completion gives the permit back. In the steady state the operation rate is the completion rate.
 */
@State(Scope.Thread)
public class Window implements BiConsumer<Object, Throwable> {
  /** Calls kept in flight. */
  @Param({"1", "16", "64"})
  public int inFlight;

  private Semaphore permits;
  private final AtomicReference<Throwable> failure = new AtomicReference<>();

  /** Creates the window. */
  @Setup(Level.Trial)
  public void open() {
    permits = new Semaphore(inFlight);
  }

  /**
   * Waits for a free slot.
   *
   * @throws InterruptedException when interrupted
   * @throws IllegalStateException when a call failed, or none completed for 10 s (the raw baseline has no
   *     timeouts: a broker restart would otherwise leave the benchmark waiting forever)
   */
  void acquire() throws InterruptedException {
    if (!permits.tryAcquire(10, TimeUnit.SECONDS)) {
      throw new IllegalStateException("no call completed for 10 s: is the broker up?");
    }
    Throwable t = failure.get();
    if (t != null) {
      throw new IllegalStateException("a call failed", t);
    }
  }

  /** A call completed: frees its slot. */
  @Override
  public void accept(Object result, Throwable error) {
    if (error != null) {
      failure.compareAndSet(null, error);
    }
    permits.release();
  }

  /**
   * Waits, outside the measured time, for the calls still out, so each iteration starts empty.
   *
   * @throws InterruptedException when interrupted
   */
  @TearDown(Level.Iteration)
  public void drain() throws InterruptedException {
    if (!permits.tryAcquire(inFlight, 30, TimeUnit.SECONDS)) {
      throw new IllegalStateException("calls still outstanding 30 s after the iteration ended");
    }
    permits.release(inFlight);
    Throwable t = failure.get();
    if (t != null) {
      throw new IllegalStateException("a call failed", t);
    }
  }
}
