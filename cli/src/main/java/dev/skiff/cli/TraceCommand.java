package dev.skiff.cli;

import dev.skiff.kernel.trace.TraceService;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.internal.Counts;
import dev.skiff.platform.internal.Printable;
import dev.skiff.platform.trace.SpanTree;
import dev.skiff.platform.trace.ZipkinJson;
import dev.skiff.proto.v1.GetTraceRequest;
import dev.skiff.proto.v1.Span;
import dev.skiff.proto.v1.SpanKind;
import dev.skiff.proto.v1.Trace;
import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;

/** {@code skiff trace ID [--json]}: one stored trace, as a tree of spans or as Zipkin v2 JSON. */
@Command(
    name = "trace",
    header = "Shows a stored trace: its spans as a tree with their timings, or as Zipkin v2 JSON.",
    description = {
      "Asks the trace kernel service (skiff.trace, run by 'skiff kernel') for a trace. A trace is stored when it "
          + "was sampled: forced with 'skiff call --trace' (which prints its id), or by a service's "
          + "SKIFF_TRACE_SAMPLE_RATE. Its spans arrive within about a second of the call.",
      ""
    },
    footer = {
      "",
      "Examples:",
      "  skiff trace 4bf92f3577b34da6a3ce929d0e0e4736",
      "  skiff trace 4bf92f3577b34da6a3ce929d0e0e4736 --json > trace.json   (load into Zipkin or Jaeger)",
      "",
      "Exit codes: 0 shown, 1 no such trace or the trace service failed, 2 usage error, 3 no connection to the broker,",
      "4 the session was refused (expired or revoked: skiff login again, or skiff logout)."
    })
final class TraceCommand extends BrokerCommand {
  private static final Pattern TRACE_ID = Pattern.compile("[0-9a-fA-F]{32}");

  @Parameters(index = "0", paramLabel = "ID", description = "The trace id: 32 hex characters, as 'skiff call --trace' prints it.")
  String traceId;

  @Option(names = "--json", description = "Print the trace as Zipkin v2 JSON (an array of spans) instead of a tree.")
  boolean json;

  @Mixin TimeoutOption timeout;

  @Override
  public Integer call() {
    if (!TRACE_ID.matcher(traceId).matches()) {
      throw new ParameterException(spec.commandLine(),
          "'" + traceId + "' is not a trace id: a trace id is 32 hex characters (what 'skiff call --trace' prints)");
    }
    PrintWriter out = out();
    PrintWriter err = err();
    Client client = connect();
    try (client) {
      Trace t = client.call(TraceService.SERVICE, "get", GetTraceRequest.newBuilder().setTraceId(traceId).build(), Trace.class,
          CallOptions.timeout(timeout.get()));
      if (json) {
        out.println(Printable.json(ZipkinJson.of(t.getSpansList())));
      } else {
        print(out, t);
      }
      out.flush();
      return SkiffCli.EXIT_OK;
    } catch (SkiffException e) {
      SkiffCli.printError(err, e);
      return SkiffCli.exitCode(e);
    }
  }

  /** Prints the spans as a tree: start (ms from the trace's start), duration, what, outcome. */
  static void print(PrintWriter out, Trace t) {
    List<Span> spans = t.getSpansList();
    long t0 = spans.stream().mapToLong(Span::getStartMicros).min().orElse(0);
    long t1 = spans.stream().mapToLong(s -> s.getStartMicros() + s.getDurationMicros()).max().orElse(t0);
    out.printf(Locale.ROOT, "trace %s: %s over %.3f ms%n", Printable.text(t.getTraceId()), Counts.of(spans.size(), "span"), (t1 - t0) / 1000.0);
    if (t.getSpansNotKept() > 0) {
      out.printf(Locale.ROOT, "  (cut short: %s arrived and were not kept, over the trace service's limit of spans a trace,"
          + " SKIFF_TRACE_MAX_SPANS)%n", Counts.of(t.getSpansNotKept(), "more span"));
    }
    out.printf(Locale.ROOT, "%10s %10s  %s%n", "start ms", "took ms", "span");
    SpanTree tree = SpanTree.of(spans);
    for (Span r : tree.roots()) {
      print(out, r, 0, t0, tree);
    }
  }

  private static void print(PrintWriter out, Span s, int depth, long t0, SpanTree tree) {
    boolean client = s.getKind() == SpanKind.SPAN_KIND_CLIENT;
    StringBuilder what = new StringBuilder("  ".repeat(depth));
    if (client) {
      what.append("call ").append(s.getService().isEmpty() ? "?" : Printable.text(s.getService())).append(" -> ")
          .append(Printable.text(s.getRemoteService())).append('/').append(Printable.text(s.getEndpoint()));
      if (s.getAttempt() > 1) {
        what.append(" attempt ").append(s.getAttempt());
      }
    } else {
      what.append("serve ").append(Printable.text(s.getService())).append('/').append(Printable.text(s.getEndpoint()))
          .append(" on ").append(Printable.text(s.getInstance()));
    }
    what.append("  ").append(s.getErrorCode().isEmpty() ? "ok" : Printable.text(s.getErrorCode()));
    if (s.getRetrying()) {
      what.append(", retried");
    }
    out.printf(Locale.ROOT, "%10.3f %10.3f  %s%n", (s.getStartMicros() - t0) / 1000.0, s.getDurationMicros() / 1000.0, what);
    for (Span c : tree.childrenOf(s)) {
      print(out, c, depth + 1, t0, tree);
    }
  }
}
