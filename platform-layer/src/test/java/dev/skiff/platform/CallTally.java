package dev.skiff.platform;

import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * The figures of one kind of call in a node-loss test (calls, OK, OK after the kill, failed by code, over
 * the deadline, longest, and how many times each request reached a handler), shared by the cluster tests
 * of the platform and the kernel.
 */
public final class CallTally {
  /** Calls started. */
  public final LongAdder calls = new LongAdder();
  /** Calls that succeeded. */
  public final LongAdder ok = new LongAdder();
  /** Calls started after the kill that succeeded. */
  public final LongAdder okAfterKill = new LongAdder();
  /** Calls that ended later than their deadline and its slack. */
  public final LongAdder overDeadline = new LongAdder();
  /** The longest call, in milliseconds. */
  public final AtomicLong longestMillis = new AtomicLong();
  /** Failed calls by error code. */
  public final ConcurrentMap<String, LongAdder> failedByCode = new ConcurrentHashMap<>();
  private final ConcurrentMap<String, AtomicInteger> runs = new ConcurrentHashMap<>();
  private final Duration latest;

  /** @param latest how long a call may take at most: its deadline and some slack */
  public CallTally(Duration latest) {
    this.latest = latest;
  }

  /**
   * Notes that a request reached a handler (call it from the handler).
   *
   * @param request the request's text, unique per call
   */
  public void ran(String request) {
    runs.computeIfAbsent(request, k -> new AtomicInteger()).incrementAndGet();
  }

  /**
   * Makes a call and counts how it ended; a {@link SkiffException} is counted by its code, anything else
   * (an assertion on the answer) is thrown.
   *
   * @param killedAt {@link System#nanoTime()} of the kill ({@code Long.MAX_VALUE} before it)
   * @param call the call, asserting its answer
   */
  public void record(AtomicLong killedAt, Runnable call) {
    calls.increment();
    long start = System.nanoTime();
    try {
      call.run();
      ok.increment();
      if (start > killedAt.get()) {
        okAfterKill.increment();
      }
    } catch (SkiffException e) {
      failedByCode.computeIfAbsent(e.code().name(), k -> new LongAdder()).increment();
    } finally {
      long took = System.nanoTime() - start;
      longestMillis.accumulateAndGet(took / 1_000_000, Math::max);
      if (took > latest.toNanos()) {
        overDeadline.increment();
      }
    }
  }

  /** @return how many requests reached a handler more than once */
  public long runTwice() {
    return runs.values().stream().filter(n -> n.get() > 1).count();
  }

  /** @return the figures in one line */
  public String figures() {
    Map<String, Long> failed = new TreeMap<>();
    failedByCode.forEach((k, v) -> failed.put(k, v.sum()));
    return "calls " + calls.sum() + ", OK " + ok.sum() + " (" + okAfterKill.sum() + " after the kill), failed " + failed
        + ", over deadline " + overDeadline.sum() + ", longest call " + longestMillis.get() + " ms, run twice " + runTwice();
  }
}
