package dev.skiff.platform.trace;

import dev.skiff.platform.config.EnvVars;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * How a process traces: its sampling rate for new traces and the bounds of its span buffer.
 *
 * <table>
 *   <caption>Environment variables</caption>
 *   <tr><th>variable</th><th>meaning</th><th>default</th></tr>
 *   <tr><td>SKIFF_TRACE_SAMPLE_RATE</td><td>share of new traces recorded, 0 to 1 (e.g. 0.01)</td><td>0</td></tr>
 *   <tr><td>SKIFF_TRACE_BUFFER</td><td>spans held waiting to be shipped; more are dropped and counted</td><td>8192</td></tr>
 *   <tr><td>SKIFF_TRACE_BATCH</td><td>most spans shipped in one message</td><td>256</td></tr>
 *   <tr><td>SKIFF_TRACE_FLUSH</td><td>longest a span waits before it is shipped</td><td>1s</td></tr>
 * </table>
 *
 * <p>A rate of 0 still records traces that a caller asks for ({@code CallOptions.withTrace(true)},
 * {@code skiff call --trace}) and traces that arrive sampled from an upstream service.
 *
 * @param sampleRate the share of new traces to record, 0 to 1
 * @param bufferCapacity spans held waiting to be shipped
 * @param batchSize most spans shipped in one message
 * @param flushInterval longest a span waits before it is shipped
 */
public record TraceSettings(double sampleRate, int bufferCapacity, int batchSize, Duration flushInterval) {

  /** The defaults: no sampling of new traces, 8192 spans buffered, batches of 256, flushed every second. */
  public static final TraceSettings DEFAULTS = new TraceSettings(0, 8192, 256, Duration.ofSeconds(1));

  /** Checks the values, naming the one that is wrong. */
  public TraceSettings {
    if (!(sampleRate >= 0 && sampleRate <= 1)) {
      throw new IllegalArgumentException("sampleRate must be between 0 and 1, not " + sampleRate);
    }
    if (bufferCapacity <= 0) {
      throw new IllegalArgumentException("bufferCapacity must be positive, not " + bufferCapacity);
    }
    if (batchSize <= 0) {
      throw new IllegalArgumentException("batchSize must be positive, not " + batchSize);
    }
    if (flushInterval == null || flushInterval.isNegative() || flushInterval.isZero()) {
      throw new IllegalArgumentException("flushInterval must be a positive duration, not " + flushInterval);
    }
  }

  /**
   * @param rate the share of new traces to record, 0 to 1
   * @return a copy with this sampling rate
   */
  public TraceSettings withSampleRate(double rate) {
    return new TraceSettings(rate, bufferCapacity, batchSize, flushInterval);
  }

  /**
   * @param capacity spans held waiting to be shipped
   * @return a copy with this buffer capacity
   */
  public TraceSettings withBufferCapacity(int capacity) {
    return new TraceSettings(sampleRate, capacity, batchSize, flushInterval);
  }

  /**
   * @param size most spans in one message
   * @return a copy with this batch size
   */
  public TraceSettings withBatchSize(int size) {
    return new TraceSettings(sampleRate, bufferCapacity, size, flushInterval);
  }

  /**
   * @param interval longest a span waits before it is shipped
   * @return a copy with this flush interval
   */
  public TraceSettings withFlushInterval(Duration interval) {
    return new TraceSettings(sampleRate, bufferCapacity, batchSize, interval);
  }

  /**
   * Settings from this process's environment.
   *
   * @return the settings
   * @throws IllegalArgumentException naming the variable whose value is invalid
   */
  public static TraceSettings fromEnvironment() {
    return fromEnvironment(System.getenv());
  }

  /**
   * Settings from a map of environment variables (see the table above).
   *
   * @param env the variables
   * @return the settings
   * @throws IllegalArgumentException naming the variable whose value is invalid
   */
  public static TraceSettings fromEnvironment(Map<String, String> env) {
    return new TraceSettings(
        rate(env, "SKIFF_TRACE_SAMPLE_RATE", DEFAULTS.sampleRate()),
        EnvVars.positiveInt(env, "SKIFF_TRACE_BUFFER", DEFAULTS.bufferCapacity()),
        EnvVars.positiveInt(env, "SKIFF_TRACE_BATCH", DEFAULTS.batchSize()),
        EnvVars.positiveDuration(env, "SKIFF_TRACE_FLUSH", DEFAULTS.flushInterval()));
  }

  private static double rate(Map<String, String> env, String key, double dflt) {
    Optional<String> given = EnvVars.nonBlank(env, key);
    if (given.isEmpty()) {
      return dflt;
    }
    String v = given.get();
    try {
      double d = Double.parseDouble(v);
      if (d >= 0 && d <= 1) {
        return d;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new IllegalArgumentException(key + " must be a number from 0 to 1 (e.g. 0.01 for 1% of new traces), not '" + v + "'");
  }

}
