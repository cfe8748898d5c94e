package dev.skiff.platform.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class HandlerQueueTest {
  private final ThreadPoolExecutor pool = new ThreadPoolExecutor(4, 4, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>());
  private final HandlerQueue queue = new HandlerQueue(pool);

  @AfterEach
  void stop() {
    pool.shutdownNow();
  }

  /** A request that counts {@code started} down, then waits for {@code release}. */
  private static Runnable blockingUntil(CountDownLatch started, CountDownLatch release) {
    return () -> {
      started.countDown();
      try {
        release.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    };
  }

  /**
   * Lets {@link HandlerQueue#STALE_NANOS} go by from now, so that no request has started for that long:
   * time passing is the condition the behaviour under test depends on, not a wait for other threads.
   */
  private static void letTheQueueGoStale() {
    long from = System.nanoTime();
    await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(1))
        .until(() -> System.nanoTime() - from > HandlerQueue.STALE_NANOS);
  }

  private static HandlerQueue.Pace quickPace() {
    HandlerQueue.Pace p = new HandlerQueue.Pace();
    for (int i = 0; i < 300; i++) {
      p.ran(10_000);
    }
    assertThat(p.batched()).isTrue();
    return p;
  }

  @Test
  void aNewEndpointMayBlockUntilItsHandlerHasBeenQuickAFewHundredTimesAndOneThatBlocksIsFoundInAFewRuns() {
    HandlerQueue.Pace p = new HandlerQueue.Pace();
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
    HandlerQueue.Pace quick = quickPace();
    AtomicInteger ran = new AtomicInteger();
    for (int i = 0; i < 2_000; i++) {
      queue.submit(ran::incrementAndGet, quick);
    }
    await().atMost(Duration.ofSeconds(30)).until(() -> ran.get() == 2_000);
    await().atMost(Duration.ofSeconds(30)).until(() -> pool.getActiveCount() == 0);
    long drainers = pool.getCompletedTaskCount();
    assertThat(drainers).as("threads woken for 2,000 quick requests").isLessThan(500);

    HandlerQueue.Pace mayBlock = new HandlerQueue.Pace();
    CountDownLatch hold = new CountDownLatch(1);
    CountDownLatch started = new CountDownLatch(4);
    for (int i = 0; i < 4; i++) {
      queue.submit(blockingUntil(started, hold), mayBlock);
    }
    assertThat(started.await(30, TimeUnit.SECONDS)).as("four requests that may block run at once on four threads").isTrue();
    hold.countDown();
  }

  @Test
  void requestsQueuedBehindAQuickHandlerThatBlocksAreRescuedAtTheNextArrivalOrByTheWatchdog() throws Exception {
    HandlerQueue.Pace quick = quickPace();
    List<CountDownLatch> held = new ArrayList<>();
    // A quick request that blocks queues another the moment it has started, so that the queue is not
    // stale (a request has just started) and the arrival wakes no thread: the blocked thread is the only
    // one awake, and the second waits for it... (On a machine so busy that a millisecond passed between
    // the two, the arrival already woke a thread: then it is tried again, with a pace of its own.)
    await().atMost(Duration.ofSeconds(30)).until(() -> {
      HandlerQueue.Pace pace = quickPace();
      CountDownLatch second = new CountDownLatch(1);
      CountDownLatch queued = new CountDownLatch(1);
      CountDownLatch releaseThis = new CountDownLatch(1);
      long drainersBefore = pool.getTaskCount();
      queue.submit(() -> {
        queue.submit(second::countDown, pace);
        queued.countDown();
        try {
          releaseThis.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }, pace);
      assertThat(queued.await(30, TimeUnit.SECONDS)).isTrue();
      if (pool.getTaskCount() > drainersBefore + 1) {
        releaseThis.countDown(); // the arrival found the queue stale: try again
        await().atMost(Duration.ofSeconds(30)).until(() -> second.getCount() == 0 && pool.getActiveCount() == 0);
        return false;
      }
      assertThat(second.getCount()).as("waits behind the blocked one").isEqualTo(1);
      // ...until a pass of the watchdog finds the queue stale (no request started for STALE_NANOS) and
      // wakes a thread: the passes here are the test's
      await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(1)).until(() -> {
        queue.rescue();
        return second.getCount() == 0;
      });
      held.add(releaseThis); // it stays blocked until the end
      return true;
    });

    // or until a request arrives after the awake threads have started nothing for a while: here the
    // first to arrive after a pause blocks as well, on a thread of its own...
    letTheQueueGoStale();
    CountDownLatch blocking2 = new CountDownLatch(1);
    CountDownLatch release2 = new CountDownLatch(1);
    queue.submit(blockingUntil(blocking2, release2), quick);
    assertThat(blocking2.await(30, TimeUnit.SECONDS)).isTrue();
    // ...the next one waits behind it, and the one after a pause brings a thread for both
    CountDownLatch third = new CountDownLatch(2);
    queue.submit(third::countDown, quick);
    letTheQueueGoStale();
    queue.submit(third::countDown, quick);
    assertThat(third.await(30, TimeUnit.SECONDS)).as("rescued by the next arrival").isTrue();
    release2.countDown();
    held.forEach(CountDownLatch::countDown);
  }

  @Test
  void waitingRequestsCanBeCountedTakenBackAndDrainedAndNoneIsLostWhenThePoolIsShutDown() throws Exception {
    HandlerQueue.Pace mayBlock = new HandlerQueue.Pace();
    CountDownLatch hold = new CountDownLatch(1);
    for (int i = 0; i < 4; i++) {
      queue.submit(blockingUntil(new CountDownLatch(1), hold), mayBlock);
    }
    await().atMost(Duration.ofSeconds(30)).until(() -> pool.getActiveCount() == 4);
    AtomicInteger ran = new AtomicInteger();
    Runnable a = ran::incrementAndGet;
    Runnable b = ran::incrementAndGet;
    Runnable c = ran::incrementAndGet;
    queue.submit(a, mayBlock);
    queue.submit(b, mayBlock);
    queue.submit(c, mayBlock);
    assertThat(queue.size()).as("all four threads busy: three wait").isEqualTo(3);
    assertThat(queue.remove(b)).isTrue();
    assertThat(queue.remove(b)).as("taken once").isFalse();
    List<Runnable> drained = new ArrayList<>();
    queue.drainTo(drained);
    assertThat(drained).containsExactly(a, c);
    assertThat(queue.size()).isZero();
    hold.countDown();
    await().atMost(Duration.ofSeconds(30)).until(() -> pool.getActiveCount() == 0);
    assertThat(ran).as("drained requests are the caller's, not run").hasValue(0);

    pool.shutdown();
    assertThatThrownBy(() -> queue.submit(ran::incrementAndGet, mayBlock)).isInstanceOf(RejectedExecutionException.class);
    assertThat(queue.size()).as("a refused request is not left in the queue").isZero();
  }
}
