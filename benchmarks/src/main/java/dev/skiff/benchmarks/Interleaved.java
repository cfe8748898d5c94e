package dev.skiff.benchmarks;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import dev.skiff.benchmarks.proto.Echo;
import dev.skiff.platform.config.QueueType;
import dev.skiff.platform.internal.Closer;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;

/**
 * Throughput of Skiff and of the raw amqp-client baseline measured in the same JVM, in alternating
 * blocks of a few seconds, so that both see the same host: on a shared machine whose speed drifts by
 * tens of percent from one minute to the next, two figures taken a minute apart (as two JMH forks are)
 * compare two different machines, while a ratio taken between neighbouring blocks does not.
 *
 * <pre>
 * java -cp benchmarks/target/benchmarks.jar dev.skiff.benchmarks.Interleaved [skiff|nonBlocking|confirms|ttl|breakdown|identity|queues] [ROUNDS] [IN_FLIGHT] [BLOCK_SECONDS] [WARMUP_SECONDS]
 * </pre>
 *
 * <p>Defaults: {@code skiff}, 10 rounds, 64 calls in flight, 3-s blocks, 60 s of warm-up (blocks of
 * every side in turn, until each has had that much). The sides of {@code skiff}: raw amqp-client without
 * publisher confirms ({@code raw}, {@link RawNoConfirms}: the baseline every other side is divided by),
 * the same with confirms ({@code confirms}, {@link RawConfirms}), Skiff with every default (handlers on
 * the pool) and Skiff with the echo endpoint {@code asNonBlocking()}; {@code nonBlocking} leaves out the
 * pool; {@code ttl} runs raw, Skiff with every default and Skiff without the per-message TTL
 * ({@code AmqpOptions.withMessageTtl(false)}); {@code confirms} runs raw, Skiff with publisher confirms (the default before 2026-12-04) and Skiff
 * with every default; {@code breakdown} runs raw and raw with one piece of Skiff's work added each
 * (confirms, the per-message TTL, the validated user id, Skiff's properties, a 16-thread handler pool:
 * {@link RawDiagnostic}; and, last, the TTL, user id and properties together). Each raw side has its own request queue. Each round runs one block of each
 * side, the first side first in the first round, the order turned by one each round. A block fills
 * the window for 0.2 s, counts the calls completed in the next BLOCK_SECONDS and the round trips of the
 * calls started then, and then waits for the calls still out (not counted). It prints, per round, each
 * side's calls per second, median and 99th-percentile round trip, CPU per call (this JVM, and the broker of
 * {@code scripts/bench-broker.sh} when its pid file is there: {@link CpuPerCall}) and the JVM's context
 * switches per call (every thread's, from {@code /proc}: the wake-ups of threads), and at the end, per
 * side, the median CPU per call and the median of the rounds' ratios to the first side. Every set-up
 * lives in the JVM for the whole run; the sides not measured are idle.
 *
 * <p>{@code identity} compares Skiff with itself instead: identity checks off (the echo endpoint open to
 * anyone, no token) in place of raw, and on (the endpoint for signed-in people, every call carrying a
 * real session token checked by the server's default verifier against a login service in this JVM: see
 * {@link SkiffAmqp}'s {@code identity}), each a full Skiff set-up with every other default, as services
 * {@code bench.echo.off} and {@code bench.echo.on}. It ends with the on side's verifier counts (on stderr): how
 * many signatures it checked for how many cache hits.
 *
 * <p>{@code queues} also compares Skiff with itself: the echo service's request queue (and its
 * dead-letter queue) classic in place of raw, and quorum ({@code AmqpOptions.withQueueType}, as
 * {@code SKIFF_QUEUE_TYPE}), each a full Skiff set-up with every other default, as services
 * {@code bench.echo.classic} and {@code bench.echo.quorum}. Both queues are deleted before the run
 * (a queue that exists keeps its type), so the broker must let the benchmark's user delete them.
 */
public final class Interleaved {
  private static final long RAMP_NANOS = 200_000_000L;

  private Interleaved() {}

