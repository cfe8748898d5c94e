package dev.skiff.benchmarks;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.profile.InternalProfiler;
import org.openjdk.jmh.results.AggregationPolicy;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.ScalarResult;

/**
 * A JMH profiler ({@code -prof dev.skiff.benchmarks.CpuPerCall}) that reports the CPU time spent per
 * operation by the benchmark's JVM (client and server together) and by the RabbitMQ broker it talks to,
 * from {@code /proc}. On a machine where the broker and the benchmark share the cores, throughput is
 * CPU per call; and CPU per call moves much less than throughput when other work loads the machine.
 *
 * <p>The broker is the process whose id is in the file {@code SKIFF_BENCH_BROKER_PID_FILE} (default: the
 * one {@code scripts/bench-broker.sh} writes, {@code $TMPDIR/skiff-bench-broker/pid}); when there is none,
 * only the JVM is reported. Linux only.
 */
public final class CpuPerCall implements InternalProfiler {
  static final double TICK_MICROS = 1_000_000.0 / 100; // USER_HZ: 100 on Linux
  static final Path SELF = Path.of("/proc/self/stat");
  private final Path broker = findBroker();
  private long[] jvmStart;
  private long brokerStart;

  @Override
  public String getDescription() {
    return "CPU time per operation of this JVM and of the RabbitMQ broker (from /proc)";
  }

  @Override
  public void beforeIteration(BenchmarkParams benchmarkParams, IterationParams iterationParams) {
    jvmStart = ticks(SELF);
    brokerStart = broker == null ? 0 : ticks(broker)[0];
  }

  @Override
  public Collection<? extends Result> afterIteration(
      BenchmarkParams benchmarkParams, IterationParams iterationParams, IterationResult result) {
    long ops = result.getMetadata().getMeasuredOps();
    if (ops <= 0) {
      return List.of();
    }
    long[] jvmEnd = ticks(SELF);
    double jvm = (jvmEnd[0] - jvmStart[0]) * TICK_MICROS / ops;
    double jvmSys = (jvmEnd[1] - jvmStart[1]) * TICK_MICROS / ops;
    ScalarResult sys = new ScalarResult("cpu.jvm.kernel", jvmSys, "us/op", AggregationPolicy.AVG);
    if (broker == null) {
      return List.of(new ScalarResult("cpu.jvm", jvm, "us/op", AggregationPolicy.AVG), sys);
    }
    double brk = (ticks(broker)[0] - brokerStart) * TICK_MICROS / ops;
    return List.of(
        new ScalarResult("cpu.jvm", jvm, "us/op", AggregationPolicy.AVG),
        sys,
        new ScalarResult("cpu.broker", brk, "us/op", AggregationPolicy.AVG),
        new ScalarResult("cpu.total", jvm + brk, "us/op", AggregationPolicy.AVG));
  }

  /**
   * CPU of a process in clock ticks: {@code {utime + stime, stime}} (stime: in the kernel on its behalf,
   * system calls and scheduling); zeros when unreadable.
   */
  static long[] ticks(Path stat) {
    try {
      String s = Files.readString(stat, StandardCharsets.US_ASCII);
      // fields after the command name, which is in parentheses and may contain spaces
      String[] f = s.substring(s.lastIndexOf(')') + 2).split(" ");
      long system = Long.parseLong(f[12]);
      return new long[] {Long.parseLong(f[11]) + system, system};
    } catch (IOException | RuntimeException e) {
      return new long[2];
    }
  }

  static Path findBroker() {
    String file = System.getenv("SKIFF_BENCH_BROKER_PID_FILE");
    if (file == null) {
      file = System.getenv().getOrDefault("TMPDIR", "/tmp") + "/skiff-bench-broker/pid";
    }
    try {
      Path stat = Path.of("/proc", Files.readString(Path.of(file)).trim(), "stat");
      return Files.isReadable(stat) ? stat : null;
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }
}
