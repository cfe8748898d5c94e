package dev.skiff.cli;

import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.client.Reply;
import dev.skiff.platform.internal.Printable;
import dev.skiff.platform.transport.amqp.AmqpOptions;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;

/**
 * {@code skiff load SERVICE ENDPOINT JSON --calls N --concurrency C}: N asynchronous calls, at most C in
 * flight at once, then a summary.
 *
 * <p>One thread starts the calls, taking a permit per call; each call gives its permit back when it
 * completes. Completion callbacks only record the outcome: they never block and never start calls, as
 * they run on the client's transport threads.
 */
@Command(
    name = "load",
    header = "Drives load against an endpoint and prints a summary.",
    description = {
      "Makes N calls with the same JSON request, at most C in flight at once, then prints: calls, "
          + "successes, errors by code, throughput, latency percentiles of the successful calls "
          + "(nearest rank), and the successful calls by the version and by the instance that "
          + "answered. One line per failing error code, with its first description, goes to stderr.",
      ""
    },
    footer = {
      "",
      "Example:",
      "  skiff load com.example.greeter hello '{\"name\": \"Ada\"}' \\",
      "      --calls 1000 --concurrency 16 --json",
      "",
      "Exit codes: 0 every call succeeded, 1 at least one call failed, 2 usage error,",
      "            3 no connection to the broker, 4 not signed in where the endpoint needs it, 5 not allowed."
    })
final class LoadCommand extends BrokerCommand {
  /** The most calls one run makes (each successful call keeps one latency sample). */
  static final int MAX_CALLS = 10_000_000;
  /** The most calls in flight at once (the platform client's own default bound). */
  static final int MAX_CONCURRENCY = 10_000;

  @Parameters(index = "0", paramLabel = "SERVICE", converter = ServiceNameConverter.class, description = "The service's dotted name.")
  String service;

  @Parameters(index = "1", paramLabel = "ENDPOINT", description = "The endpoint.")
  String endpoint;

  @Parameters(index = "2", paramLabel = "JSON", description = "The request of every call, as JSON, e.g. '{}'.")
  String json;

  @Option(names = "--calls", paramLabel = "N", required = true, description = "How many calls to make in all (1 to 10,000,000).")
  int calls;

  @Option(
      names = "--concurrency",
      paramLabel = "C",
      required = true,
      description = "How many calls may be in flight at once (1 to 10,000).")
  int concurrency;

  @Mixin TimeoutOption timeout;

  @Mixin TargetOption target;

  @Option(names = "--json", description = "Print the summary as one JSON object on one line (fields: see docs/cli.md).")
  boolean jsonOutput;

  @Override
  public Integer call() throws InterruptedException {
    if (calls < 1 || calls > MAX_CALLS) {
      throw new ParameterException(
          spec.commandLine(), "--calls must be between 1 and " + MAX_CALLS + ", not " + calls);
    }
    if (concurrency < 1 || concurrency > MAX_CONCURRENCY) {
      throw new ParameterException(
          spec.commandLine(), "--concurrency must be between 1 and " + MAX_CONCURRENCY + ", not " + concurrency);
    }
    CallOptions options = given(() -> target.applyTo(CallOptions.timeout(timeout.get())));
    PrintWriter out = out();
    PrintWriter err = err();
    Client client = connect();
    LoadStats.Summary summary;
    try (client) {
      summary = drive(client, options);
    }
    if (jsonOutput) {
      out.println(Printable.json(toJson(summary)));
    } else {
      printText(out, summary);
    }
    out.flush();
    summary.firstErrorByCode().forEach(
        (code, description) ->
            err.println(
                code + ": " + Printable.text(AmqpOptions.redact(description))
                    + " (first of " + summary.errorsByCode().get(code) + ")"));
    return summary.errors() == 0 ? SkiffCli.EXIT_OK : SkiffCli.EXIT_CALL_FAILED;
  }

  private LoadStats.Summary drive(Client client, CallOptions options) throws InterruptedException {
    LoadStats stats = new LoadStats(calls);
    Semaphore permits = new Semaphore(concurrency);
    CountDownLatch done = new CountDownLatch(calls);
    long t0 = System.nanoTime();
    for (int i = 0; i < calls; i++) {
      permits.acquire();
      long start = System.nanoTime();
      CompletableFuture<Reply<String>> f;
      try {
        f = client.callJson(service, endpoint, json, options);
      } catch (RuntimeException e) {
        f = CompletableFuture.failedFuture(e);
      }
      f.whenComplete(
          (reply, error) -> {
            long nanos = System.nanoTime() - start;
            if (error == null) {
              stats.success(reply, nanos);
            } else {
              stats.failure(SkiffException.of(error));
            }
            permits.release();
            done.countDown();
          });
    }
    done.await();
    return stats.summarize(calls, System.nanoTime() - t0);
  }

  String toJson(LoadStats.Summary s) {
    Json latency = null;
    if (s.latency() != null) {
      LoadStats.Latency l = s.latency();
      latency =
          new Json()
              .put("min", l.min())
              .put("mean", l.mean())
              .put("p50", l.p50())
              .put("p90", l.p90())
              .put("p99", l.p99())
              .put("max", l.max());
    }
    return new Json()
        .put("service", service)
        .put("endpoint", endpoint)
        .put("calls", s.calls())
        .put("concurrency", concurrency)
        .put("timeoutMs", timeout.get().toMillis())
        .put("successes", s.successes())
        .put("errors", s.errors())
        .putCounts("errorsByCode", s.errorsByCode())
        .put("elapsedMs", s.elapsedMs())
        .put("throughput", s.throughput())
        .putRaw("latencyMs", latency)
        .putCounts("byVersion", s.byVersion())
        .putCounts("byInstance", s.byInstance())
        .toString();
  }

  private void printText(PrintWriter out, LoadStats.Summary s) {
    out.printf(
        Locale.ROOT,
        "load %s/%s: %d calls, concurrency %d, timeout %s%n",
        service, endpoint, s.calls(), concurrency, DurationConverter.format(timeout.get()));
    out.printf(Locale.ROOT, "  successes    %d%n", s.successes());
    out.printf(
        Locale.ROOT, "  errors       %d%s%n", s.errors(), s.errors() == 0 ? "" : " (" + counts(s.errorsByCode()) + ")");
    out.printf(Locale.ROOT, "  elapsed      %.3f s%n", s.elapsedMs() / 1000);
    out.printf(Locale.ROOT, "  throughput   %.1f calls/s%n", s.throughput());
    if (s.latency() != null) {
      LoadStats.Latency l = s.latency();
      out.printf(
          Locale.ROOT,
          "  latency ms   p50 %s  p90 %s  p99 %s  max %s  (min %s, mean %s)%n",
          Json.number(l.p50()), Json.number(l.p90()), Json.number(l.p99()), Json.number(l.max()),
          Json.number(l.min()), Json.number(l.mean()));
    } else {
      out.println("  latency ms   - (no call succeeded)");
    }
    out.printf(Locale.ROOT, "  by version   %s%n", s.byVersion().isEmpty() ? "-" : counts(s.byVersion()));
    out.printf(Locale.ROOT, "  by instance  %s%n", s.byInstance().isEmpty() ? "-" : counts(s.byInstance()));
  }

  private static String counts(Map<String, Long> m) {
    return m.entrySet().stream().map(e -> Printable.text(e.getKey()) + ": " + e.getValue()).collect(Collectors.joining(", "));
  }
}
