package dev.skiff.platform.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.skiff.platform.transport.Transport;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The handler pool's queue, watchdog and compensation, as pure logic on real threads (no transport). */
class HandlerPoolTest {
  private static final long FAR = Long.MAX_VALUE / 2;
  /** A watchdog that never sweeps within a test: only arrivals rescue waiting requests. */
  private static final long NO_WATCHDOG = Duration.ofHours(1).toMillis();

  private HandlerPool<Job> pool = new HandlerPool<>("test.pool", 4, Clock.systemUTC(), NO_WATCHDOG);

  @AfterEach
  void stop() {
    pool.shutdownNow();
  }

  /** Replaces the test's pool, whose watchdog never sweeps, with one of {@code threads} threads whose watchdog does. */
  private void useWatchdog(int threads) {
    pool.shutdownNow();
    pool = new HandlerPool<>("test.pool", threads, Clock.systemUTC());
  }

  /** A request as the pool sees it, recording what the watchdog told it. */
  private static final class Job implements HandlerPool.Task {
    final Runnable body;
    final long deadline;
    final AtomicBoolean expired = new AtomicBoolean();
    final AtomicBoolean overran = new AtomicBoolean();
    final AtomicInteger ran = new AtomicInteger();
    /** How often its deadline was read: once when it was submitted, then once per pass of the watchdog. */
    final AtomicInteger deadlineReads = new AtomicInteger();

    Job(Runnable body, long deadline) {
      this.body = body;
      this.deadline = deadline;
    }

    @Override
    public void run() {
      ran.incrementAndGet();
      body.run();
    }

    @Override
    public long deadlineMillis() {
      deadlineReads.incrementAndGet();
      return deadline;
    }

    @Override
    public void expired() {
      expired.set(true);
    }

    @Override
    public boolean overran() {
      return !overran.getAndSet(true);
    }
  }

  private static Job job(Runnable body) {
    return new Job(body, FAR);
  }

