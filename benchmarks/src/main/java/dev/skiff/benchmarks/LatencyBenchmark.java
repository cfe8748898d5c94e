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
 * Round-trip latency with one caller making one blocking call at a time: each operation sends the
 * 38-byte Echo and waits for it to come back. Sampled, so the results carry percentiles. Warm-up is
 * 10 × 2 s, long enough for the JIT to have compiled Skiff's client and server (see ThroughputBenchmark).
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 10, time = 2)
public class LatencyBenchmark extends Measured {

  /**
   * Skiff: Client.call to the echo endpoint of a Skiff Server over RabbitMQ.
   *
   * @param s the Skiff client and server
   * @return the reply
   */
  @Benchmark
  public Echo amqpSkiff(SkiffAmqp s) {
    return s.client.call(Bench.SERVICE, Bench.ENDPOINT, Bench.PAYLOAD, Echo.class);
  }

  /**
   * Baseline: raw amqp-client request/reply, publisher confirms and mandatory.
   *
   * @param r the raw client and server
   * @return the reply
   * @throws ExecutionException when the call fails
   * @throws InterruptedException when interrupted
   * @throws TimeoutException when no reply comes within 10 s (Skiff's calls time out after 5 s)
   */
  @Benchmark
  public Echo amqpRaw(RawConfirms r) throws ExecutionException, InterruptedException, TimeoutException {
    return r.client.call(Bench.PAYLOAD).get(10, TimeUnit.SECONDS);
  }

  /**
   * Baseline without publisher confirms (mandatory kept).
   *
   * @param r the raw client and server
   * @return the reply
   * @throws ExecutionException when the call fails
   * @throws InterruptedException when interrupted
   * @throws TimeoutException when no reply comes within 10 s (Skiff's calls time out after 5 s)
   */
  @Benchmark
  public Echo amqpRawNoConfirms(RawNoConfirms r) throws ExecutionException, InterruptedException, TimeoutException {
    return r.client.call(Bench.PAYLOAD).get(10, TimeUnit.SECONDS);
  }

  /**
   * Skiff with the in-process transport: no broker, for reference.
   *
   * @param s the Skiff client and server
   * @return the reply
   */
  @Benchmark
  public Echo inProcessSkiff(SkiffInProcess s) {
    return s.client.call(Bench.SERVICE, Bench.ENDPOINT, Bench.PAYLOAD, Echo.class);
  }
}
