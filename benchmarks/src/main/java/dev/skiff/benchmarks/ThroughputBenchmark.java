package dev.skiff.benchmarks;

import dev.skiff.benchmarks.proto.Echo;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Throughput with N asynchronous calls kept in flight ({@link Window#inFlight}) by one benchmark thread:
 * no thread per caller, so 64 callers cost no more threads than one. Operations per second = completed
 * round trips per second.
 *
 * <p>Warm-up is 15 × 2 s: on two cores shared with the broker, Skiff reached its steady rate only in
 * the eighth or ninth 2-s iteration (the JIT compiling its client and server), raw amqp-client in the
 * fourth; with 5 (or 8) warm-up iterations the measurement took in the end of Skiff's warm-up.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 15, time = 2)
public class ThroughputBenchmark extends Measured {

  /**
   * Skiff: Client.callAsync to the echo endpoint over RabbitMQ.
   *
   * @param s the Skiff client and server
   * @param w the window of calls in flight
   * @throws InterruptedException when interrupted
   */
  @Benchmark
  public void amqpSkiff(SkiffAmqp s, Window w) throws InterruptedException {
    w.acquire();
    s.client.callAsync(Bench.SERVICE, Bench.ENDPOINT, Bench.PAYLOAD, Echo.class).whenComplete(w);
  }

  /**
   * Baseline: raw amqp-client request/reply, publisher confirms and mandatory.
   *
   * @param r the raw client and server
   * @param w the window of calls in flight
   * @throws InterruptedException when interrupted
   */
  @Benchmark
  public void amqpRaw(RawConfirms r, Window w) throws InterruptedException {
    w.acquire();
    r.client.call(Bench.PAYLOAD).whenComplete(w);
  }

  /**
   * Baseline without publisher confirms (mandatory kept).
   *
   * @param r the raw client and server
   * @param w the window of calls in flight
   * @throws InterruptedException when interrupted
   */
  @Benchmark
  public void amqpRawNoConfirms(RawNoConfirms r, Window w) throws InterruptedException {
    w.acquire();
    r.client.call(Bench.PAYLOAD).whenComplete(w);
  }

  /**
   * Skiff with the in-process transport: no broker, for reference.
   *
   * @param s the Skiff client and server
   * @param w the window of calls in flight
   * @throws InterruptedException when interrupted
   */
  @Benchmark
  public void inProcessSkiff(SkiffInProcess s, Window w) throws InterruptedException {
    w.acquire();
    s.client.callAsync(Bench.SERVICE, Bench.ENDPOINT, Bench.PAYLOAD, Echo.class).whenComplete(w);
  }
}
