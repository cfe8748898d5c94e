package dev.skiff.cli;

import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.Reply;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * What a load run saw: each call's outcome as it completes (from any thread), then the summary.
 * Latencies are kept exactly (one long per successful call; the number of calls is bounded) and
 * percentiles are taken by nearest rank over the sorted latencies.
 */
final class LoadStats {
  private final long[] successNanos;
  private int successes;
  private int errors;
  private final Map<String, Long> errorsByCode = new TreeMap<>();
  private final Map<String, String> firstErrorByCode = new TreeMap<>();
  private final Map<String, Long> byVersion = new TreeMap<>();
  private final Map<String, Long> byInstance = new TreeMap<>();

  LoadStats(int calls) {
    this.successNanos = new long[calls];
  }

  synchronized void success(Reply<?> reply, long nanos) {
    successNanos[successes++] = nanos;
    byVersion.merge(reply.serviceVersion(), 1L, Long::sum);
    byInstance.merge(reply.instance(), 1L, Long::sum);
  }

  synchronized void failure(SkiffException e) {
    errors++;
    String code = e.code().name();
    errorsByCode.merge(code, 1L, Long::sum);
    firstErrorByCode.putIfAbsent(code, e.description());
  }

  /**
   * The summary; call once every call has completed.
   *
   * @param calls the calls made
   * @param elapsedNanos from the first call's start to the last call's end
   * @return the summary
   */
  synchronized Summary summarize(int calls, long elapsedNanos) {
    long[] sorted = Arrays.copyOf(successNanos, successes);
    Arrays.sort(sorted);
    Latency latency = null;
    if (sorted.length > 0) {
      double sum = 0;
      for (long n : sorted) {
        sum += n;
      }
      latency =
          new Latency(
              ms(sorted[0]),
              sum / sorted.length / 1e6,
              ms(percentile(sorted, 50)),
              ms(percentile(sorted, 90)),
              ms(percentile(sorted, 99)),
              ms(sorted[sorted.length - 1]));
    }
    double seconds = elapsedNanos / 1e9;
    return new Summary(
        calls,
        successes,
        errors,
        new LinkedHashMap<>(errorsByCode),
        new LinkedHashMap<>(firstErrorByCode),
        elapsedNanos / 1e6,
        seconds > 0 ? calls / seconds : 0,
        latency,
        new LinkedHashMap<>(byVersion),
        new LinkedHashMap<>(byInstance));
  }

  /** Nearest rank: the smallest value with at least p% of the values at or below it. */
  static long percentile(long[] sorted, double p) {
    int rank = (int) Math.ceil(p / 100.0 * sorted.length);
    return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
  }

  private static double ms(long nanos) {
    return nanos / 1e6;
  }

  /**
   * Latencies of the successful calls, in milliseconds.
   *
   * @param min the fastest
   * @param mean the mean
   * @param p50 the median
   * @param p90 the 90th percentile
   * @param p99 the 99th percentile
   * @param max the slowest
   */
  record Latency(double min, double mean, double p50, double p90, double p99, double max) {}

  /**
   * The outcome of a load run.
   *
   * @param calls calls made
   * @param successes calls answered with a response
   * @param errors calls that failed
   * @param errorsByCode failed calls by error code
   * @param firstErrorByCode the description of the first failure of each code
   * @param elapsedMs wall time of the run
   * @param throughput calls completed per second
   * @param latency latencies of the successful calls, or null when none succeeded
   * @param byVersion successful calls by the version of the instance that answered
   * @param byInstance successful calls by the instance that answered
   */
  record Summary(
      int calls,
      int successes,
      int errors,
      Map<String, Long> errorsByCode,
      Map<String, String> firstErrorByCode,
      double elapsedMs,
      double throughput,
      Latency latency,
      Map<String, Long> byVersion,
      Map<String, Long> byInstance) {}
}
