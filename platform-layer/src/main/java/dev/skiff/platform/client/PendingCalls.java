package dev.skiff.platform.client;

import com.codahale.metrics.Counter;
import com.codahale.metrics.MetricRegistry;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.internal.BusySweep;
import dev.skiff.platform.security.ServiceIdentities;
import dev.skiff.platform.transport.ReplyMessage;
import java.time.Clock;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A client's attempts waiting for their replies, by correlation id: each ends exactly once, with its
 * reply, at its deadline (TIMEOUT, found by one sweep that runs when the earliest deadline comes, none
 * while idle), or when replies can no longer come (UNAVAILABLE). A reply nobody waits for any more is counted
 * ({@code skiff.client.late-replies}) and dropped, and so is a reply from a broker user that may not act
 * as the service called ({@code skiff.client.impostor-replies}). Bounds the attempts in flight ({@code maxInFlight}).
 * Thread-safe.
 */
final class PendingCalls {
  private static final Logger log = LoggerFactory.getLogger(PendingCalls.class);
  /**
   * The least time between two passes of the sweep that looks for attempts past their deadline, and so
   * how late a deadline may be found: one sweep, rather than a scheduled task per call, so that sending a
   * call wakes no thread. It runs when the earliest deadline of the attempts pending comes, not
   * periodically: a client whose calls are all answered in time wakes about once per
   * {@link #MAX_SWEEP_GAP_MILLIS} (the deadline of the oldest call pending, at the latest).
   */
  static final long TIMEOUT_SWEEP_MILLIS = 10;
  /** The most time between two passes while attempts are pending (a guard against a clock that moved). */
  static final long MAX_SWEEP_GAP_MILLIS = 1000;

  /** One attempt waiting for its reply. */
  abstract static class Waiter {
    /** The service called: only a user that may act as it may answer. */
    final String service;
    final long sentMillis;
    final long deadlineMillis;

    Waiter(String service, long sentMillis, long deadlineMillis) {
      this.service = service;
      this.sentMillis = sentMillis;
      this.deadlineMillis = deadlineMillis;
    }

    /** Its reply came. */
    abstract void replied(ReplyMessage reply);

    /** It failed before a reply came: its deadline passed, replies were lost, or it was not sent. */
    abstract void failed(SkiffException e);

    /** @return the error for its deadline passing with no reply */
    abstract SkiffException timedOut();

    /** @return the error for its reply no longer being able to come */
    abstract SkiffException repliesLost(String reason);
  }

  private final Map<String, Waiter> waiting = new ConcurrentHashMap<>();
  private final AtomicInteger inFlight = new AtomicInteger();
  /** Takes {@link #inFlight} out of the registry's gauge, which sums every client's. */
  private final Runnable inFlightGauge;
  private final int maxInFlight;
  private final Clock clock;
  private final BusySweep sweep;
  private final Counter lateReplies;
  private final Counter timeouts;
  private final Counter impostorReplies;
  private final ServiceIdentities identities;

  /**
   * @param maxInFlight the most attempts in flight at once
   * @param timer the thread the sweep runs on
   * @param metrics where the counters and the in-flight gauge go
   * @param clock the clock deadlines are measured by
   * @param identities which broker users may answer for which service
   */
  PendingCalls(int maxInFlight, ScheduledExecutorService timer, MetricRegistry metrics, Clock clock, ServiceIdentities identities) {
    this.identities = identities;
    this.maxInFlight = maxInFlight;
    this.clock = clock;
    this.sweep = new BusySweep(timer, TIMEOUT_SWEEP_MILLIS, MAX_SWEEP_GAP_MILLIS, this::sweep);
    this.lateReplies = metrics.counter("skiff.client.late-replies");
    this.timeouts = metrics.counter("skiff.client.timeouts");
    this.impostorReplies = metrics.counter("skiff.client.impostor-replies");
    this.inFlightGauge = SummedGauge.add(metrics, "skiff.client.in-flight", inFlight::get);
  }

  /** Takes this client's calls out of the registry's in-flight gauge (at its close). */
  void leaveMetrics() {
    inFlightGauge.run();
  }