  /**
   * Runs the comparison.
   *
   * @param args see the class comment
   * @throws Exception when the broker cannot be reached or a call fails
   */
  public static void main(String[] args) throws Exception {
    String handler = arg(args, 0, "skiff");
    int rounds;
    int inFlight;
    double blockSeconds;
    double warmupSeconds;
    try {
      rounds = Integer.parseInt(arg(args, 1, "10"));
      inFlight = Integer.parseInt(arg(args, 2, "64"));
      blockSeconds = Double.parseDouble(arg(args, 3, "3"));
      warmupSeconds = Double.parseDouble(arg(args, 4, "60"));
    } catch (NumberFormatException e) {
      rounds = 0;
      inFlight = 0;
      blockSeconds = 0;
      warmupSeconds = -1;
    }
    if (!List.of("skiff", "nonBlocking", "breakdown", "confirms", "ttl", "identity", "queues").contains(handler)
        || rounds < 1 || inFlight < 1 || !(blockSeconds > 0) || !(warmupSeconds >= 0)) {
      System.err.println(
          "usage: Interleaved [skiff|nonBlocking|breakdown|confirms|ttl|identity|queues] [ROUNDS >= 1] [IN_FLIGHT >= 1] [BLOCK_SECONDS > 0] [WARMUP_SECONDS >= 0]");
      System.exit(2);
    }
    if (handler.equals("identity")) {
      identity(rounds, inFlight, blockSeconds, warmupSeconds);
      return;
    }
    if (handler.equals("queues")) {
      queues(rounds, inFlight, blockSeconds, warmupSeconds);
      return;
    }

    try (Closer started = new Closer()) {
      List<Side> sides = new ArrayList<>();
      String title = switch (handler) {
        case "breakdown" -> breakdown(started, sides);
        case "confirms" -> confirms(started, sides);
        case "ttl" -> ttl(started, sides);
        default -> skiffBesideRaw(started, sides, handler.equals("skiff"));
      };
      run(sides, rounds, blockSeconds, warmupSeconds, title, inFlight);
    }
  }

  /** The sides of {@code skiff} and {@code nonBlocking} (the class comment); returns the title. */
  private static String skiffBesideRaw(Closer started, List<Side> sides, boolean pool) throws Exception {
    sides.add(raw(started, "raw", RawRpc.QUEUE, false, false, false, false, false));
    sides.add(raw(started, "confirms", RawRpc.QUEUE + ".confirms", true, false, false, false, false));
    if (pool) {
      sides.add(skiff(started, "skiff", SkiffAmqp.defaults(false)));
    }
    SkiffAmqp nonBlocking = SkiffAmqp.defaults(true);
    nonBlocking.service = Bench.SERVICE + ".nb";
    sides.add(skiff(started, "nonBlk", nonBlocking));
    return "Skiff (" + (pool ? "handler pool and non-blocking" : "non-blocking") + ") beside raw amqp-client";
  }

  /** Skiff with publisher confirms (the default before 2026-12-04) beside without, and raw; returns the title. */
  private static String confirms(Closer started, List<Side> sides) throws Exception {
    sides.add(raw(started, "raw", RawRpc.QUEUE, false, false, false, false, false));
    SkiffAmqp with = SkiffAmqp.defaults(false);
    with.confirms = true;
    with.service = Bench.SERVICE + ".confirms";
    sides.add(skiff(started, "skiff+cf", with));
    sides.add(skiff(started, "skiff", SkiffAmqp.defaults(false)));
    return "Skiff with publisher confirms and without, beside raw amqp-client";
  }

  /** Skiff without the per-message TTL beside with it (the default), and raw; returns the title. */
  private static String ttl(Closer started, List<Side> sides) throws Exception {
    sides.add(raw(started, "raw", RawRpc.QUEUE, false, false, false, false, false));
    sides.add(skiff(started, "skiff", SkiffAmqp.defaults(false)));
    SkiffAmqp without = SkiffAmqp.defaults(false);
    without.messageTtl = false;
    without.service = Bench.SERVICE + ".nottl";
    sides.add(skiff(started, "noTtl", without));
    return "Skiff without the per-message TTL beside with it, and raw amqp-client";
  }

