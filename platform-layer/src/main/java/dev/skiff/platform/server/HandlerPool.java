package dev.skiff.platform.server;

import dev.skiff.platform.internal.BusySweep;
import dev.skiff.platform.internal.Threads;
import dev.skiff.platform.transport.Transport;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a server's handlers: a bounded pool of threads, the queue in front of it, and the watchdog that
 * answers requests still running past their deadline and lends the pool a thread for each handler stuck
 * that way (up to {@code concurrency} extra), so that a hung handler does not take the service's
 * capacity with it.
 *
 * <p><b>The queue.</b> It wakes a handler thread per request only for endpoints that may block; the
 * requests of an endpoint whose handlers have been seen to finish quickly, every time, run one after
 * another on a thread that is already awake, as a single consumer thread would run them, and a sleeping
 * thread is woken only when no thread is draining the queue or the ones that are have not started a
 * request for {@link #STALE_NANOS}. Why: waking a parked thread for each request was the largest cost
 * Skiff added to a call (on a virtual machine, a wake-up of a thread on an idle CPU goes through the
 * hypervisor): about one context switch per request, where a single consumer thread takes several
 * requests per wake-up.
 *
 * <p>The guess can be wrong: a handler that was always quick may block (a cache miss, a slow database).
 * Requests queued behind it then wait until another thread is woken: at the next request to arrive
 * after {@link #STALE_NANOS}, or at the watchdog's pass (every {@link #WATCHDOG_PERIOD_MILLIS} while
 * requests are in flight), whichever comes first. Once more than {@link #MAY_BLOCK_SHARE} of an
 * endpoint's recent runs took longer than {@link #SLOW_NANOS}, each of its requests wakes a thread of its
 * own again (a handler that always blocks is found after two to four runs). A new endpoint starts as one
 * that may block and earns the batching with about 190 quick runs. {@link Endpoint#asNonBlocking()} is
 * the way to say that a handler never blocks: such requests run on the thread that delivered them
 * ({@link #runInline}), still watched.
 *
 * <p><b>Replies leave together.</b> When a thread takes a quick request and finds more waiting, it runs
 * them as a batch (up to {@link #MAX_BATCH}, quick ones only) with the transport holding back the writes
 * of their replies until the batch ends ({@link Transport.ServerBinding#holdingWrites}): one system call
 * and one segment for the broker where each reply was a write of its own (about 5 µs of JVM and 5 µs
 * of broker CPU per call at 64 in flight; docs/performance.md). A request that may block never runs in
 * a batch. If a quick handler blocks in one anyway, the watchdog's next pass (every
 * {@link #WATCHDOG_PERIOD_MILLIS} while requests are in flight, and a batch is one) sends the replies
 * held before it ({@link Transport.ServerBinding#flushHeldWrites}).
 *
 * <p><b>The watchdog.</b> One sweep over the requests in flight, rather than a timer per request, so
 * that no thread is woken per request; none while the server is idle, so that an idle service wakes no
 * thread at all (a sweep every 10 ms in each of 600 idle servers in one JVM took more than a core); and,
 * while requests run on threads of their own, only when the earliest of their deadlines (plus
 * {@link #OVERRUN_GRACE}) comes. It passes every {@link #WATCHDOG_PERIOD_MILLIS} only while it has
 * something to watch that often: requests waiting for a thread, a batch running, or a request running
 * inline. A service whose requests each wake a thread of their own (one caller at a time, or handlers
 * that may block) thus costs no periodic wake-up, where a pass every 10 ms was 100 a second: on a
 * virtual machine each costs tens of microseconds of CPU.
 *
 * <p>Thread-safe.
 *
 * @param <T> the requests it runs
 */
final class HandlerPool<T extends HandlerPool.Task> {
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
  /**
   * How often the watchdog passes while requests wait for a thread, a batch runs or a request runs
   * inline; also the least time between two passes, and so how late a deadline may be found.
   */
  static final long WATCHDOG_PERIOD_MILLIS = 10;
  /** The most time between two passes while requests are in flight (a guard against a clock that moved). */
  static final long MAX_WATCHDOG_GAP_MILLIS = 1000;
  /**
   * How long past its deadline a request may run before the watchdog answers it TIMEOUT and interrupts
   * its handler. The caller has stopped waiting at the deadline itself; the grace keeps the server's
   * answer from racing the caller's own timeout.
   */
  static final Duration OVERRUN_GRACE = Duration.ofMillis(100);
  /** The most requests run in a row with their replies' writes held back. */
  static final int MAX_BATCH = 32;

  private static final Logger log = LoggerFactory.getLogger(HandlerPool.class);

  /** A request to run, as the pool sees it. */
  interface Task extends Runnable {
    /** @return when the request's caller stops waiting (epoch milliseconds) */
    long deadlineMillis();

    /** The deadline passed while the request waited for a thread: it will not run (drop it). */
    void expired();

    /**
     * The deadline (plus {@link #OVERRUN_GRACE}) passed while the handler ran: answer TIMEOUT.
     *
     * @return false if the request was already answered (the pool then leaves its thread alone)
     */
    boolean overran();
  }

  /** What the pool knows of one endpoint's handler. */
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

  /** A task in flight: queued, running on a pool thread, or running inline. */
  private final class Job {
    final T task;
    final Pace pace;
    final boolean inline;
    volatile Thread runner;
    volatile boolean compensated;

    Job(T task, Pace pace, boolean inline) {
      this.task = task;
      this.pace = pace;
      this.inline = inline;
    }

    void run() {
      runner = inline ? null : Thread.currentThread();
      try {
        task.run();
      } finally {
        runner = null;
        Thread.interrupted();
        inFlight.remove(this);
        if (compensated) {
          compensate(-1);
        }
      }
    }
  }

  private final String service;
  private final int concurrency;
  private final Clock clock;
  private final ThreadPoolExecutor pool;
  private final ScheduledThreadPoolExecutor watchdog;
  private final BusySweep sweep;
  private final long watchdogPeriodMillis;
  private final Set<Job> inFlight = ConcurrentHashMap.newKeySet();
  private final ConcurrentLinkedQueue<Job> queue = new ConcurrentLinkedQueue<>();
  private final AtomicInteger queued = new AtomicInteger();
  /** Drainers started and not yet finished: each holds (or is about to hold) one pool thread. */
  private final AtomicInteger drainers = new AtomicInteger();
  /** When a drainer last started a request (System.nanoTime). */
  private volatile long lastStart = System.nanoTime();
  private final Runnable drainer = this::drain;
  /** Holds back the writes of a batch's replies ({@link #holdWritesWith}); null: none held. */
  private volatile Transport.ServerBinding writes;
  /** Batches running now. */
  private final AtomicInteger batches = new AtomicInteger();
  /** When the request running inline now started (System.nanoTime), or 0. */
  private volatile long inlineSince;
  private final Object sizeLock = new Object();
  /** Threads lent for handlers stuck past their deadline. */
  private int compensation;

  /**
   * @param service the service, for thread names and logs
   * @param concurrency how many handlers run at once
   * @param clock the clock deadlines are measured by
   */
  HandlerPool(String service, int concurrency, Clock clock) {
    this(service, concurrency, clock, WATCHDOG_PERIOD_MILLIS);
  }

  /**
   * @param service the service, for thread names and logs
   * @param concurrency how many handlers run at once
   * @param clock the clock deadlines are measured by
   * @param watchdogPeriodMillis how often the watchdog sweeps while requests are in flight (tests vary it)
   */
  HandlerPool(String service, int concurrency, Clock clock, long watchdogPeriodMillis) {
    this.service = service;
    this.concurrency = concurrency;
    this.clock = clock;
    this.pool = new ThreadPoolExecutor(
        concurrency, concurrency, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), Threads.named("skiff-handler-" + service));
    this.watchdog = new ScheduledThreadPoolExecutor(1, Threads.named("skiff-watchdog-" + service));
    this.watchdogPeriodMillis = watchdogPeriodMillis;
    this.sweep = new BusySweep(watchdog, watchdogPeriodMillis, Math.max(watchdogPeriodMillis, MAX_WATCHDOG_GAP_MILLIS), this::sweep);
  }

  /**
   * Queues a request and wakes a thread for it if it needs one.
   *
   * @param task the request
   * @param pace its endpoint's pace
   * @throws RejectedExecutionException when the pool is shut down and no thread is left to run it (the
   *     task was taken back out)
   */
  void submit(T task, Pace pace) {
    Job job = new Job(task, pace, false);
    inFlight.add(job);
    queued.incrementAndGet(); // before the add, so that a drainer's decrement never takes it below 0
    queue.add(job);
    boolean woke = false;
    if (!pace.batched() || drainers.get() == 0 || stale()) {
      woke = startDrainer();
      if (!woke && drainers.get() == 0 && queue.remove(job)) {
        queued.decrementAndGet();
        inFlight.remove(job);
        throw new RejectedExecutionException("no handler thread can take the request");
      }
    }
    // a thread woken for it: the watchdog need look only at its deadline; queued behind busy threads: it
    // looks again within a period, in case they have stopped taking requests
    sweep.arm(woke ? task.deadlineMillis() + OVERRUN_GRACE.toMillis() - clock.millis() : 0);
  }

  /**
   * Runs a request of a handler that never blocks on this thread, watched like the others (answered
   * TIMEOUT past its deadline) but never interrupted. The transport's thread may be holding back the
   * writes of replies it made before ({@link Transport.ServerBinding#holdingWrites}): if the handler
   * blocks anyway, the watchdog sends them.
   *
   * @param task the request
   */
  void runInline(T task) {
    Job job = new Job(task, null, true);
    inFlight.add(job);
    sweep.arm();
    inlineSince = System.nanoTime();
    try {
      job.run();
    } finally {
      inlineSince = 0;
    }
  }

  /**
   * From now on, runs the quick requests that wait in the queue one after another with the writes of
   * their replies held back until the last (see the class comment).
   *
   * @param binding the transport's binding the requests came from
   */
  void holdWritesWith(Transport.ServerBinding binding) {
    this.writes = binding;
  }

  /** @return requests queued or running (including inline ones) */
  int inFlight() {
    return inFlight.size();
  }

  /** @return requests waiting for a thread */
  int queued() {
    return queued.get();
  }

  /**
   * Stops taking requests and takes every request still waiting for a thread out of the queue; running
   * ones go on.
   *
   * @return the requests that never started
   */
  List<T> shutdown() {
    pool.shutdown();
    List<T> unstarted = new ArrayList<>();
    for (Job j = queue.poll(); j != null; j = queue.poll()) {
      queued.decrementAndGet();
      inFlight.remove(j);
      unstarted.add(j.task);
    }
    return unstarted;
  }

  /**
   * @param grace how long to wait
   * @return whether every running handler finished within it
   * @throws InterruptedException if interrupted while waiting
   */
  boolean awaitTermination(Duration grace) throws InterruptedException {
    return pool.awaitTermination(grace.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** @return the requests in flight now */
  List<T> inFlightTasks() {
    List<T> tasks = new ArrayList<>();
    for (Job j : inFlight) {
      tasks.add(j.task);
    }
    return tasks;
  }

  /** Interrupts every handler and stops the watchdog. */
  void shutdownNow() {
    pool.shutdownNow();
    watchdog.shutdownNow();
  }

  /**
   * The watchdog's pass: wakes threads for waiting requests if the awake ones have stopped taking them,
   * and overruns every request in flight past its deadline plus the grace.
   *
   * @return in how many milliseconds the next pass is due (see the class comment), or
   *     {@link BusySweep#IDLE} when no request is in flight
   */
  private long sweep() {
    if (queued.get() > 0 && stale()) {
      fill();
    }
    Transport.ServerBinding w = writes;
    long inline = inlineSince;
    if (w != null && (batches.get() > 0 || (inline != 0 && System.nanoTime() - inline > STALE_NANOS))) {
      // a batch is running (its current handler may have blocked: the other threads starting requests
      // say nothing of it), or a handler said never to block has run for a while: the replies made
      // before it leave now, not when it ends; with nothing held, this writes nothing
      w.flushHeldWrites();
    }
    long now = clock.millis();
    long cutoff = now - OVERRUN_GRACE.toMillis();
    long earliest = Long.MAX_VALUE;
    for (Job j : inFlight) {
      if (j.task.deadlineMillis() <= cutoff) {
        try {
          overrun(j);
        } catch (RuntimeException e) {
          log.warn("{}: the watchdog failed to time out a request", service, e);
        }
      } else {
        earliest = Math.min(earliest, j.task.deadlineMillis());
      }
    }
    if (inFlight.isEmpty()) {
      return BusySweep.IDLE;
    }
    if (queued.get() > 0 || batches.get() > 0 || inlineSince != 0) {
      return watchdogPeriodMillis;
    }
    return earliest == Long.MAX_VALUE ? watchdogPeriodMillis : earliest - cutoff;
  }

  private void overrun(Job j) {
    if (j.runner == null && !j.inline && remove(j)) {
      // never started: the caller has given up, so it is dropped like any expired request
      inFlight.remove(j);
      j.task.expired();
      return;
    }
    inFlight.remove(j);
    if (!j.task.overran()) {
      return;
    }
    Thread t = j.runner;
    if (t != null) {
      // only a thread that was added is taken away again when this handler ends
      j.compensated = compensate(+1);
      t.interrupt();
    }
  }

  /** @return whether the pool changed (not when +1 would pass the cap of {@code concurrency} extra) */
  private boolean compensate(int delta) {
    synchronized (sizeLock) {
      if (delta > 0 && compensation >= concurrency) {
        log.warn("{}: {} handlers are stuck past their deadline; not adding more threads", service, compensation);
        return false;
      }
      compensation += delta;
      int size = concurrency + compensation;
      if (delta > 0) {
        pool.setMaximumPoolSize(size);
        pool.setCorePoolSize(size);
        fill(); // the new thread takes a waiting request
      } else {
        pool.setCorePoolSize(size);
        pool.setMaximumPoolSize(size);
      }
      return true;
    }
  }

  /** @return whether the draining threads seem stuck: none started a request for {@link #STALE_NANOS} */
  private boolean stale() {
    return System.nanoTime() - lastStart > STALE_NANOS;
  }

  /** Starts a drainer per waiting request, up to the pool's size (which may just have grown). */
  private void fill() {
    for (int n = queued.get(); n > 0 && startDrainer(); n--) {
      // one more thread takes from the queue
    }
  }

  /** Takes a waiting request out of the queue; whether it was waiting (and is no longer). */
  private boolean remove(Job job) {
    for (Iterator<Job> it = queue.iterator(); it.hasNext(); ) {
      Job j = it.next();
      if (j == job && queue.remove(j)) {
        queued.decrementAndGet();
        return true;
      }
    }
    return false;
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

  /** A run of quick requests whose replies' writes are held back until it ends. */
  private final class Batch implements Runnable {
    private final Job first;
    /** The job taken from the queue that may block, to run after the held writes left; or null. */
    Job left;

    Batch(Job first) {
      this.first = first;
    }

    @Override
    public void run() {
      left = runBatch(first);
    }
  }

  /**
   * Runs a job of a quick endpoint and, after it, the quick jobs that follow in the queue (up to
   * {@link #MAX_BATCH}), while the transport holds back the writes of their replies.
   *
   * @return the job taken from the queue that may block (to run after the held writes left), or null
   */
  private Job runBatch(Job first) {
    runTimed(first);
    for (int n = 1; n < MAX_BATCH; n++) {
      Job j = queue.poll();
      if (j == null) {
        return null;
      }
      queued.decrementAndGet();
      if (!j.pace.batched()) {
        return j;
      }
      runTimed(j);
    }
    return null;
  }

  private void runTimed(Job j) {
    long t0 = System.nanoTime();
    lastStart = t0;
    try {
      j.run();
    } finally {
      j.pace.ran(System.nanoTime() - t0);
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
          // a request added after the poll and before the decrement found this drainer still counted and
          // woke none: look again, and drain on if it is there and no other drainer took the slot
          if (queue.isEmpty() || !reserve()) {
            return;
          }
          counted = true;
          continue;
        }
        queued.decrementAndGet();
        Transport.ServerBinding w = writes;
        if (w != null && j.pace.batched() && !queue.isEmpty()) {
          Batch batch = new Batch(j);
          batches.incrementAndGet();
          try {
            w.holdingWrites(batch);
          } finally {
            batches.decrementAndGet();
          }
          j = batch.left;
          if (j == null) {
            continue;
          }
        }
        runTimed(j);
      }
    } finally {
      if (counted) {
        drainers.decrementAndGet(); // a task threw: this thread is gone, the next request starts another
      }
    }
  }
}
