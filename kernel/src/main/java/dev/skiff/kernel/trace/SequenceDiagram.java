package dev.skiff.kernel.trace;

import static dev.skiff.kernel.WebServer.escape;

import dev.skiff.proto.v1.Span;
import dev.skiff.proto.v1.SpanKind;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Draws a trace as a sequence diagram in inline SVG: one lifeline per service, time flowing down on a
 * scale (the axis on the left is in milliseconds from the trace's start). A call is an arrow from the
 * caller to the callee when it was sent and a dashed arrow back when it ended; the callee's work is a box
 * from server receive to server reply. Calls that ran at the same time have boxes side by side that
 * overlap in height; calls made one after another are stacked without overlap. Failed spans are red,
 * with their error code; a timed out attempt is marked {@code timeout}, a retried one {@code retry}.
 *
 * <p>Every span is an SVG group {@code <g class="span client|server" data-span-id="ID">} with a tooltip.
 * The arrows' labels are drawn last, none covering another ({@link LabelPlacer}), each on a halo of the
 * background so that a line through it does not hide it. Stateless.
 */
public final class SequenceDiagram {
  private static final int LEFT = 90;
  private static final int TOP = 64;
  private static final int COL = 180;
  private static final int BOX = 12;
  private static final String OK_FILL = "#8fb8e6";
  private static final String ERR = "#d64541";

  private SequenceDiagram() {}

  /**
   * @param spans a trace's spans (any order, not empty)
   * @return an {@code <svg>} element
   */
  public static String svg(List<Span> spans) {
    List<Span> sorted = new ArrayList<>(spans);
    sorted.sort(Comparator.comparingLong(Span::getStartMicros));
    Map<String, Span> byId = new HashMap<>();
    Map<String, Span> serverOfClient = new HashMap<>();
    for (Span s : sorted) {
      byId.put(s.getSpanId(), s);
      if (s.getKind() == SpanKind.SPAN_KIND_SERVER && !s.getParentSpanId().isEmpty()) {
        serverOfClient.put(s.getParentSpanId(), s);
      }
    }
    LinkedHashMap<String, Integer> column = new LinkedHashMap<>();
    for (Span s : sorted) {
      if (s.getKind() == SpanKind.SPAN_KIND_CLIENT) {
        column.putIfAbsent(name(s.getService()), column.size());
        column.putIfAbsent(name(s.getRemoteService()), column.size());
      } else {
        Span parent = byId.get(s.getParentSpanId());
        if (parent == null) {
          column.putIfAbsent(caller(s), column.size());
        }
        column.putIfAbsent(name(s.getService()), column.size());
      }
    }
    // lanes: server boxes of one service that overlap in time sit side by side
    Map<String, Integer> lane = new HashMap<>();
    Map<String, List<Long>> laneEnds = new HashMap<>();
    int maxLanes = 1;
    for (Span s : sorted) {
      if (s.getKind() != SpanKind.SPAN_KIND_SERVER) {
        continue;
      }
      List<Long> ends = laneEnds.computeIfAbsent(name(s.getService()), k -> new ArrayList<>());
      int l = 0;
      while (l < ends.size() && ends.get(l) > s.getStartMicros()) {
        l++;
      }
      if (l == ends.size()) {
        ends.add(0L);
      }
      ends.set(l, end(s));
      lane.put(s.getSpanId(), l);
      maxLanes = Math.max(maxLanes, ends.size());
    }
    int col = Math.max(COL, 120 + maxLanes * (BOX + 4));
    long t0 = sorted.get(0).getStartMicros();
    long t1 = sorted.stream().mapToLong(SequenceDiagram::end).max().orElse(t0 + 1);
    long total = Math.max(1, t1 - t0);
    int height = Math.max(360, Math.min(900, 44 * sorted.size()));
    double scale = (double) height / total;
    int width = LEFT + column.size() * col + 20;
    int svgHeight = TOP + height + 40;

    StringBuilder b = new StringBuilder(8192);
    List<LabelPlacer.Label> labels = new ArrayList<>();
    b.append(String.format(Locale.ROOT,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"sequence\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
            + "font-family=\"system-ui,sans-serif\" font-size=\"12\">",
        width, svgHeight, width, svgHeight));
    b.append("<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" "
        + "orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#333\"/></marker>"
        + "<marker id=\"arrow-err\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" "
        + "orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"" + ERR + "\"/></marker></defs>");
    // time axis
    long step = niceStep(total / 8.0);
    b.append(String.format(Locale.ROOT, "<g class=\"axis\"><line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#999\"/>",
        LEFT - 20, TOP, LEFT - 20, TOP + height));
    for (long t = 0; t <= total; t += step) {
      double y = TOP + t * scale;
      b.append(String.format(Locale.ROOT,
          "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#999\"/><line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#eee\"/>"
              + "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" fill=\"#666\">%s</text>",
          LEFT - 25, y, LEFT - 20, y, LEFT - 18, y, width - 10, y, LEFT - 28, y + 4, ms(t)));
    }
    b.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"#666\">ms</text></g>",
        LEFT - 40, TOP - 10));
    // lifelines
    for (Map.Entry<String, Integer> e : column.entrySet()) {
      int x = center(e.getValue(), col);
      b.append(String.format(Locale.ROOT,
          "<g class=\"participant\" data-service=\"%s\"><rect x=\"%d\" y=\"8\" width=\"%d\" height=\"30\" rx=\"4\" fill=\"#f3f5f8\" stroke=\"#778\"/>"
              + "<text x=\"%d\" y=\"28\" text-anchor=\"middle\" font-weight=\"600\">%s</text>"
              + "<line x1=\"%d\" y1=\"38\" x2=\"%d\" y2=\"%d\" stroke=\"#aab\" stroke-dasharray=\"4 4\"/></g>",
          escape(e.getKey()), x - col / 2 + 10, col - 20, x, escape(shorten(e.getKey(), col)), x, x, TOP + height + 20));
    }
    // server boxes first, arrows over them
    for (Span s : sorted) {
      if (s.getKind() != SpanKind.SPAN_KIND_SERVER) {
        continue;
      }
      double y0 = TOP + (s.getStartMicros() - t0) * scale;
      double h = Math.max(2, s.getDurationMicros() * scale);
      boolean err = !s.getErrorCode().isEmpty();
      int bx = boxLeft(column.get(name(s.getService())), lane.get(s.getSpanId()), col);
      b.append(String.format(Locale.ROOT,
          "<g class=\"span server\" id=\"span-%s\" data-span-id=\"%s\"><title>%s</title>"
              + "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" fill=\"%s\" stroke=\"%s\"/>",
          escape(s.getSpanId()), escape(s.getSpanId()), escape(tooltip(s)), bx, y0, BOX, h, err ? "#f2b8b5" : OK_FILL,
          err ? ERR : "#3b6ea8"));
      Span parent = byId.get(s.getParentSpanId());
      if (parent == null) {
        // the caller recorded no span: draw its call from its lifeline
        int from = center(column.get(caller(s)), col);
        b.append(arrow(from, bx, y0, false, err, s.getEndpoint(), labels));
        b.append(arrow(bx, from, y0 + h, true, err, err ? s.getErrorCode() : "", labels));
      }
      b.append("</g>");
    }
    for (Span c : sorted) {
      if (c.getKind() != SpanKind.SPAN_KIND_CLIENT) {
        continue;
      }
      double y0 = TOP + (c.getStartMicros() - t0) * scale;
      double y1 = TOP + (end(c) - t0) * scale;
      Span from = byId.get(c.getParentSpanId());
      int fromCol = column.get(name(c.getService()));
      int toCol = column.get(name(c.getRemoteService()));
      boolean right = toCol >= fromCol;
      double fx = from != null && from.getKind() == SpanKind.SPAN_KIND_SERVER && lane.containsKey(from.getSpanId())
          ? boxLeft(fromCol, lane.get(from.getSpanId()), col) + (right ? BOX : 0)
          : center(fromCol, col);
      Span to = serverOfClient.get(c.getSpanId());
      double tx = to != null && lane.containsKey(to.getSpanId())
          ? boxLeft(toCol, lane.get(to.getSpanId()), col) + (right ? 0 : BOX)
          : center(toCol, col);
      boolean err = !c.getErrorCode().isEmpty();
      String label = c.getEndpoint() + (c.getAttempt() > 1 ? " (attempt " + c.getAttempt() + ")" : "");
      String back = err ? c.getErrorCode() : "";
      if (c.getErrorCode().equals("TIMEOUT")) {
        back = "timeout";
      }
      if (c.getRetrying()) {
        back = back.isEmpty() ? "retry" : back + ", retry";
      }
      b.append(String.format(Locale.ROOT, "<g class=\"span client\" id=\"span-%s\" data-span-id=\"%s\"><title>%s</title>",
          escape(c.getSpanId()), escape(c.getSpanId()), escape(tooltip(c))));
      b.append(arrow(fx, tx, y0, false, err, label, labels));
      b.append(arrow(tx, fx, Math.max(y1, y0 + 2), true, err, back, labels));
      if (to == null) {
        // no server span: mark where the call went unanswered
        b.append(String.format(Locale.ROOT,
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"%s\" font-weight=\"700\">%s</text>",
            tx, y0 + 14, err ? ERR : "#777", err ? "&#x2715;" : "?"));
      }
      b.append("</g>");
    }
    // labels last, each with a halo of the background, so that a line crossing one does not hide it
    labels.sort(Comparator.comparingDouble(LabelPlacer.Label::line).thenComparingDouble(LabelPlacer.Label::x));
    LabelPlacer placer = new LabelPlacer();
    b.append("<g class=\"labels\" font-size=\"" + LabelPlacer.FONT + "\" text-anchor=\"middle\" stroke=\"#fff\" "
        + "stroke-width=\"3\" stroke-linejoin=\"round\" paint-order=\"stroke\">");
    for (LabelPlacer.Label l : labels) {
      LabelPlacer.Placed p = placer.place(l);
      if (p != null) {
        b.append(String.format(Locale.ROOT, "<text class=\"label\" x=\"%.1f\" y=\"%.1f\" fill=\"%s\">%s</text>",
            l.x(), p.baseline(), l.colour(), escape(l.text())));
      }
    }
    b.append("</g></svg>");
    return b.toString();
  }

  /** An arrow's line; its label, if any, is added to {@code labels}, placed and drawn after every line. */
  private static String arrow(
      double x0, double x1, double y, boolean dashed, boolean err, String label, List<LabelPlacer.Label> labels) {
    String colour = err ? ERR : "#333";
    if (!label.isEmpty()) {
      labels.add(new LabelPlacer.Label((x0 + x1) / 2, y, !dashed, label, dashed && !err ? "#666" : colour));
    }
    return String.format(Locale.ROOT,
        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"1.3\"%s marker-end=\"url(#%s)\"/>",
        x0, y, x1, y, colour, dashed ? " stroke-dasharray=\"5 3\"" : "", err ? "arrow-err" : "arrow");
  }

  private static String tooltip(Span s) {
    StringBuilder t = new StringBuilder();
    if (s.getKind() == SpanKind.SPAN_KIND_CLIENT) {
      t.append(name(s.getService())).append(" → ").append(s.getRemoteService()).append('/').append(s.getEndpoint())
          .append(" attempt ").append(s.getAttempt());
    } else {
      t.append(s.getService()).append('/').append(s.getEndpoint()).append(" on ").append(s.getInstance());
    }
    t.append(String.format(Locale.ROOT, ": %.3f ms", s.getDurationMicros() / 1000.0));
    if (!s.getErrorCode().isEmpty()) {
      t.append(", ").append(s.getErrorCode());
    }
    if (s.getRetrying()) {
      t.append(", retried");
    }
    return t.append(" (span ").append(s.getSpanId()).append(')').toString();
  }

  static long end(Span s) {
    return s.getStartMicros() + Math.max(1, s.getDurationMicros());
  }

  static String name(String service) {
    return service.isEmpty() ? ServiceGraph.OUTSIDE : service;
  }

  private static String caller(Span server) {
    return name(server.getRemoteService());
  }

  private static int center(int column, int col) {
    return LEFT + column * col + col / 2;
  }

  private static int boxLeft(int column, int lane, int col) {
    return center(column, col) - BOX / 2 + lane * (BOX + 4);
  }

  private static String shorten(String s, int col) {
    int max = (col - 30) / 7;
    return s.length() <= max ? s : "…" + s.substring(s.length() - max + 1);
  }

  /**
   * @param micros a duration
   * @return it in milliseconds, for an axis label
   */
  static String ms(long micros) {
    double ms = micros / 1000.0;
    return ms >= 100 ? String.format(Locale.ROOT, "%.0f", ms)
        : ms >= 1 ? String.format(Locale.ROOT, "%.1f", ms) : String.format(Locale.ROOT, "%.2f", ms);
  }

  private static long niceStep(double raw) {
    long pow = 1;
    while (pow * 10 <= raw) {
      pow *= 10;
    }
    for (long m : new long[] {1, 2, 5, 10}) {
      if (pow * m >= raw) {
        return Math.max(1, pow * m);
      }
    }
    return Math.max(1, pow * 10);
  }
}