  /** The raw baseline, and the same with one piece of Skiff's work added each; returns the title. */
  private static String breakdown(Closer started, List<Side> sides) throws Exception {
    sides.add(raw(started, "raw", RawRpc.QUEUE, false, false, false, false, false));
    sides.add(raw(started, "confirms", RawRpc.QUEUE + ".confirms", true, false, false, false, false));
    sides.add(raw(started, "ttl", RawRpc.QUEUE + ".ttl", false, false, true, false, false));
    sides.add(raw(started, "userId", RawRpc.QUEUE + ".user", false, false, false, true, false));
    sides.add(raw(started, "props", RawRpc.QUEUE + ".props", false, true, false, false, false));
    sides.add(raw(started, "pool", RawRpc.QUEUE + ".pool", false, false, false, false, true));
    sides.add(raw(started, "allProps", RawRpc.QUEUE + ".all", false, true, true, true, false));
    return "raw amqp-client with one piece of Skiff's work added";
  }

  /** Starts a raw server and client on a queue of their own and returns their side. */
  private static Side raw(
      Closer started, String name, String queue, boolean confirms, boolean properties, boolean ttl, boolean userId, boolean pool)
      throws Exception {
    started.register(new RawRpc.Server(Bench.brokerUri(), queue, properties, pool));
    RawRpc.Client client = started.register(new RawRpc.Client(Bench.brokerUri(), queue, confirms, properties, ttl, userId));
    RawConfirms.smoke(client, "raw amqp-client (" + name + ")");
    return new Side(name, () -> client.call(Bench.PAYLOAD));
  }

  /** Starts a Skiff set-up and returns its side. */
  private static Side skiff(Closer started, String name, SkiffAmqp s) {
    s.start();
    started.register(s::stop);
    return new Side(name, () -> s.client.callAsync(s.service, Bench.ENDPOINT, Bench.PAYLOAD, Echo.class));
  }

  /** Skiff with identity checks off beside on (the class comment). */
  private static void identity(int rounds, int inFlight, double blockSeconds, double warmupSeconds) throws InterruptedException {
    SkiffAmqp off = SkiffAmqp.defaults(false);
    off.identity = "off";
    off.service = Bench.SERVICE + ".off";
    SkiffAmqp on = SkiffAmqp.defaults(false);
    on.identity = "on";
    on.service = Bench.SERVICE + ".on";
    off.start();
    try {
      on.start();
      try {
        Side a = new Side("off", () -> off.client.callAsync(off.service, Bench.ENDPOINT, Bench.PAYLOAD, Echo.class));
        Side b = new Side("on", () -> on.client.callAsync(on.service, Bench.ENDPOINT, Bench.PAYLOAD, Echo.class));
        run(List.of(a, b), rounds, blockSeconds, warmupSeconds, "Skiff with identity checks on beside off", inFlight);
      } finally {
        on.stop();
      }
    } finally {
      off.stop();
    }
  }

  /** Skiff with a classic service queue beside a quorum one (the class comment). */
  private static void queues(int rounds, int inFlight, double blockSeconds, double warmupSeconds) throws Exception {
    SkiffAmqp classic = SkiffAmqp.defaults(false);
    classic.queueType = QueueType.CLASSIC;
    classic.service = Bench.SERVICE + ".classic";
    SkiffAmqp quorum = SkiffAmqp.defaults(false);
    quorum.queueType = QueueType.QUORUM;
    quorum.service = Bench.SERVICE + ".quorum";
    deleteServiceQueues(classic.service, quorum.service);
    classic.start();
    try {
      quorum.start();
      try {
        Side a = new Side("classic", () -> classic.client.callAsync(classic.service, Bench.ENDPOINT, Bench.PAYLOAD, Echo.class));
        Side b = new Side("quorum", () -> quorum.client.callAsync(quorum.service, Bench.ENDPOINT, Bench.PAYLOAD, Echo.class));
        run(List.of(a, b), rounds, blockSeconds, warmupSeconds, "Skiff with a quorum service queue beside a classic one",
            inFlight);
      } finally {
        quorum.stop();
      }
    } finally {
      classic.stop();
    }
  }

