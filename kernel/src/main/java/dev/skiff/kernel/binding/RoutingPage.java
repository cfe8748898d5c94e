package dev.skiff.kernel.binding;

import static dev.skiff.kernel.WebServer.escape;

import dev.skiff.kernel.WebServer;
import dev.skiff.proto.v1.RouteRule;
import dev.skiff.proto.v1.RouteStatus;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The routing page a person reads: per service, its rule (each version's share) and the split the broker
 * applies now (the rule's versions that run; every instance shares the traffic when none does), with the
 * running instances of each version; what {@code skiff route} prints. Every value is escaped.
 */
final class RoutingPage {
  private RoutingPage() {}

  /**
   * @param statuses one per service (with or without a rule)
   * @return the page
   */
  static String render(List<RouteStatus> statuses) {
    StringBuilder b = new StringBuilder();
    b.append("<p>The share of each service's traffic each version gets. Change a rule with <code>skiff route SERVICE "
        + "VERSION=PERCENT ...</code> (role ADMIN.ROUTES). As JSON: <a href=\"/routing/api/rules\">/routing/api/rules</a>.</p>");
    if (statuses.isEmpty()) {
      b.append("<p class=\"muted\">No rule, and no running instance.</p>");
    }
    for (RouteStatus st : statuses) {
      RouteRule r = st.getRule();
      b.append("<h2 id=\"").append(escape(r.getService())).append("\">").append(escape(r.getService())).append("</h2>");
      Map<String, Integer> weights = new TreeMap<>(r.getWeightsMap());
      if (weights.isEmpty()) {
        b.append("<p>No rule: every instance of every version shares the traffic.</p>");
      } else {
        StringBuilder rule = new StringBuilder();
        weights.forEach((v, w) -> rule.append(rule.length() == 0 ? "" : ", ").append(escape(v)).append(" ").append(w).append('%'));
        b.append("<p>Rule: ").append(rule).append(" <span class=\"muted\">(set ").append(Instant.ofEpochMilli(r.getUpdatedMs()))
            .append(")</span></p>");
      }
      TreeSet<String> versions = new TreeSet<>(st.getInstancesMap().keySet());
      versions.addAll(weights.keySet());
      if (versions.isEmpty()) {
        b.append("<p class=\"muted\">No running instance.</p>");
        continue;
      }
      boolean routed = Shares.routed(st);
      b.append("<table><tr><th>Version</th><th>Rule's share</th><th>Traffic now</th><th>Instances</th></tr>");
      for (String v : versions) {
        int running = st.getInstancesMap().getOrDefault(v, 0);
        b.append("<tr><td>").append(escape(v)).append("</td><td>")
            .append(weights.containsKey(v) ? weights.get(v) + "%" : "<span class=\"muted\">none</span>").append("</td><td>")
            .append(routed ? Shares.percent(st, v) : "shared").append("</td><td")
            .append(running == 0 ? " class=\"warn\"" : "").append('>').append(running).append("</td></tr>");
      }
      b.append("</table>");
      if (!weights.isEmpty() && !routed) {
        b.append("<p class=\"warn\">").append(Character.toUpperCase(Shares.UNROUTED.charAt(0))).append(Shares.UNROUTED.substring(1))
            .append(".</p>");
      }
    }
    return WebServer.page("Routing rules", b.toString());
  }
}
