package dev.skiff.cli;

import dev.skiff.kernel.discovery.DiscoveryService;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.internal.Printable;
import dev.skiff.proto.v1.EndpointInfo;
import dev.skiff.proto.v1.InstanceAnnouncement;
import dev.skiff.proto.v1.InstanceInfo;
import dev.skiff.proto.v1.ListServicesRequest;
import dev.skiff.proto.v1.ListServicesResponse;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code skiff services [NAME]}: the running instances, as the discovery service knows them. Every text
 * an instance announced is escaped for the terminal ({@link Printable}).
 */
@Command(
    name = "services",
    header = "Lists the running services: instances, versions, endpoints, age.",
    description = {
      "Asks the discovery kernel service (skiff.discovery; run it with 'skiff kernel'). Without NAME, one "
          + "line per instance of every service; with NAME, that service's versions, endpoints and instances."
    },
    footer = {"", "Exit codes: 0 listed, 1 no such service or discovery not running, 2 usage error, 3 no connection to the broker."})
final class ServicesCommand extends BrokerCommand {

  @Parameters(index = "0", arity = "0..1", paramLabel = "NAME", converter = ServiceNameConverter.class, description = "A service's dotted name; default: every service.")
  String name;

  @Override
  public Integer call() {
    PrintWriter out = out();
    PrintWriter err = err();
    Client client = connect();
    ListServicesResponse r;
    try (client) {
      r = client.call(DiscoveryService.SERVICE, "list",
          ListServicesRequest.newBuilder().setService(name == null ? "" : name).build(), ListServicesResponse.class,
          CallOptions.timeout(Duration.ofSeconds(5)));
    } catch (SkiffException e) {
      SkiffCli.printError(err, e);
      return SkiffCli.exitCode(e);
    }
    if (name != null && r.getInstancesCount() == 0) {
      err.println("NOT_FOUND: no running instance of service " + name);
      return SkiffCli.EXIT_CALL_FAILED;
    }
    if (name == null) {
      printTable(out, r.getInstancesList(), r.getNowMs(), true);
    } else {
      printService(out, name, r.getInstancesList(), r.getNowMs());
    }
    out.flush();
    return SkiffCli.EXIT_OK;
  }

  static void printService(PrintWriter out, String service, List<InstanceInfo> all, long now) {
    Map<String, Integer> versions = new TreeMap<>();
    Map<String, EndpointInfo> endpoints = new TreeMap<>();
    for (InstanceInfo i : all) {
      versions.merge(Printable.text(i.getAnnouncement().getVersion()), 1, Integer::sum);
      i.getAnnouncement().getEndpointsList().forEach(e -> endpoints.putIfAbsent(Printable.text(e.getName()), e));
    }
    out.printf(Locale.ROOT, "%s: %d instance%s; versions %s%n", Printable.text(service), all.size(), all.size() == 1 ? "" : "s",
        String.join(", ", versions.entrySet().stream().map(e -> e.getKey() + " (" + e.getValue() + ")").toList()));
    if (!all.get(0).getAnnouncement().getDescription().isEmpty()) {
      out.println("  " + Printable.text(all.get(0).getAnnouncement().getDescription()));
    }
    out.println("endpoints:");
    for (Map.Entry<String, EndpointInfo> en : endpoints.entrySet()) {
      EndpointInfo e = en.getValue();
      out.printf(Locale.ROOT, "  %s(%s) -> %s  timeout %s%s%n", en.getKey(), Printable.text(e.getRequestType()),
          Printable.text(e.getResponseType()),
          age(e.getTimeoutMs()), e.getIdempotent() ? ", idempotent" : "");
    }
    out.println("instances:");
    printTable(out, all, now, false);
  }

  static void printTable(PrintWriter out, List<InstanceInfo> all, long now, boolean withService) {
    Map<String, Integer> width = new LinkedHashMap<>();
    String[] heads = withService
        ? new String[] {"SERVICE", "VERSION", "INSTANCE", "HOST", "AGE", "SEEN"}
        : new String[] {"VERSION", "INSTANCE", "HOST", "AGE", "SEEN"};
    List<String[]> rows = new java.util.ArrayList<>();
    rows.add(heads);
    for (InstanceInfo i : all) {
      InstanceAnnouncement a = i.getAnnouncement();
      String age = age(now - a.getStartedMs());
      String seen = age(now - i.getLastSeenMs()) + " ago";
      rows.add(withService
          ? new String[] {Printable.text(a.getService()), Printable.text(a.getVersion()), Printable.text(a.getInstance()),
              Printable.text(a.getHost()), age, seen}
          : new String[] {Printable.text(a.getVersion()), Printable.text(a.getInstance()), Printable.text(a.getHost()), age, seen});
    }
    for (String[] row : rows) {
      for (int c = 0; c < row.length; c++) {
        width.merge(heads[c], row[c].length(), Math::max);
      }
    }
    for (String[] row : rows) {
      StringBuilder line = new StringBuilder(withService ? "" : "  ");
      for (int c = 0; c < row.length; c++) {
        line.append(c == row.length - 1 ? row[c] : String.format(Locale.ROOT, "%-" + (width.get(heads[c]) + 2) + "s", row[c]));
      }
      out.println(line);
    }
  }

  /** A duration as people read it: 850ms, 12.3s, 5m02s, 3h10m, 2d04h. */
  static String age(long ms) {
    if (ms < 0) {
      ms = 0;
    }
    if (ms < 1000) {
      return ms + "ms";
    }
    if (ms < 60_000) {
      return String.format(Locale.ROOT, "%.1fs", ms / 1000.0);
    }
    long s = ms / 1000;
    if (s < 3600) {
      return String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
    }
    if (s < 86_400) {
      return String.format(Locale.ROOT, "%dh%02dm", s / 3600, s % 3600 / 60);
    }
    return String.format(Locale.ROOT, "%dd%02dh", s / 86_400, s % 86_400 / 3600);
  }
}