  /**
   * Deletes the request and dead-letter queues of the services, so that each is declared again with the
   * type asked for (a queue that exists is used as it is).
   */
  private static void deleteServiceQueues(String... services) throws Exception {
    ConnectionFactory factory = new ConnectionFactory();
    factory.setUri(Bench.brokerUri().split(",")[0].trim());
    try (Connection connection = factory.newConnection("bench-queues-reset");
        Channel channel = connection.createChannel()) {
      for (String service : services) {
        for (String queue : new String[] {"skiff.svc." + service, "skiff.dead." + service}) {
          channel.queueDelete(queue);
        }
      }
    }
  }

  /**
   * Runs the rounds: each round one block of every side, the first side first in the first round and
   * the order turned by one side each round; every other side's figures are divided by the first's of
   * the same round.
   */
  private static void run(List<Side> sides, int rounds, double blockSeconds, double warmupSeconds, String title, int inFlight)
      throws InterruptedException {
    Path broker = CpuPerCall.findBroker();
    int n = sides.size();
    for (Side side : sides) {
      side.open(inFlight);
    }
    System.out.printf(
        Locale.ROOT, "# %s, %d in flight, %d rounds of %.1f-s blocks, warm-up %.0f s each%s%n",
        title, inFlight, rounds, blockSeconds, warmupSeconds, broker == null ? " (no broker pid file: JVM CPU only)" : "");
    for (double done = 0; done < warmupSeconds; done += 2) {
      for (Side side : sides) {
        side.block(2, broker);
      }
    }
    String base = sides.get(0).name;
    System.out.printf(
        Locale.ROOT, "round  side       calls/s   p50 us   p99 us   JVM + broker us/call  cs/call   /%s: calls/s  p50   p99%n", base);
    double[][] ratios = new double[n][rounds];
    double[][] p50Ratios = new double[n][rounds];
    double[][] p99Ratios = new double[n][rounds];
    double[][] jvm = new double[n][rounds];
    double[][] brokerCpu = new double[n][rounds];
    double[] sums = new double[n];
    for (int i = 0; i < rounds; i++) {
      Block[] blocks = new Block[n];
      for (int k = 0; k < n; k++) {
        int j = (i + k) % n;
        blocks[j] = sides.get(j).block(blockSeconds, broker);
      }
      for (int j = 0; j < n; j++) {
        Block b = blocks[j];
        ratios[j][i] = b.rate / blocks[0].rate;
        p50Ratios[j][i] = b.p50Micros / blocks[0].p50Micros;
        p99Ratios[j][i] = b.p99Micros / blocks[0].p99Micros;
        jvm[j][i] = b.jvmMicros;
        brokerCpu[j][i] = b.brokerMicros;
        sums[j] += b.rate;
        System.out.printf(
            Locale.ROOT, "%5s  %-8s  %8.0f  %7.0f  %7.0f  %7.1f + %6.1f      %7.2f   %s%n",
            j == 0 ? String.valueOf(i + 1) : "", sides.get(j).name, b.rate, b.p50Micros, b.p99Micros, b.jvmMicros, b.brokerMicros,
            b.switches,
            j == 0 ? (i % n == 0 ? "(first)" : "") : String.format(
                Locale.ROOT, "%13.3f  %4.2f  %4.2f", ratios[j][i], p50Ratios[j][i], p99Ratios[j][i]));
      }
    }
    for (int j = 0; j < n; j++) {
      Side side = sides.get(j);
      System.out.printf(
          Locale.ROOT, "%-8s CPU per call, JVM + broker, median of the rounds: %.1f + %.1f us%s%n",
          side.name, median(jvm[j]), median(brokerCpu[j]),
          j == 0 ? "" : String.format(
              Locale.ROOT, "; /%s calls per second: median %s, ratio of the sums %.3f; p50 round trip: median %s; p99: median %s",
              base, summary(ratios[j]), sums[j] / sums[0], summary(p50Ratios[j]), summary(p99Ratios[j])));
    }
  }

  /** @return the median of the values, and their range */
  private static String summary(double[] values) {
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    return String.format(Locale.ROOT, "%.3f (%.2f to %.2f)", median(values), sorted[0], sorted[sorted.length - 1]);
  }

