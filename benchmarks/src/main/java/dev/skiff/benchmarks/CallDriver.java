package dev.skiff.benchmarks;

import dev.skiff.benchmarks.proto.Echo;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * Makes a fixed number of calls with a fixed number in flight, outside JMH, so that a system-call or
 * context-switch counter can be attached to the process for exactly the measured calls
 * (docs/performance.md, "Counting system calls"). Uses the benchmarks' own Skiff and raw set-ups.
 *
 * <pre>
 * java -cp benchmarks/target/benchmarks.jar dev.skiff.benchmarks.CallDriver skiff|nonBlocking|raw CALLS [IN_FLIGHT] [WARMUP_CALLS]
 * </pre>
 *
 * <p>After the warm-up calls it prints {@code READY <pid>} on stderr and waits 3 s (attach then, e.g.
 * {@code strace -c -f -p PID} or {@code perf stat -e context-switches -p PID}); it then makes the calls,
 * prints {@code DONE} with the wall time per call, waits 3 s more (detach then) and exits.
 */
public final class CallDriver {
  private CallDriver() {}

  /**
   * Runs the driver.
   *
   * @param args {@code skiff}, {@code nonBlocking} or {@code raw}; the number of calls; optionally the
   *     calls kept in flight (default 64) and the warm-up calls (default 300,000)
   * @throws Exception when the broker cannot be reached or a call fails
   */
  public static void main(String[] args) throws Exception {
    if (args.length < 2) {
      System.err.println("usage: CallDriver skiff|nonBlocking|raw CALLS [IN_FLIGHT] [WARMUP_CALLS]");
      System.exit(2);
    }
    int calls = Integer.parseInt(args[1]);
    Window window = new Window();
    window.inFlight = args.length > 2 ? Integer.parseInt(args[2]) : 64;
    window.open();
    int warmup = args.length > 3 ? Integer.parseInt(args[3]) : 300_000;
    switch (args[0]) {
      case "skiff", "nonBlocking" -> {
        SkiffAmqp s = SkiffAmqp.defaults(args[0].equals("nonBlocking"));
        s.start();
        try {
          run(window, warmup, calls, () -> s.client.callAsync(Bench.SERVICE, Bench.ENDPOINT, Bench.PAYLOAD, Echo.class));
        } finally {
          s.stop();
        }
      }
      case "raw" -> {
        RawConfirms r = new RawConfirms();
        r.start();
        try {
          run(window, warmup, calls, () -> r.client.call(Bench.PAYLOAD));
        } finally {
          r.stop();
        }
      }
      default -> throw new IllegalArgumentException("skiff, nonBlocking or raw: " + args[0]);
    }
  }

  private static void run(Window window, int warmup, int calls, Supplier<CompletableFuture<Echo>> call)
      throws InterruptedException {
    issue(window, warmup, call);
    System.err.println("READY " + ProcessHandle.current().pid());
    Thread.sleep(3000);
    long t0 = System.nanoTime();
    issue(window, calls, call);
    System.err.printf("DONE %d calls, %.1f us per call%n", calls, (System.nanoTime() - t0) / 1000.0 / calls);
    Thread.sleep(3000);
  }

  private static void issue(Window window, int n, Supplier<CompletableFuture<Echo>> call) throws InterruptedException {
    for (int i = 0; i < n; i++) {
      window.acquire();
      call.get().whenComplete(window);
    }
    window.drain();
  }
}
