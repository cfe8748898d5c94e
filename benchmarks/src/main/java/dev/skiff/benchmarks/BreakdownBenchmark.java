package dev.skiff.benchmarks;

import dev.skiff.benchmarks.proto.Echo;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Diagnostics, not part of the headline comparison: the raw baseline with parts of Skiff's work added
 * ({@link RawDiagnostic}), measured like {@link LatencyBenchmark} and {@link ThroughputBenchmark}, to
 * see where Skiff's overhead goes. Run on its own (see docs/performance.md).
 */
@Warmup(iterations = 5, time = 2)
public class BreakdownBenchmark extends Measured {

  /**
   * Round-trip latency, one blocking caller.
   *
   * @param r the raw client and server with Skiff's piece added
   * @return the reply
   * @throws ExecutionException when the call fails
   * @throws InterruptedException when interrupted
   * @throws TimeoutException when no reply comes within 10 s (Skiff's calls time out after 5 s)
   */
  @Benchmark
  @BenchmarkMode(Mode.SampleTime)
  @OutputTimeUnit(TimeUnit.MICROSECONDS)
  public Echo latency(RawDiagnostic r) throws ExecutionException, InterruptedException, TimeoutException {
    return r.client.call(Bench.PAYLOAD).get(10, TimeUnit.SECONDS);
  }

  /**
   * Throughput with {@link Window#inFlight} calls in flight.
   *
   * @param r the raw client and server with Skiff's piece added
   * @param w the window
   * @throws InterruptedException when interrupted
   */
  @Benchmark
  @BenchmarkMode(Mode.Throughput)
  @OutputTimeUnit(TimeUnit.SECONDS)
  public void throughput(RawDiagnostic r, Window w) throws InterruptedException {
    w.acquire();
    r.client.call(Bench.PAYLOAD).whenComplete(w);
  }
}