  /** @return the counter of calls that ended in TIMEOUT (also those with no time left to start) */
  Counter timeouts() {
    return timeouts;
  }

  /**
   * Takes a place for an attempt.
   *
   * @throws SkiffException CAPACITY when {@code maxInFlight} attempts are in flight already
   */
  void reserve() {
    if (inFlight.incrementAndGet() > maxInFlight) {
      inFlight.decrementAndGet();
      throw new SkiffException(ErrorCode.CAPACITY, "this client already has " + maxInFlight + " calls in flight (maxInFlight)");
    }
  }

  /**
   * Waits for an attempt's reply (in a place taken by {@link #reserve}).
   *
   * @param correlationId the attempt's correlation id
   * @param w the waiter
   */
  void add(String correlationId, Waiter w) {
    waiting.put(correlationId, w);
    sweep.arm(w.deadlineMillis - w.sentMillis); // the clock was read when the attempt was made
  }

  /**
   * Ends a waiting attempt with an error, unless it has ended already.
   *
   * @param correlationId the attempt's correlation id
   * @param w the waiter
   * @param e the error
   */
  void fail(String correlationId, Waiter w, SkiffException e) {
    if (waiting.remove(correlationId, w)) {
      end(w).failed(e);
    }
  }

  /**
   * Ends a waiting attempt with an error, if it is still waiting.
   *
   * @param correlationId the attempt's correlation id
   * @param e the error
   */
  void fail(String correlationId, SkiffException e) {
    Waiter w = waiting.remove(correlationId);
    if (w != null) {
      end(w).failed(e);
    }
  }

  /**
   * Ends the attempt a reply answers, if it came from a user that may act as the service called; a reply
   * from any other (an impostor that learnt the reply address and correlation id) is counted
   * ({@code skiff.client.impostor-replies}), logged and dropped, and the attempt waits on for the real one.
   *
   * @param reply a reply from the transport
   */
  void onReply(ReplyMessage reply) {
    Waiter w = waiting.get(reply.correlationId());
    if (w == null) {
      lateReplies.inc();
      return;
    }
    if (!identities.mayActAs(reply.userId(), w.service)) {
      impostorReplies.inc();
      log.warn("dropped a reply to a call of {} from {}, which may not act as that service", w.service,
          reply.userId() == null ? "a sender with no proven identity" : "broker user '" + reply.userId() + "'");
      return;
    }
    if (waiting.remove(reply.correlationId(), w)) {
      end(w).replied(reply);
    } else {
      lateReplies.inc();
    }
  }

  /** @param reason why replies to every waiting attempt can no longer come */
  void onRepliesLost(String reason) {
    for (String id : waiting.keySet()) {
      Waiter w = waiting.remove(id);
      if (w != null) {
        end(w).failed(w.repliesLost(reason));
      }
    }
  }

  /** @param e the error every waiting attempt ends with (the client is closing) */
  void failAll(SkiffException e) {
    for (String id : waiting.keySet()) {
      Waiter w = waiting.remove(id);
      if (w != null) {
        end(w).failed(e);
      }
    }
  }

  /** Releases the place of an attempt that was not added (refused before it waited for a reply). */
  void release() {
    inFlight.decrementAndGet();
  }

  private Waiter end(Waiter w) {
    inFlight.decrementAndGet();
    return w;
  }

  /**
   * The sweep's pass: fails every attempt whose deadline has come.
   *
   * @return in how many milliseconds the earliest deadline of the attempts still pending comes, or
   *     {@link BusySweep#IDLE} when none is pending
   */
  private long sweep() {
    long now = clock.millis();
    long earliest = Long.MAX_VALUE;
    for (Map.Entry<String, Waiter> e : waiting.entrySet()) {
      Waiter w = e.getValue();
      if (w.deadlineMillis <= now) {
        if (waiting.remove(e.getKey(), w)) {
          timeouts.inc();
          end(w).failed(w.timedOut());
        }
      } else {
        earliest = Math.min(earliest, w.deadlineMillis);
      }
    }
    return earliest == Long.MAX_VALUE ? BusySweep.IDLE : earliest - now;
  }
}
