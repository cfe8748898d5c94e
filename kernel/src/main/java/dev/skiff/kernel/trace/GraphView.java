package dev.skiff.kernel.trace;

import dev.skiff.platform.internal.Counts;
import static dev.skiff.kernel.WebServer.escape;

import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Draws a {@link ServiceGraph.Snapshot} in inline SVG: services as circles around a ring, coloured by
 * health (green OK, amber WARNING, red CRITICAL, grey for callers outside the platform); each caller →
 * callee arc as wide as its share of the traffic and coloured by its error rate. Stateless.
 */
public final class GraphView {
  private static final int W = 900;
  private static final int H = 640;
  private static final int R = 30;

  private GraphView() {}

  /**
   * @param health a health
   * @return its colour
   */
  static String colour(HealthSource.Health health) {
    return switch (health) {
      case OK -> "#3fa35b";
      case WARNING -> "#e3a21a";
      case CRITICAL -> "#d64541";
    };
  }

  /**
   * @param g the graph
   * @return an {@code <svg>} element
   */
  public static String svg(ServiceGraph.Snapshot g) {
    StringBuilder b = new StringBuilder(4096);
    b.append("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"graph\" width=\"" + W + "\" height=\"" + H
        + "\" viewBox=\"0 0 " + W + " " + H + "\" font-family=\"system-ui,sans-serif\" font-size=\"12\">");
    b.append("<defs>");
    for (HealthSource.Health h : HealthSource.Health.values()) {
      b.append("<marker id=\"head-").append(h).append("\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerUnits=\"userSpaceOnUse\" "
          + "markerWidth=\"18\" markerHeight=\"18\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"").append(colour(h)).append("\"/></marker>");
    }
    b.append("</defs>");
    List<ServiceGraph.Node> nodes = g.nodes();
    if (nodes.isEmpty()) {
      b.append("<text x=\"20\" y=\"40\" fill=\"#666\">No sampled traces yet.</text></svg>");
      return b.toString();
    }
    Map<String, double[]> at = new HashMap<>();
    double ring = Math.min(W, H) / 2.0 - 90;
    for (int i = 0; i < nodes.size(); i++) {
      double a = -Math.PI / 2 + 2 * Math.PI * i / nodes.size();
      double r = nodes.size() == 1 ? 0 : ring;
      at.put(nodes.get(i).service(), new double[] {W / 2.0 + r * Math.cos(a), H / 2.0 + r * Math.sin(a)});
    }
    long max = Math.max(1, g.arcs().stream().mapToLong(ServiceGraph.Arc::calls).max().orElse(1));
    for (ServiceGraph.Arc arc : g.arcs()) {
      double[] p = at.get(arc.from());
      double[] q = at.get(arc.to());
      HealthSource.Health h = ServiceGraph.byErrorRate(arc.calls(), arc.errors());
      double width = 1.5 + 7 * Math.sqrt((double) arc.calls() / max);
      String title = String.format(Locale.ROOT, "%s → %s: %s, %s (%.1f%%)", arc.from(), arc.to(), Counts.of(arc.calls(), "call"),
          Counts.of(arc.errors(), "error"), 100 * arc.errorRate());
      if (arc.from().equals(arc.to())) {
        b.append(String.format(Locale.ROOT,
            "<g class=\"arc\" data-from=\"%s\" data-to=\"%s\" data-calls=\"%d\"><title>%s</title><circle cx=\"%.1f\" cy=\"%.1f\" r=\"%d\" "
                + "fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\" opacity=\"0.8\"/></g>",
            escape(arc.from()), escape(arc.to()), arc.calls(), escape(title), p[0], p[1] - R - 14, 16, colour(h), width));
        continue;
      }
      double dx = q[0] - p[0];
      double dy = q[1] - p[1];
      double len = Math.max(1, Math.hypot(dx, dy));
      double ux = dx / len;
      double uy = dy / len;
      // bend each arc to its left so that a → b and b → a do not overlap
      double cx = (p[0] + q[0]) / 2 + uy * 40;
      double cy = (p[1] + q[1]) / 2 - ux * 40;
      double sx = p[0] + ux * R;
      double sy = p[1] + uy * R;
      double ex = q[0] - ux * (R + 4);
      double ey = q[1] - uy * (R + 4);
      b.append(String.format(Locale.ROOT,
          "<g class=\"arc\" data-from=\"%s\" data-to=\"%s\" data-calls=\"%d\" data-errors=\"%d\"><title>%s</title>"
              + "<path d=\"M%.1f,%.1f Q%.1f,%.1f %.1f,%.1f\" fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\" opacity=\"0.75\" "
              + "marker-end=\"url(#head-%s)\"/><text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#444\" font-size=\"11\">%d call%s%s</text></g>",
          escape(arc.from()), escape(arc.to()), arc.calls(), arc.errors(), escape(title), sx, sy, cx, cy, ex, ey, colour(h), width, h,
          cx, cy, arc.calls(), arc.calls() == 1 ? "" : "s", arc.errors() > 0 ? String.format(Locale.ROOT, ", %.1f%% err", 100 * arc.errorRate()) : ""));
    }
    for (ServiceGraph.Node n : nodes) {
      double[] p = at.get(n.service());
      boolean outside = n.service().equals(ServiceGraph.OUTSIDE) || (n.requests() == 0 && !n.fromMonitoring());
      String fill = outside ? "#9aa0a6" : colour(n.health());
      // a service with no spans of its own is a caller from outside, or a callee that did not answer or is not
      // traced: the calls that reached it say which
      long calledIn = g.arcs().stream().filter(a -> a.to().equals(n.service())).mapToLong(ServiceGraph.Arc::calls).sum();
      String detail = !outside ? String.format(Locale.ROOT, "%d req, %.1f%% err%s", n.requests(), 100 * n.errorRate(),
          n.fromMonitoring() ? ", " + n.health().name().toLowerCase(Locale.ROOT) : "")
          : calledIn == 0 ? "caller" : "called " + calledIn + (calledIn == 1 ? " time" : " times") + ", no spans of its own";
      b.append(String.format(Locale.ROOT,
          "<g class=\"node\" data-service=\"%s\" data-health=\"%s\"><title>%s</title><circle cx=\"%.1f\" cy=\"%.1f\" r=\"%d\" fill=\"%s\" "
              + "stroke=\"#333\"/><text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-weight=\"600\">%s</text>"
              + "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#555\" font-size=\"11\">%s</text></g>",
          escape(n.service()), outside ? "" : n.health(), escape(n.service() + ": " + detail), p[0], p[1], R, fill,
          p[0], p[1] + R + 15, escape(n.service()), p[0], p[1] + R + 29, escape(detail)));
    }
    b.append("</svg>");
    return b.toString();
  }
}