  /** A request that counts {@code started} down, then waits for {@code release} (or an interrupt). */
  private static Job blockingUntil(CountDownLatch started, CountDownLatch release) {
    return job(() -> {
      started.countDown();
      try {
        release.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
  }

  private static HandlerPool.Pace quickPace() {
    HandlerPool.Pace p = new HandlerPool.Pace();
    for (int i = 0; i < 300; i++) {
      p.ran(10_000);
    }
    assertThat(p.batched()).isTrue();
    return p;
  }

  /**
   * Starts requests that run until the returned latch is released, one on each of the pool's threads.
   *
   * @param threads the pool's threads
   * @param mayBlock the pace of an endpoint that may block (each request gets a thread of its own)
   * @return what releases them
   */
  private CountDownLatch occupyThreads(int threads, HandlerPool.Pace mayBlock) throws InterruptedException {
    CountDownLatch hold = new CountDownLatch(1);
    CountDownLatch busy = new CountDownLatch(threads);
    for (int i = 0; i < threads; i++) {
      pool.submit(blockingUntil(busy, hold), mayBlock);
    }
    assertThat(busy.await(10, TimeUnit.SECONDS)).isTrue();
    return hold;
  }

  /** Lets more than {@link HandlerPool#STALE_NANOS} pass: the rule under test is about elapsed time. */
  private static void pastStale() throws InterruptedException {
    long until = System.nanoTime() + 3 * HandlerPool.STALE_NANOS;
    while (System.nanoTime() < until) {
      Thread.sleep(1);
    }
  }

  @Test
  void aNewEndpointMayBlockUntilItsHandlerHasBeenQuickAFewHundredTimesAndOneThatBlocksIsFoundInAFewRuns() {
    HandlerPool.Pace p = new HandlerPool.Pace();
    assertThat(p.batched()).as("new").isFalse();
    for (int i = 0; i < 150; i++) {
      p.ran(10_000);
    }
    assertThat(p.batched()).as("150 quick runs").isFalse();
    for (int i = 0; i < 100; i++) {
      p.ran(10_000);
    }
    assertThat(p.batched()).as("250 quick runs").isTrue();
    // a thread descheduled now and then is not a handler that blocks
    p.ran(5_000_000);
    for (int i = 0; i < 50; i++) {
      p.ran(10_000);
    }
    assertThat(p.batched()).as("one slow run in 50").isTrue();
    int slow = 0;
    while (p.batched()) {
      p.ran(50_000_000);
      slow++;
    }
    assertThat(slow).as("slow runs before the endpoint may block").isBetween(2, 5);
  }

  @Test
  void quickRequestsRunInBatchesOnAThreadThatIsAwakeAndMayBlockRequestsEachWakeOne() throws Exception {
    HandlerPool.Pace quick = quickPace();
    AtomicInteger ran = new AtomicInteger();
    AtomicInteger threads = new AtomicInteger();
    java.util.Set<Thread> seen = java.util.concurrent.ConcurrentHashMap.newKeySet();
    for (int i = 0; i < 2_000; i++) {
      pool.submit(job(() -> {
        if (seen.add(Thread.currentThread())) {
          threads.incrementAndGet();
        }
        ran.incrementAndGet();
      }), quick);
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> ran.get() == 2_000 && pool.inFlight() == 0);
    assertThat(threads.get()).as("threads that ran 2,000 quick requests").isLessThanOrEqualTo(4);

    HandlerPool.Pace mayBlock = new HandlerPool.Pace();
    CountDownLatch hold = new CountDownLatch(1);
    CountDownLatch started = new CountDownLatch(4);
    for (int i = 0; i < 4; i++) {
      pool.submit(blockingUntil(started, hold), mayBlock);
    }
    assertThat(started.await(10, TimeUnit.SECONDS)).as("four requests that may block run at once on four threads").isTrue();
    hold.countDown();
  }

  @Test
  void requestsQueuedBehindAQuickHandlerThatBlocksAreRescuedByTheNextArrivalAfterAPause() throws Exception {
    HandlerPool.Pace quick = quickPace();
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch blocking = new CountDownLatch(1);
    pool.submit(blockingUntil(blocking, release), quick);
    assertThat(blocking.await(10, TimeUnit.SECONDS)).isTrue();
    // the blocked thread is the only one awake: a quick request queued now waits behind it, and the one
    // arriving after a pause (the awake thread has started nothing for a while) brings a thread for both
    CountDownLatch both = new CountDownLatch(2);
    pool.submit(job(both::countDown), quick);
    pastStale();
    pool.submit(job(both::countDown), quick);
    assertThat(both.await(10, TimeUnit.SECONDS)).as("rescued by the next arrival").isTrue();
    release.countDown();
  }

  @Test
  void requestsQueuedBehindAQuickHandlerThatBlocksAreRescuedByTheWatchdog() throws Exception {
    useWatchdog(4);
    HandlerPool.Pace quick = quickPace();
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch second = new CountDownLatch(1);
    CountDownLatch queued = new CountDownLatch(1);
    // the second request is queued by the first as it starts: a request has just started, so the arrival
    // finds the awake thread fresh and wakes none; the first then blocks, and only the watchdog's pass
    // (which finds no request started for a while) can wake a thread for the second
    pool.submit(job(() -> {
      pool.submit(job(second::countDown), quick);
      queued.countDown();
      try {
        release.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }), quick);
    assertThat(queued.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(second.await(10, TimeUnit.SECONDS)).as("rescued by the watchdog's pass").isTrue();
    release.countDown();
  }

  @Test
  void theWatchdogDropsAQueuedRequestPastItsDeadlineAndAnswersARunningOneAndLendsAThread() throws Exception {
    useWatchdog(1);
    HandlerPool.Pace mayBlock = new HandlerPool.Pace();
    long soon = System.currentTimeMillis() + 300;
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch never = new CountDownLatch(1);
    AtomicBoolean interrupted = new AtomicBoolean();
    Job stuck = new Job(() -> {
      started.countDown();
      try {
        never.await();
      } catch (InterruptedException e) {
        interrupted.set(true);
        // a handler that ignores its interrupt and goes on: its thread stays taken
        try {
          never.await();
        } catch (InterruptedException again) {
          Thread.currentThread().interrupt();
        }
      }
    }, soon);
    pool.submit(stuck, mayBlock);
    assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
    Job queued = new Job(() -> { }, soon);
    pool.submit(queued, mayBlock);
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
      assertThat(stuck.overran).as("the running one is answered TIMEOUT").isTrue();
      assertThat(interrupted).as("and its thread interrupted").isTrue();
    });
    // the only thread is stuck, so the queued one waited past its deadline: dropped or, if the lent
    // thread took it first, run; never both
    await().atMost(Duration.ofSeconds(10)).until(() -> queued.expired.get() || queued.ran.get() == 1);
    assertThat(queued.expired.get() && queued.ran.get() == 1).isFalse();
    // the thread lent for the stuck handler serves the next request
    CountDownLatch served = new CountDownLatch(1);
    pool.submit(job(served::countDown), mayBlock);
    assertThat(served.await(10, TimeUnit.SECONDS)).as("served on the lent thread").isTrue();
    never.countDown();
  }

  /** A transport binding that records the batches run with their writes held, and the flushes asked for. */
  private static final class HeldWrites implements Transport.ServerBinding {
    /** For each batch, the thread that ran it. */
    final List<Thread> batches = new java.util.concurrent.CopyOnWriteArrayList<>();
    /** The threads running a batch now (several threads may each run one). */
    final java.util.Set<Thread> holding = java.util.concurrent.ConcurrentHashMap.newKeySet();
    /** Requests run while their thread held its writes. */
    final AtomicInteger ranHeld = new AtomicInteger();
    final AtomicInteger flushes = new AtomicInteger();

    @Override
    public void holdingWrites(Runnable batch) {
      holding.add(Thread.currentThread());
      batches.add(Thread.currentThread());
      try {
        batch.run();
      } finally {
        holding.remove(Thread.currentThread());
      }
    }

    /** Notes whether the current request runs inside a batch. */
    void ran() {
      if (holding.contains(Thread.currentThread())) {
        ranHeld.incrementAndGet();
      }
    }

    @Override
    public void flushHeldWrites() {
      flushes.incrementAndGet();
    }

    @Override
    public void stopConsuming() {}

    @Override
    public void pause() {}

    @Override
    public void resume() {}

    @Override
    public void close() {}
  }

  @Test
  void quickRequestsWaitingTogetherRunAsOneBatchWithTheirRepliesHeldAndOnesThatMayBlockNever() throws Exception {
    pool.shutdownNow();
    pool = new HandlerPool<>("test.pool", 1, Clock.systemUTC(), NO_WATCHDOG);
    HeldWrites writes = new HeldWrites();
    pool.holdWritesWith(writes);
    HandlerPool.Pace quick = quickPace();
    HandlerPool.Pace mayBlock = new HandlerPool.Pace();
    // the one thread busy: what arrives meanwhile waits in the queue, 20 quick, one that may block, 20 quick
    CountDownLatch hold = occupyThreads(1, mayBlock);
    AtomicInteger quickRan = new AtomicInteger();
    AtomicInteger mayBlockHeld = new AtomicInteger();
    for (int i = 0; i < 20; i++) {
      pool.submit(job(() -> {
        writes.ran();
        quickRan.incrementAndGet();
      }), quick);
    }
    pool.submit(job(() -> {
      if (writes.holding.contains(Thread.currentThread())) {
        mayBlockHeld.incrementAndGet();
      }
    }), mayBlock);
    for (int i = 0; i < 20; i++) {
      pool.submit(job(() -> {
        writes.ran();
        quickRan.incrementAndGet();
      }), quick);
    }
    hold.countDown();
    await().atMost(Duration.ofSeconds(10)).until(() -> quickRan.get() == 40 && pool.inFlight() == 0);
    assertThat(writes.batches).as("batches: the quick ones before the one that may block, and those after").hasSize(2);
    assertThat(writes.ranHeld).as("quick requests run with their replies held").hasValue(40);
    assertThat(mayBlockHeld).as("a request that may block never holds others' replies").hasValue(0);
  }

  @Test
  void aQuickHandlerThatBlocksInABatchHasTheRepliesHeldBeforeItSentByTheWatchdog() throws Exception {
    useWatchdog(1);
    HeldWrites writes = new HeldWrites();
    pool.holdWritesWith(writes);
    HandlerPool.Pace quick = quickPace();
    CountDownLatch first = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch blocked = new CountDownLatch(1);
    // the one thread is held until three requests wait: they run as one batch, the second blocks
    pool.submit(job(() -> {
      try {
        first.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }), quick);
    pool.submit(job(() -> { }), quick);
    pool.submit(blockingUntil(blocked, release), quick);
    pool.submit(job(() -> { }), quick);
    first.countDown();
    assertThat(blocked.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(writes.holding).as("the blocked request runs in a batch").isNotEmpty();
    await().atMost(Duration.ofSeconds(10)).until(() -> writes.flushes.get() > 0);
    release.countDown();
    await().atMost(Duration.ofSeconds(10)).until(() -> pool.inFlight() == 0);
  }

  @Test
  void waitingRequestsAreHandedBackAtShutdownAndNoneIsLostAfterIt() throws Exception {
    HandlerPool.Pace mayBlock = new HandlerPool.Pace();
    CountDownLatch hold = occupyThreads(4, mayBlock);
    AtomicInteger ran = new AtomicInteger();
    Job a = job(ran::incrementAndGet);
    Job b = job(ran::incrementAndGet);
    pool.submit(a, mayBlock);
    pool.submit(b, mayBlock);
    assertThat(pool.queued()).as("all four threads busy: two wait").isEqualTo(2);
    assertThat(pool.inFlight()).as("four running, two waiting").isEqualTo(6);
    List<Job> unstarted = pool.shutdown();
    assertThat(unstarted).containsExactly(a, b);
    assertThat(pool.queued()).isZero();
    hold.countDown();
    assertThat(pool.awaitTermination(Duration.ofSeconds(10))).isTrue();
    assertThat(ran).as("handed-back requests are the caller's, not run").hasValue(0);
    assertThatThrownBy(() -> pool.submit(job(ran::incrementAndGet), mayBlock)).isInstanceOf(RejectedExecutionException.class);
    assertThat(pool.queued()).as("a refused request is not left in the queue").isZero();
    assertThat(pool.inFlight()).isZero();
  }

  @Test
  void aRequestOnAThreadOfItsOwnIsWatchedAtItsDeadlineNotEveryPeriod() throws Exception {
    // a request of an endpoint that may block wakes a thread of its own: nothing is queued, no batch
    // runs, so the watchdog need only look when its deadline (plus the grace) has come
    useWatchdog(2);
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    long deadline = System.currentTimeMillis() + 700;
    Job slow = new Job(() -> {
      started.countDown();
      try {
        release.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, deadline);
    long t0 = System.nanoTime();
    pool.submit(slow, new HandlerPool.Pace());
    assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
    Thread.sleep(500);
    // a pass every period while it runs would have read its deadline about 50 times by now
    assertThat(slow.deadlineReads.get()).as("reads of the deadline before it came").isLessThanOrEqualTo(2);
    await().atMost(Duration.ofSeconds(10)).until(slow.overran::get);
    assertThat(Duration.ofNanos(System.nanoTime() - t0))
        .as("answered TIMEOUT at its deadline plus the grace, not before")
        .isGreaterThanOrEqualTo(Duration.ofMillis(700).plus(HandlerPool.OVERRUN_GRACE).minusMillis(5));
    release.countDown();
  }
}
