package dev.skiff.kernel.discovery;

import static dev.skiff.kernel.WebServer.escape;

import dev.skiff.kernel.WebServer;
import dev.skiff.proto.v1.InstanceAnnouncement;
import dev.skiff.proto.v1.InstanceInfo;
import dev.skiff.proto.v1.ListServicesResponse;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The discovery page a person reads: per service, its versions and running instances (host, age, when last
 * heard from) and whether each is healthy as discovery sees it (announcing on time, stopping, or late).
 * Every value is escaped: announcements are untrusted text.
 */
final class DiscoveryPage {
  private DiscoveryPage() {}

  /**
   * @param list the registry's answer
   * @param filter the service asked for ("" for all)
   * @return the page
   */
  static String render(ListServicesResponse list, String filter) {
    long now = list.getNowMs();
    Map<String, List<InstanceInfo>> byService = new TreeMap<>();
    for (InstanceInfo i : list.getInstancesList()) {
      byService.computeIfAbsent(i.getAnnouncement().getService(), k -> new ArrayList<>()).add(i);
    }
    StringBuilder b = new StringBuilder();
    b.append("<form action=\"/discovery\"><input name=\"service\" size=\"40\" placeholder=\"service (empty for all)\" value=\"")
        .append(escape(filter)).append("\"> <button>Show</button></form>");
    b.append(String.format(Locale.ROOT, "<p>Services: %d. Instances: %d. Health reports and graphs: <a href=\"/monitoring/\">monitoring</a>;"
        + " the share of traffic of each version: <a href=\"/routing\">routing</a>. As JSON: "
        + "<a href=\"/discovery/api/services\">/discovery/api/services</a>.</p>", byService.size(), list.getInstancesCount()));
    if (byService.isEmpty()) {
      b.append("<p class=\"muted\">No instance has announced itself").append(filter.isEmpty() ? "" : " for this service").append(".</p>");
    }
    for (Map.Entry<String, List<InstanceInfo>> e : byService.entrySet()) {
      Map<String, Integer> versions = new LinkedHashMap<>();
      e.getValue().forEach(i -> versions.merge(i.getAnnouncement().getVersion(), 1, Integer::sum));
      String description = e.getValue().get(0).getAnnouncement().getDescription();
      b.append("<h2 data-service=\"").append(escape(e.getKey())).append("\">").append(escape(e.getKey())).append("</h2>");
      if (!description.isEmpty()) {
        b.append("<p class=\"muted\">").append(escape(description)).append("</p>");
      }
      b.append("<p>Versions: ");
      versions.forEach((v, n) -> b.append(escape(v)).append(" (").append(n).append(n == 1 ? " instance) " : " instances) "));
      b.append("· <a href=\"/routing#").append(escape(URLEncoder.encode(e.getKey(), StandardCharsets.UTF_8))).append("\">routing</a></p>");
      b.append("<table><tr><th>Version</th><th>Instance</th><th>Host</th><th>Started</th><th>Last heard</th><th>Health</th>"
          + "<th>Endpoints</th></tr>");
      for (InstanceInfo i : e.getValue()) {
        InstanceAnnouncement a = i.getAnnouncement();
        b.append("<tr><td>").append(escape(a.getVersion())).append("</td><td>").append(escape(a.getInstance())).append("</td><td>")
            .append(escape(a.getHost())).append("</td><td title=\"").append(Instant.ofEpochMilli(a.getStartedMs())).append("\">")
            .append(age(now - a.getStartedMs())).append(" ago</td><td>").append(age(now - i.getLastSeenMs())).append(" ago</td><td>")
            .append(health(a, now - i.getLastSeenMs())).append("</td><td>").append(a.getEndpointsCount()).append("</td></tr>");
      }
      b.append("</table>");
    }
    return WebServer.page("Discovery: running instances", b.toString());
  }

  private static String health(InstanceAnnouncement a, long silentMs) {
    if (a.getState() == InstanceAnnouncement.State.STOPPING) {
      return "<span class=\"warn\">stopping</span>";
    }
    long heartbeat = a.getHeartbeatMs() > 0 ? a.getHeartbeatMs() : 2000;
    if (silentMs > 2 * heartbeat) {
      return "<span class=\"err\">late: silent for " + age(silentMs) + "</span>";
    }
    return "<span class=\"ok\">running</span>";
  }

  /** @return a duration for people: 42 s, 5 min, 3 h, 2 d */
  static String age(long ms) {
    long s = Math.max(0, ms / 1000);
    if (s < 120) {
      return s + " s";
    }
    if (s < 2 * 3600) {
      return s / 60 + " min";
    }
    if (s < 2 * 86400) {
      return s / 3600 + " h";
    }
    return s / 86400 + " d";
  }
}