  /** @return the median of the values */
  private static double median(double[] values) {
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    int n = sorted.length;
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  }

  private static String arg(String[] args, int i, String dflt) {
    return args.length > i ? args[i] : dflt;
  }

  /** One block's figures. */
  private record Block(double rate, double p50Micros, double p99Micros, double jvmMicros, double brokerMicros, double switches) {}

  /**
   * @return the context switches (voluntary and not) of every thread of this JVM so far, from
   *     {@code /proc/self/task/}{@code *}{@code /status}; 0 where that cannot be read
   */
  static long contextSwitches() {
    long n = 0;
    try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc/self/task"))) {
      for (Path task : tasks) {
        try {
          for (String line : Files.readAllLines(task.resolve("status"))) {
            if (line.startsWith("voluntary_ctxt_switches:") || line.startsWith("nonvoluntary_ctxt_switches:")) {
              n += Long.parseLong(line.substring(line.indexOf(':') + 1).trim());
            }
          }
        } catch (IOException | RuntimeException e) {
          // the thread ended meanwhile
        }
      }
    } catch (IOException e) {
      return 0;
    }
    return n;
  }

  /** One side of the comparison: its calls and the window that keeps them in flight. */
  private static final class Side {
    private final String name;
    private final Supplier<CompletableFuture<Echo>> call;
    private final CountingWindow window = new CountingWindow();
    /** Round trips (ns) of the calls started in the measured part of the current block. */
    private long[] latencies = new long[1 << 16];
    private final AtomicInteger recorded = new AtomicInteger();
    private volatile boolean recording;

    Side(String name, Supplier<CompletableFuture<Echo>> call) {
      this.name = name;
      this.call = call;
    }

    void open(int inFlight) {
      window.inFlight = inFlight;
      window.open();
    }

    Block block(double seconds, Path broker) throws InterruptedException {
      long start = System.nanoTime();
      issueUntil(start + RAMP_NANOS);
      long c0 = window.completed.sum();
      long[] jvm0 = CpuPerCall.ticks(CpuPerCall.SELF);
      long cs0 = contextSwitches();
      long b0 = broker == null ? 0 : CpuPerCall.ticks(broker)[0];
      recorded.set(0);
      recording = true;
      long t0 = System.nanoTime();
      issueUntil(t0 + (long) (seconds * 1e9));
      long t1 = System.nanoTime();
      recording = false;
      long c1 = window.completed.sum();
      long[] jvm1 = CpuPerCall.ticks(CpuPerCall.SELF);
      long cs1 = contextSwitches();
      long b1 = broker == null ? 0 : CpuPerCall.ticks(broker)[0];
      window.drain();
      long calls = Math.max(1, c1 - c0);
      int n = Math.min(recorded.get(), latencies.length);
      long[] sorted = Arrays.copyOf(latencies, n);
      Arrays.sort(sorted);
      if (recorded.get() > latencies.length) {
        latencies = new long[Integer.highestOneBit(recorded.get()) * 2];
      }
      return new Block(
          calls / ((t1 - t0) / 1e9),
          n == 0 ? 0 : sorted[n / 2] / 1000.0,
          n == 0 ? 0 : sorted[Math.min(n - 1, (int) (n * 0.99))] / 1000.0,
          (jvm1[0] - jvm0[0]) * CpuPerCall.TICK_MICROS / calls,
          (b1 - b0) * CpuPerCall.TICK_MICROS / calls,
          (double) (cs1 - cs0) / calls);
    }

    private void issueUntil(long end) throws InterruptedException {
      long now;
      while ((now = System.nanoTime()) - end < 0) {
        window.acquire();
        long start = recording ? now : 0;
        call.get().whenComplete((v, e) -> {
          if (start != 0) {
            int i = recorded.getAndIncrement();
            if (i < latencies.length) {
              latencies[i] = System.nanoTime() - start;
            }
          }
          window.accept(v, e);
        });
      }
    }
  }

  /** A {@link Window} that also counts the calls completed. */
  private static final class CountingWindow extends Window {
    final LongAdder completed = new LongAdder();

    @Override
    public void accept(Object result, Throwable error) {
      completed.increment();
      super.accept(result, error);
    }
  }
}
