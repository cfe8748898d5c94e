package dev.skiff.platform.server;

import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The queue between the thread that reads requests and a server's handler pool. It wakes a handler
 * thread per request only for endpoints that may block; the requests of an endpoint whose handlers
 * have been seen to finish quickly, every time, run one after another on a thread that is already
 * awake, as a single consumer thread would run them, and a sleeping thread is woken only when no thread
 * is draining the queue or the ones that are have not started a request for {@link #STALE_NANOS}.
 *
 * <p>Why: waking a parked thread for each request was the largest cost Skiff added to a call (on a
 * virtual machine, a wake-up of a thread on an idle CPU goes through the hypervisor): about one context
 * switch per request, where a single consumer thread takes several requests per wake-up.
 *
 * <p>The guess can be wrong: a handler that was always quick may block (a cache miss, a slow database).
 * Requests queued behind it then wait until another thread is woken: at the next request to arrive
 * after {@link #STALE_NANOS}, or at the server's watchdog pass (every 10 ms while requests are in
 * flight), whichever comes first. Once more than {@link #MAY_BLOCK_SHARE} of an endpoint's recent runs
 * took longer than {@link #SLOW_NANOS}, each of its requests wakes a thread of its own again (a handler
 * that always blocks is found after two to four runs). A new endpoint starts as one that may block and
 * earns the batching with about 190 quick runs. {@link Endpoint#asNonBlocking()} is the way to say that
 * a handler never blocks: such requests do not come here at all.
 */
final class HandlerQueue {
  /** A run that takes longer than this (wall time) counts as a slow one. */
  static final long SLOW_NANOS = 1_000_000;
  /**
   * Above this share of slow runs (a moving average over about the last 64 runs) an endpoint's handler
   * may block. A share, not a single slow run: on a busy machine a quick handler's thread is now and
   * then descheduled for a millisecond or more, which says nothing about the handler.
   */
  static final double MAY_BLOCK_SHARE = 0.05;
  /**
   * How long the draining threads may go without starting a request while others wait. Not less: on a
   * busy machine a thread that is merely waiting for a CPU goes that long without running now and then
   * (with 200 µs, and also with 100 µs for a draining thread found parked or waiting for a lock, a
   * thread was still woken for two requests in three, to no use: the CPU it needed was taken).
   */
  static final long STALE_NANOS = 1_000_000;

  /** What the queue knows of one endpoint's handler. */
  static final class Pace {
    /**
     * The share of slow runs, a moving average with weight 1/64; 1 for a new endpoint, which therefore
     * needs about 190 quick runs before its requests are batched. Updated without a lock: a lost update
     * is harmless.
     */
    private volatile double slowShare = 1;

    boolean batched() {
      return slowShare < MAY_BLOCK_SHARE;
    }

    void ran(long nanos) {
      double s = slowShare;
      slowShare = s + ((nanos > SLOW_NANOS ? 1 : 0) - s) / 64;
    }
  }

  private record Job(Runnable task, Pace pace) {}

  private final ThreadPoolExecutor pool;
  private final ConcurrentLinkedQueue<Job> queue = new ConcurrentLinkedQueue<>();
  private final AtomicInteger queued = new AtomicInteger();
  /** Drainers started and not yet finished: each holds (or is about to hold) one pool thread. */
  private final AtomicInteger drainers = new AtomicInteger();
  /** When a drainer last started a request (System.nanoTime). */
  private volatile long lastStart = System.nanoTime();
  private final Runnable drainer = this::drain;

  /** @param pool the handler threads; its maximum size bounds how many requests run at once */
  HandlerQueue(ThreadPoolExecutor pool) {
    this.pool = pool;
  }

  /**
   * Queues a request and wakes a thread for it if it needs one.
   *
   * @param task the request
   * @param pace its endpoint's pace
   * @throws RejectedExecutionException when the pool is shut down and no thread is left to run it (the
   *     task was taken back out of the queue)
   */
  void submit(Runnable task, Pace pace) {
    Job job = new Job(task, pace);
    queued.incrementAndGet(); // before the add, so that a drainer's decrement never takes it below 0
    queue.add(job);
    if (!pace.batched() || drainers.get() == 0 || stale()) {
      if (!startDrainer() && drainers.get() == 0 && queue.remove(job)) {
        queued.decrementAndGet();
        throw new RejectedExecutionException("no handler thread can take the request");
      }
    }
  }

  /**
   * Wakes threads for the waiting requests if the draining threads have started none for
   * {@link #STALE_NANOS}: called by the server's watchdog while requests are in flight.
   */
  void rescue() {
    if (queued.get() > 0 && stale()) {
      fill();
    }
  }

  /** @return whether the draining threads seem stuck: none started a request for {@link #STALE_NANOS} */
  private boolean stale() {
    return System.nanoTime() - lastStart > STALE_NANOS;
  }

  /** Starts a drainer per waiting request, up to the pool's size (which may just have grown). */
  void fill() {
    for (int n = queued.get(); n > 0 && startDrainer(); n--) {
      // one each
    }
  }

  /** @return the requests waiting for a thread */
  int size() {
    return queued.get();
  }

  /**
   * Takes a waiting request out of the queue.
   *
   * @param task the request
   * @return whether it was waiting (and is no longer)
   */
  boolean remove(Runnable task) {
    for (Iterator<Job> it = queue.iterator(); it.hasNext(); ) {
      Job j = it.next();
      if (j.task == task && queue.remove(j)) {
        queued.decrementAndGet();
        return true;
      }
    }
    return false;
  }

  /** @param into where the waiting requests go, taken out of the queue */
  void drainTo(List<Runnable> into) {
    for (Job j = queue.poll(); j != null; j = queue.poll()) {
      queued.decrementAndGet();
      into.add(j.task);
    }
  }

  /** @return whether a drainer was started (not when as many run as the pool has threads) */
  private boolean startDrainer() {
    if (!reserve()) {
      return false;
    }
    try {
      pool.execute(drainer);
      return true;
    } catch (RejectedExecutionException e) {
      drainers.decrementAndGet();
      return false;
    }
  }

  /** Counts one more drainer, unless as many run as the pool has threads. */
  private boolean reserve() {
    for (;;) {
      int d = drainers.get();
      if (d >= pool.getMaximumPoolSize()) {
        return false;
      }
      if (drainers.compareAndSet(d, d + 1)) {
        return true;
      }
    }
  }

  private void drain() {
    boolean counted = true;
    try {
      for (;;) {
        Job j = queue.poll();
        if (j == null) {
          drainers.decrementAndGet();
          counted = false;
          // a request queued after the poll above, by a thread that saw this drainer still running and
          // did not start another, is taken here
          if (queue.isEmpty() || !reserve()) {
            return;
          }
          counted = true;
          continue;
        }
        queued.decrementAndGet();
        long t0 = System.nanoTime();
        lastStart = t0;
        try {
          j.task.run();
        } finally {
          j.pace.ran(System.nanoTime() - t0);
        }
      }
    } finally {
      if (counted) {
        drainers.decrementAndGet(); // a task threw: this thread is gone, the next request starts another
      }
    }
  }

}
