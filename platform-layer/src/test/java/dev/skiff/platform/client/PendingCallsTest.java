package dev.skiff.platform.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.codahale.metrics.MetricRegistry;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.security.ServiceIdentities;
import dev.skiff.platform.transport.ReplyMessage;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The timeout sweep of a client's pending attempts: on time, and without waking a thread every few ms. */
class PendingCallsTest {
  private final ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1);
  private final MetricRegistry metrics = new MetricRegistry();
  private final PendingCalls pending = new PendingCalls(100, timer, metrics, Clock.systemUTC(), ServiceIdentities.defaults());

  @AfterEach
  void stop() {
    timer.shutdownNow();
  }

  /** A waiter whose end is a future: the time it ended (System.nanoTime) or its error. */
  private static final class Attempt extends PendingCalls.Waiter {
    final CompletableFuture<Long> ended = new CompletableFuture<>();
    volatile SkiffException error;

    Attempt(long timeoutMillis) {
      super("test.echo", System.currentTimeMillis(), System.currentTimeMillis() + timeoutMillis);
    }

    @Override
    void replied(ReplyMessage reply) {
      ended.complete(System.nanoTime());
    }

    @Override
    void failed(SkiffException e) {
      error = e;
      ended.complete(System.nanoTime());
    }

    @Override
    SkiffException timedOut() {
      return new SkiffException(ErrorCode.TIMEOUT, "timed out");
    }

    @Override
    SkiffException repliesLost(String reason) {
      return new SkiffException(ErrorCode.UNAVAILABLE, reason);
    }
  }

  private Attempt add(String id, long timeoutMillis) {
    Attempt a = new Attempt(timeoutMillis);
    pending.reserve();
    pending.add(id, a);
    return a;
  }

  @Test
  void anAttemptTimesOutAtItsDeadlineAndTheSweepDoesNotRunInBetween() throws Exception {
    long t0 = System.nanoTime();
    Attempt a = add("a", 800);
    TimeUnit.MILLISECONDS.sleep(500);
    // a pass every 10 ms while the attempt waits would be about 50 passes by now (one, if this thread
    // overslept past the deadline on a busy machine)
    assertThat(timer.getCompletedTaskCount()).as("passes before any deadline came").isLessThanOrEqualTo(1);
    long endedAt = a.ended.get(10, TimeUnit.SECONDS);
    assertThat(a.error.code()).isEqualTo(ErrorCode.TIMEOUT);
    assertThat(Duration.ofNanos(endedAt - t0)).isGreaterThanOrEqualTo(Duration.ofMillis(795)).isLessThan(Duration.ofMillis(1500));
    assertThat(metrics.counter("skiff.client.timeouts").getCount()).isEqualTo(1);
    // nothing pending: nothing scheduled
    await().atMost(Duration.ofSeconds(5)).until(() -> timer.getQueue().isEmpty() && timer.getActiveCount() == 0);
  }

  @Test
  void anAttemptWithAShorterTimeoutIsNotLeftWaitingForTheLongerOnes() throws Exception {
    Attempt slow = add("slow", 5_000);
    long t0 = System.nanoTime();
    Attempt quick = add("quick", 150);
    long endedAt = quick.ended.get(10, TimeUnit.SECONDS);
    assertThat(quick.error.code()).isEqualTo(ErrorCode.TIMEOUT);
    assertThat(Duration.ofNanos(endedAt - t0)).isLessThan(Duration.ofMillis(1000));
    assertThat(slow.ended).isNotDone();
    pending.failAll(new SkiffException(ErrorCode.UNAVAILABLE, "closing"));
    assertThat(slow.error.code()).isEqualTo(ErrorCode.UNAVAILABLE);
  }
}
