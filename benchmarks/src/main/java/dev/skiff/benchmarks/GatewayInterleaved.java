package dev.skiff.benchmarks;

import com.example.greeter.Greeter;
import com.example.greeter.proto.HelloRequest;
import com.example.greeter.proto.HelloResponse;
import dev.skiff.gateway.Gateway;
import dev.skiff.gateway.GatewayOptions;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.security.ServiceIdentities;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.transport.amqp.AmqpOptions;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The HTTP gateway beside direct RPC, in one run: the greeter and the gateway in this JVM on the broker
 * of {@link Bench#brokerUri()}, then, alternating in blocks, wrk (Debian's, as a separate process) at
 * 64 connections posting {@code {"name":"Ada"}} to {@code /v1/greeter/hello}, and this JVM's own client
 * calling {@code com.example.greeter/hello} with 64 calls in flight. Each block reports calls per second
 * and the median round trip; at the end, the medians of the rounds' throughput ratios (gateway / direct)
 * and of the differences of the medians (gateway − direct).
 *
 * <pre>
 * java -cp benchmarks/target/benchmarks.jar dev.skiff.benchmarks.GatewayInterleaved [ROUNDS] [BLOCK_SECONDS] [WARMUP_SECONDS] [WRK_THREADS] [floor]
 * </pre>
 *
 * <p>With {@code floor}, each round also runs wrk against the two servers of {@link HttpFloor}. One is
 * the gateway's HTTP server answering without calling a service (the HTTP exchange alone); from its CPU
 * per call comes the ratio a gateway whose only cost beyond the direct call were that exchange could
 * reach, direct ÷ (direct + the exchange's), printed also with the CPU of the thread that drives the
 * direct calls taken out of the direct call's (an overstatement: that thread also sends each call). The
 * other is the thinnest gateway (the same server calling the greeter with a fixed request, on a
 * connection of its own, nothing else), whose throughput ratio to direct RPC is measured like the
 * gateway's.
 *
 * <p>Defaults: 5 rounds, 10-s blocks, 20 s of warm-up of each side, 1 wrk thread (wrk shares the
 * machine's cores with the gateway, the service and the broker; one thread keeps 64 connections busy).
 */
public final class GatewayInterleaved {
  private static final int CONNECTIONS = 64;
  private static final Pattern RPS = Pattern.compile("Requests/sec:\\s+([0-9.]+)");
  private static final Pattern P50 = Pattern.compile("\\s50%\\s+([0-9.]+)(us|ms|s)");
  private static final Pattern NON_2XX = Pattern.compile("Non-2xx or 3xx responses:\\s+(\\d+)");

  private GatewayInterleaved() {}

  private static final Pattern TIME = Pattern.compile("^skiff-cpu ([0-9.]+) ([0-9.]+)$", Pattern.MULTILINE);

  /**
   * One block's figures; CPU per call in microseconds: of this JVM (gateway, greeter and direct client),
   * of the broker (when {@code scripts/bench-broker.sh} started it) and of wrk (0 for the direct side).
   */
  private record Block(double callsPerSecond, double medianMicros, double jvmCpu, double brokerCpu, double wrkCpu,
      double jvmKernelCpu, double switches, double driverCpu) {
    Block(double callsPerSecond, double medianMicros, double jvmCpu, double brokerCpu, double wrkCpu, double jvmKernelCpu,
        double switches) {
      this(callsPerSecond, medianMicros, jvmCpu, brokerCpu, wrkCpu, jvmKernelCpu, switches, 0);
    }

    double totalCpu() {
      return jvmCpu + brokerCpu + wrkCpu;
    }

    /** @param micros CPU per call of the thread that drove the direct calls (sent them, waited for room) @return a copy */
    Block withDriverCpu(double micros) {
      return new Block(callsPerSecond, medianMicros, jvmCpu, brokerCpu, wrkCpu, jvmKernelCpu, switches, micros);
    }
  }

  /** CPU ticks of this JVM (all, in the kernel) and of the broker, and this JVM's context switches, at one moment. */
  private record Ticks(long jvm, long jvmKernel, long broker, long switches) {
    static Ticks now(Path broker) {
      long[] self = CpuPerCall.ticks(CpuPerCall.SELF);
      return new Ticks(self[0], self[1], broker == null ? 0 : CpuPerCall.ticks(broker)[0], Interleaved.contextSwitches());
    }

    Block block(Ticks later, double callsPerSecond, double medianMicros, double calls, double wrkCpu) {
      return new Block(callsPerSecond, medianMicros, (later.jvm - jvm) * CpuPerCall.TICK_MICROS / calls,
          (later.broker - broker) * CpuPerCall.TICK_MICROS / calls, wrkCpu, (later.jvmKernel - jvmKernel) * CpuPerCall.TICK_MICROS / calls,
          (later.switches - switches) / calls);
    }
  }

  /**
   * Runs the comparison.
   *
   * @param args see the class comment
   * @throws Exception when the broker cannot be reached, wrk is missing or a call fails
   */
  public static void main(String[] args) throws Exception {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 5;
    int block = args.length > 1 ? Integer.parseInt(args[1]) : 10;
    int warmup = args.length > 2 ? Integer.parseInt(args[2]) : 20;
    int wrkThreads = args.length > 3 ? Integer.parseInt(args[3]) : 1;
    boolean floor = args.length > 4 && args[4].equals("floor");
    Path script = Files.createTempFile("skiff-gateway-bench", ".lua");
    Files.writeString(script, "wrk.method = \"POST\"\nwrk.body = '{\"name\":\"Ada\"}'\n"
        + "wrk.headers[\"Content-Type\"] = \"application/json\"\n", StandardCharsets.UTF_8);
    try (AmqpTransport serving = AmqpTransport.connect(AmqpOptions.of(Bench.brokerUri()).withConnectionName("bench-greeter"));
        AmqpTransport edge = AmqpTransport.connect(AmqpOptions.of(Bench.brokerUri()).withConnectionName("bench-gateway"));
        AmqpTransport calling = AmqpTransport.connect(AmqpOptions.of(Bench.brokerUri()).withConnectionName("bench-direct"));
        AmqpTransport thinEdge = floor
            ? AmqpTransport.connect(AmqpOptions.of(Bench.brokerUri()).withConnectionName("bench-thin")) : null) {
      Server greeter = new Greeter().start(serving);
      Gateway gateway = Gateway.start(edge, ServiceIdentities.defaults(), GatewayOptions.defaults().withPort(0)
          .withRates(1_000_000, 1_000_000).withStopGrace(java.time.Duration.ZERO)); // limits checked on every request, never reached
      Client client = Client.builder().transport(calling).name("bench.direct").build();
      Client thinClient = floor ? Client.builder().transport(thinEdge).name("bench.thin").build() : null;
      HttpFloor bare = floor ? HttpFloor.bare() : null;
      HttpFloor thin = floor ? HttpFloor.thin(thinClient) : null;
      try {
        String bareUrl = bare == null ? null : "http://127.0.0.1:" + bare.port() + "/v1/greeter/hello";
        String thinUrl = thin == null ? null : "http://127.0.0.1:" + thin.port() + "/v1/greeter/hello";
        String url = "http://127.0.0.1:" + gateway.port() + "/v1/greeter/hello";
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (gateway.routeCount() == 0) {
          if (System.nanoTime() > deadline) {
            throw new IllegalStateException("the gateway learnt no route of the greeter in 30 s");
          }
          Thread.sleep(100);
        }
        System.out.printf(Locale.ROOT, "warm-up: %d s of each%n", warmup);
        wrk(url, script, warmup, wrkThreads);
        direct(client, warmup);
        if (floor) {
          wrk(bareUrl, script, warmup, wrkThreads);
          wrk(thinUrl, script, warmup, wrkThreads);
        }
        List<Double> ratios = new ArrayList<>();
        List<Double> added = new ArrayList<>();
        List<Double> bounds = new ArrayList<>();
        List<Double> boundsWithoutDriver = new ArrayList<>();
        List<Double> thinRatios = new ArrayList<>();
        for (int r = 1; r <= rounds; r++) {
          Block g;
          Block d;
          if (r % 2 == 1) {
            g = wrk(url, script, block, wrkThreads);
            d = direct(client, block);
          } else {
            d = direct(client, block);
            g = wrk(url, script, block, wrkThreads);
          }
          Block h = floor ? wrk(bareUrl, script, block, wrkThreads) : null;
          Block t = floor ? wrk(thinUrl, script, block, wrkThreads) : null;
          ratios.add(g.callsPerSecond() / d.callsPerSecond());
          added.add(g.medianMicros() - d.medianMicros());
          System.out.printf(Locale.ROOT, "round %d: gateway %.0f calls/s p50 %.0f us | direct %.0f calls/s p50 %.0f us | ratio %.3f, +%.0f us%n",
              r, g.callsPerSecond(), g.medianMicros(), d.callsPerSecond(), d.medianMicros(), ratios.get(r - 1), added.get(r - 1));
          System.out.printf(Locale.ROOT, "  per call: gateway cpu jvm %.1f (kernel %.1f) broker %.1f wrk %.1f total %.1f us, %.2f switches"
                  + " | direct cpu jvm %.1f (kernel %.1f) broker %.1f total %.1f us, %.2f switches%n",
              g.jvmCpu(), g.jvmKernelCpu(), g.brokerCpu(), g.wrkCpu(), g.totalCpu(), g.switches(), d.jvmCpu(), d.jvmKernelCpu(),
              d.brokerCpu(), d.totalCpu(), d.switches());
          if (floor) {
            bounds.add(d.totalCpu() / (d.totalCpu() + h.jvmCpu() + h.wrkCpu()));
            // the driving thread's CPU (which includes the client's own work of sending each call, so
            // this overstates what a gateway would not pay) taken out of the direct call's
            boundsWithoutDriver.add(d.totalCpu() / (d.totalCpu() - d.driverCpu() + h.jvmCpu() + h.wrkCpu()));
            System.out.printf(Locale.ROOT, "  http alone: %.0f calls/s p50 %.0f us, cpu jvm %.1f (kernel %.1f) wrk %.1f us, %.2f switches;"
                    + " a gateway costing only this beyond the direct call: ratio %.3f (%.3f without the direct driver's thread, %.1f us)%n",
                h.callsPerSecond(), h.medianMicros(), h.jvmCpu(), h.jvmKernelCpu(), h.wrkCpu(), h.switches(), bounds.get(bounds.size() - 1),
                boundsWithoutDriver.get(boundsWithoutDriver.size() - 1), d.driverCpu());
            thinRatios.add(t.callsPerSecond() / d.callsPerSecond());
            System.out.printf(Locale.ROOT, "  thin gateway: %.0f calls/s p50 %.0f us, cpu jvm %.1f (kernel %.1f) broker %.1f wrk %.1f total %.1f us,"
                    + " %.2f switches; ratio to direct %.3f, +%.0f us%n",
                t.callsPerSecond(), t.medianMicros(), t.jvmCpu(), t.jvmKernelCpu(), t.brokerCpu(), t.wrkCpu(), t.totalCpu(), t.switches(),
                thinRatios.get(thinRatios.size() - 1), t.medianMicros() - d.medianMicros());
          }
        }
        System.out.printf(Locale.ROOT, "median throughput ratio (gateway / direct) %.3f; median added to the p50 %.0f us%n",
            median(ratios), median(added));
        if (floor) {
          System.out.printf(Locale.ROOT, "median ratio a gateway costing only the bare HTTP exchange beyond the direct call could reach: %.3f"
              + " (%.3f with the direct driver's thread taken out)%n", median(bounds), median(boundsWithoutDriver));
          System.out.printf(Locale.ROOT, "median throughput ratio (thin gateway / direct) %.3f%n", median(thinRatios));
        }
      } finally {
        if (floor) {
          bare.stop();
          thin.stop();
          thinClient.close();
        }
        client.close();
        gateway.close();
        greeter.close();
      }
    } finally {
      Files.deleteIfExists(script);
    }
  }

  private static Block wrk(String url, Path script, int seconds, int threads) throws IOException, InterruptedException {
    Path broker = CpuPerCall.findBroker();
    Ticks before = Ticks.now(broker);
    Process p = new ProcessBuilder("/usr/bin/time", "-f", "skiff-cpu %U %S", "wrk", "-t" + threads, "-c" + CONNECTIONS, "-d" + seconds + "s", "--latency", "-s", script.toString(), url)
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    Ticks after = Ticks.now(broker);
    if (p.waitFor() != 0) {
      throw new IllegalStateException("wrk failed: " + out);
    }
    Matcher bad = NON_2XX.matcher(out);
    if (bad.find()) {
      throw new IllegalStateException("the gateway answered " + bad.group(1) + " errors:\n" + out);
    }
    Matcher rps = RPS.matcher(out);
    Matcher p50 = P50.matcher(out);
    if (!rps.find() || !p50.find()) {
      throw new IllegalStateException("wrk's output has no Requests/sec or 50%:\n" + out);
    }
    double v = Double.parseDouble(p50.group(1));
    double micros = switch (p50.group(2)) {
      case "us" -> v;
      case "ms" -> v * 1000;
      default -> v * 1_000_000;
    };
    Matcher time = TIME.matcher(out);
    if (!time.find()) {
      throw new IllegalStateException("no CPU time of wrk from /usr/bin/time:\n" + out);
    }
    double callsPerSecond = Double.parseDouble(rps.group(1));
    double calls = callsPerSecond * seconds;
    double wrkCpu = (Double.parseDouble(time.group(1)) + Double.parseDouble(time.group(2))) * 1e6 / calls;
    return before.block(after, callsPerSecond, micros, calls, wrkCpu);
  }

  private static Block direct(Client client, int seconds) throws InterruptedException {
    Semaphore window = new Semaphore(CONNECTIONS);
    AtomicLong done = new AtomicLong();
    AtomicLong failed = new AtomicLong();
    long[] samples = new long[4_000_000];
    AtomicLong sampled = new AtomicLong();
    HelloRequest req = HelloRequest.newBuilder().setName("Ada").build();
    Path broker = CpuPerCall.findBroker();
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    long driverBefore = threads.getCurrentThreadCpuTime();
    Ticks before = Ticks.now(broker);
    long start = System.nanoTime();
    long end = start + TimeUnit.SECONDS.toNanos(seconds);
    while (System.nanoTime() < end) {
      window.acquire();
      long t0 = System.nanoTime();
      client.callAsync(Greeter.NAME, "hello", req, HelloResponse.class).whenComplete((r, e) -> {
        long i = sampled.getAndIncrement();
        if (i < samples.length) {
          samples[(int) i] = System.nanoTime() - t0;
        }
        if (e != null) {
          failed.incrementAndGet();
        }
        done.incrementAndGet();
        window.release();
      });
    }
    long elapsed = System.nanoTime() - start;
    window.acquire(CONNECTIONS);
    Ticks after = Ticks.now(broker);
    if (failed.get() > 0) {
      throw new IllegalStateException(failed.get() + " direct calls failed");
    }
    long n = Math.min(sampled.get(), samples.length);
    long[] sorted = Arrays.copyOf(samples, (int) n);
    Arrays.sort(sorted);
    double calls = done.get();
    double driverMicros = (threads.getCurrentThreadCpuTime() - driverBefore) / 1000.0 / calls;
    return before.block(after, calls * 1e9 / elapsed, sorted[sorted.length / 2] / 1000.0, calls, 0).withDriverCpu(driverMicros);
  }

  private static double median(List<Double> xs) {
    List<Double> s = new ArrayList<>(xs);
    s.sort(Double::compare);
    return s.get(s.size() / 2);
  }
}
