package dev.skiff.kernel.trace;

import dev.skiff.platform.internal.Counts;
import static dev.skiff.kernel.WebServer.escape;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import dev.skiff.kernel.WebServer;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.trace.SpanTree;
import dev.skiff.platform.trace.ZipkinJson;
import dev.skiff.proto.v1.ListTracesRequest;
import dev.skiff.proto.v1.Span;
import dev.skiff.proto.v1.SpanKind;
import dev.skiff.proto.v1.Trace;
import dev.skiff.proto.v1.TraceSummary;
import java.io.IOException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The trace service's web pages and JSON API under {@code /traces}.
 *
 * <ul>
 *   <li>{@code /traces}: recent traces, a box to open one by id
 *   <li>{@code /traces/view/ID}: one trace as a sequence diagram, with its spans as a table
 *   <li>{@code /traces/graph}: the service graph
 *   <li>{@code /traces/api/v2/trace/ID}: one trace as Zipkin v2 JSON
 *   <li>{@code /traces/api/v2/traces?limit=N&amp;serviceName=S}: recent traces, a JSON array of Zipkin v2
 *       span arrays (Zipkin's own query format)
 *   <li>{@code /traces/api/graph}: the service graph as JSON
 * </ul>
 */
final class TracePages implements HttpHandler {
  private static final String STYLE = "<style>body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}"
      + "table{border-collapse:collapse;font-size:13px}td,th{padding:3px 10px;border-bottom:1px solid #e3e3e3;text-align:left}"
      + "th{background:#f3f5f8}.err{color:#d64541;font-weight:600}nav a{margin-right:1.2em}code{font-size:12px}td,th,code{overflow-wrap:anywhere}input{max-width:100%;box-sizing:border-box}"
      + "@media (max-width:600px){body{margin:.8em}td,th{padding:3px 4px}}"
      + ".legend span{display:inline-block;margin-right:1.2em}.sw{display:inline-block;width:12px;height:12px;"
      + "vertical-align:middle;margin-right:4px;border:1px solid #555}</style>";

  private final TraceService service;

  TracePages(TraceService service) {
    this.service = service;
  }

  @Override
  public void handle(HttpExchange ex) throws IOException {
    String path = ex.getRequestURI().getPath();
    if (!ex.getRequestMethod().equals("GET") && !ex.getRequestMethod().equals("HEAD")) {
      WebServer.methodNotAllowed(ex, "GET, HEAD");
      return;
    }
    String rest = path.substring("/traces".length());
    try {
      if (rest.isEmpty() || rest.equals("/")) {
        Map<String, String> q = query(ex);
        if (q.containsKey("id") && !q.get("id").isBlank()) {
          ex.getResponseHeaders().set("Location", "/traces/view/" + TraceService.normalise(q.get("id")));
          WebServer.send(ex, 303, "text/plain", "");
          return;
        }
        WebServer.send(ex, 200, "text/html; charset=utf-8", listPage(q.getOrDefault("service", "")));
      } else if (rest.startsWith("/view/")) {
        WebServer.send(ex, 200, "text/html; charset=utf-8", tracePage(service.get(rest.substring("/view/".length()))));
      } else if (rest.equals("/graph")) {
        WebServer.send(ex, 200, "text/html; charset=utf-8", graphPage());
      } else if (rest.startsWith("/api/v2/trace/")) {
        WebServer.send(ex, 200, "application/json", ZipkinJson.of(service.get(rest.substring("/api/v2/trace/".length())).getSpansList()));
      } else if (rest.equals("/api/v2/traces")) {
        WebServer.send(ex, 200, "application/json", tracesJson(query(ex)));
      } else if (rest.equals("/api/graph")) {
        WebServer.send(ex, 200, "application/json", graphJson());
      } else {
        WebServer.notFound(ex, "not found: " + path + " (see /traces; the JSON is /traces/api/v2/traces, /traces/api/v2/trace/ID and /traces/api/graph)");
      }
    } catch (SkiffException e) {
      int status = e.code() == ErrorCode.NOT_FOUND ? 404 : e.code() == ErrorCode.BAD_REQUEST ? 400 : 500;
      if (rest.startsWith("/api/")) {
        WebServer.sendError(ex, status, e.code().name(), e.description());
      } else {
        WebServer.send(ex, status, "text/html; charset=utf-8", page("Trace not available",
            "<p class=\"err\">" + e.code() + ": " + escape(e.description()) + "</p><p><a href=\"/traces\">Recent traces</a></p>"));
      }
    }
  }

  private static Map<String, String> query(HttpExchange ex) {
    Map<String, String> q = new HashMap<>();
    String raw = ex.getRequestURI().getRawQuery();
    if (raw == null) {
      return q;
    }
    for (String pair : raw.split("&")) {
      int eq = pair.indexOf('=');
      String k = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
      String v = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
      q.put(k, v);
    }
    return q;
  }

  private static String page(String title, String body) {
    return "<!doctype html><html><head><meta charset=\"utf-8\">" + WebServer.VIEWPORT + "<title>" + escape(title) + "</title>"
        + STYLE + "</head><body>"
        + "<nav><a href=\"/\">Kernel</a><a href=\"/traces\">Recent traces</a><a href=\"/traces/graph\">Service graph</a></nav>"
        + "<h1>" + escape(title) + "</h1>" + body + "</body></html>";
  }

  private String listPage(String filter) {
    List<TraceSummary> recent = service.list(ListTracesRequest.newBuilder().setLimit(100).setService(filter).build()).getTracesList();
    StringBuilder b = new StringBuilder();
    b.append("<form action=\"/traces\"><input name=\"id\" size=\"40\" placeholder=\"trace id (skiff call --trace prints it)\">"
        + " <button>Open</button></form>");
    b.append(String.format(Locale.ROOT, "<p>%s stored; %s received; %s dropped by services whose buffer was full; %s not"
            + " kept here (over the limit of spans a trace, or the store full).</p>",
        Counts.of(service.store().size(), "trace"), Counts.of(service.spansReceived(), "span"),
        Counts.of(service.spansDroppedUpstream(), "span"), Counts.of(service.store().spansNotKept(), "span")));
    b.append("<table class=\"traces\"><tr><th>started (UTC)</th><th>root</th><th>duration</th><th>spans</th><th>errors</th>"
        + "<th>trace</th></tr>");
    for (TraceSummary t : recent) {
      b.append("<tr><td>").append(Instant.ofEpochSecond(0, t.getStartMicros() * 1000)).append("</td><td>")
          .append(escape(t.getRootService() + "/" + t.getRootEndpoint())).append("</td><td>")
          .append(SequenceDiagram.ms(t.getDurationMicros())).append(" ms</td><td>").append(t.getSpanCount()).append("</td><td")
          .append(t.getErrorCount() > 0 ? " class=\"err\"" : "").append('>').append(t.getErrorCount())
          .append("</td><td><a href=\"/traces/view/").append(escape(t.getTraceId())).append("\"><code>").append(escape(t.getTraceId()))
          .append("</code></a></td></tr>");
    }
    b.append("</table>");
    if (recent.isEmpty()) {
      b.append("<p>No traces yet. Trace a call with <code>skiff call --trace SERVICE ENDPOINT</code>, or set "
          + "<code>SKIFF_TRACE_SAMPLE_RATE</code> on a service.</p>");
    }
    return page("Recent traces", b.toString());
  }

  private String tracePage(Trace t) {
    List<Span> spans = t.getSpansList();
    StringBuilder b = new StringBuilder();
    long t0 = spans.stream().mapToLong(Span::getStartMicros).min().orElse(0);
    long t1 = spans.stream().mapToLong(SequenceDiagram::end).max().orElse(t0);
    b.append("<p><code>").append(escape(t.getTraceId())).append("</code>: ").append(Counts.of(spans.size(), "span")).append(" over ")
        .append(SequenceDiagram.ms(t1 - t0)).append(" ms, started ").append(Instant.ofEpochSecond(0, t0 * 1000))
        .append(". <a href=\"/traces/api/v2/trace/").append(escape(t.getTraceId())).append("\">Zipkin v2 JSON</a></p>");
    if (t.getSpansNotKept() > 0) {
      b.append("<p class=\"err\">Cut short: ").append(Counts.of(t.getSpansNotKept(), "more span"))
          .append(" of this trace arrived and were not kept, over the trace service's limit of spans a trace (<code>SKIFF_TRACE_MAX_SPANS</code>).</p>");
    }
    b.append("<p class=\"legend\">Time flows down (ms from the start). A solid arrow sends a call, a dashed one brings its answer; "
        + "a box is the callee at work. Boxes side by side that overlap in height ran in parallel. Red: an error.</p>");
    b.append("<div class=\"diagram\">").append(SequenceDiagram.svg(spans)).append("</div>");
    b.append("<h2>Spans</h2><table class=\"spans\"><tr><th>start</th><th>duration</th><th>kind</th><th>span</th>"
        + "<th>instance</th><th>outcome</th><th>id</th></tr>");
    SpanTree tree = SpanTree.of(spans);
    for (Span r : tree.roots()) {
      rows(b, r, 0, t0, tree);
    }
    b.append("</table>");
    return page("Trace " + t.getTraceId().substring(0, 8) + "…", b.toString());
  }

  private static void rows(StringBuilder b, Span s, int depth, long t0, SpanTree tree) {
    boolean client = s.getKind() == SpanKind.SPAN_KIND_CLIENT;
    String what = client ? SequenceDiagram.name(s.getService()) + " → " + s.getRemoteService() + "/" + s.getEndpoint()
        : s.getService() + "/" + s.getEndpoint();
    String outcome = s.getErrorCode().isEmpty() ? "ok" : s.getErrorCode();
    if (client && s.getAttempt() > 1) {
      outcome += ", attempt " + s.getAttempt();
    }
    if (s.getRetrying()) {
      outcome += ", retried";
    }
    b.append("<tr data-span-id=\"").append(escape(s.getSpanId())).append("\"><td>").append(SequenceDiagram.ms(s.getStartMicros() - t0))
        .append(" ms</td><td>").append(SequenceDiagram.ms(s.getDurationMicros())).append(" ms</td><td>")
        .append(client ? "client" : "server").append("</td><td style=\"padding-left:").append(10 + depth * 16).append("px\">")
        .append(escape(what)).append("</td><td><code>").append(escape(s.getInstance())).append("</code></td><td")
        .append(s.getErrorCode().isEmpty() ? "" : " class=\"err\"").append('>').append(escape(outcome))
        .append("</td><td><code>").append(escape(s.getSpanId())).append("</code></td></tr>");
    for (Span c : tree.childrenOf(s)) {
      rows(b, c, depth + 1, t0, tree);
    }
  }

  private String graphPage() {
    ServiceGraph.Snapshot g = service.graph();
    String legend = "<p class=\"legend\">Services that called each other in sampled traces over the last "
        + g.window().toMinutes() + " minutes. An arc's width is its share of the calls; colours: "
        + "<span><i class=\"sw\" style=\"background:" + GraphView.colour(HealthSource.Health.OK) + "\"></i>healthy (under 1% errors)</span>"
        + "<span><i class=\"sw\" style=\"background:" + GraphView.colour(HealthSource.Health.WARNING) + "\"></i>warning (under 5%)</span>"
        + "<span><i class=\"sw\" style=\"background:" + GraphView.colour(HealthSource.Health.CRITICAL) + "\"></i>critical</span>"
        + "<span><i class=\"sw\" style=\"background:#9aa0a6\"></i>outside caller.</span>"
        + "A service's colour is its health from the monitoring service when that runs, else its error rate in the spans.</p>";
    return page("Service graph", legend + GraphView.svg(g));
  }

  private String tracesJson(Map<String, String> q) {
    int limit;
    try {
      limit = Integer.parseInt(q.getOrDefault("limit", "10"));
    } catch (NumberFormatException e) {
      throw new SkiffException(ErrorCode.BAD_REQUEST, "limit must be a whole number, not '" + q.get("limit") + "'");
    }
    if (limit < 1 || limit > 1000) {
      throw new SkiffException(ErrorCode.BAD_REQUEST, "limit must be from 1 to 1000, not " + limit);
    }
    List<TraceSummary> recent = service.list(ListTracesRequest.newBuilder().setLimit(limit)
        .setService(q.getOrDefault("serviceName", "")).build()).getTracesList();
    StringBuilder b = new StringBuilder("[");
    for (TraceSummary t : recent) {
      service.store().trace(t.getTraceId()).ifPresent(spans -> {
        if (b.length() > 1) {
          b.append(',');
        }
        b.append(ZipkinJson.of(TraceService.withCallerInstances(spans)));
      });
    }
    return b.append(']').toString();
  }

  private String graphJson() {
    ServiceGraph.Snapshot g = service.graph();
    StringBuilder b = new StringBuilder("{\"windowSeconds\":").append(g.window().toSeconds()).append(",\"nodes\":[");
    for (int i = 0; i < g.nodes().size(); i++) {
      ServiceGraph.Node n = g.nodes().get(i);
      b.append(i == 0 ? "" : ",").append("{\"service\":").append(jsonString(n.service())).append(",\"requests\":").append(n.requests())
          .append(",\"errors\":").append(n.errors()).append(",\"health\":\"").append(n.health()).append("\",\"healthFromMonitoring\":")
          .append(n.fromMonitoring()).append('}');
    }
    b.append("],\"arcs\":[");
    for (int i = 0; i < g.arcs().size(); i++) {
      ServiceGraph.Arc a = g.arcs().get(i);
      b.append(i == 0 ? "" : ",").append("{\"from\":").append(jsonString(a.from())).append(",\"to\":").append(jsonString(a.to()))
          .append(",\"calls\":").append(a.calls()).append(",\"errors\":").append(a.errors()).append('}');
    }
    return b.append("]}").toString();
  }

  private static String jsonString(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') {
        b.append('\\').append(c);
      } else if (c < 0x20) {
        b.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
      } else {
        b.append(c);
      }
    }
    return b.append('"').toString();
  }
}
