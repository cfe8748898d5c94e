package dev.skiff.cli;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import dev.skiff.kernel.monitoring.MonitoringService;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.internal.Counts;
import dev.skiff.platform.internal.Printable;
import dev.skiff.proto.v1.CheckResult;
import dev.skiff.proto.v1.EndpointStats;
import dev.skiff.proto.v1.HealthOverview;
import dev.skiff.proto.v1.HealthQuery;
import dev.skiff.proto.v1.InstanceStatus;
import dev.skiff.proto.v1.ServiceStatus;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.TreeSet;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code skiff health [NAME]}: what the monitoring service knows of every service's health, or one's.
 * Every text a service reported is escaped for the terminal ({@link Printable}).
 */
@Command(
    name = "health",
    header = "Shows the health of every service, or of one in detail.",
    description = {
      "Asks the monitoring service (run by 'skiff kernel') what services have published about their "
          + "health: one line per service, its failing checks beneath; with NAME, every instance, check and "
          + "endpoint of that service.",
      ""
    },
    footer = {
      "",
      "Examples:",
      "  skiff health",
      "  skiff health com.example.greeter",
      "",
      "Exit codes: 0 all healthy, 1 a service is unhealthy or stale (or unknown, or no monitoring "
          + "service answered), 2 usage error, 3 no connection to the broker, 4 the session was refused (expired or revoked)."
    })
final class HealthCommand extends BrokerCommand {

  @Parameters(index = "0", arity = "0..1", paramLabel = "NAME", converter = ServiceNameConverter.class, description = "A service's dotted name; default: all services.")
  String service;

  @Mixin TimeoutOption timeout;

  @Option(names = "--json", description = "Print the monitoring service's answer as JSON instead.")
  boolean json;

  @Override
  public Integer call() throws InvalidProtocolBufferException {
    PrintWriter out = out();
    PrintWriter err = err();
    BrokerOption.Broker b = broker();
    Client client = connect(b);
    HealthOverview overview;
    try (client) {
      overview = client.call(
          MonitoringService.SERVICE, MonitoringService.ENDPOINT,
          HealthQuery.newBuilder().setService(service == null ? "" : service).build(), HealthOverview.class,
          CallOptions.timeout(timeout.get()));
    } catch (SkiffException e) {
      if (e.service().equals(MonitoringService.SERVICE)) {
        SkiffCli.printError(err, e);
      } else if (e.code() == ErrorCode.NOT_FOUND || e.code() == ErrorCode.TIMEOUT || e.code() == ErrorCode.UNAVAILABLE) {
        err.println(e.code() + ": the monitoring service (" + MonitoringService.SERVICE + ") did not answer on broker "
            + b.describe() + ": start it with 'skiff kernel' (" + e.description() + ")");
      } else {
        SkiffCli.printError(err, e);
      }
      return SkiffCli.exitCode(e);
    }
    if (json) {
      out.println(Printable.json(JsonFormat.printer().print(overview)));
    } else if (service == null) {
      printAll(out, overview);
    } else {
      printOne(out, overview.getServices(0));
    }
    out.flush();
    boolean allHealthy = overview.getServicesList().stream().allMatch(s -> s.getStatus().equals("healthy"));
    return allHealthy ? SkiffCli.EXIT_OK : SkiffCli.EXIT_CALL_FAILED;
  }

  private static void printAll(PrintWriter out, HealthOverview o) {
    if (o.getServicesCount() == 0) {
      out.println("no service has published its health yet");
      return;
    }
    int width = Math.max(7, o.getServicesList().stream().mapToInt(s -> Printable.text(s.getName()).length()).max().orElse(0));
    out.printf(Locale.ROOT, "%-" + width + "s  %-9s  %-9s  %s%n", "SERVICE", "STATUS", "INSTANCES", "VERSIONS");
    for (ServiceStatus s : o.getServicesList()) {
      long live = s.getInstancesList().stream().filter(i -> !i.getStale()).count();
      TreeSet<String> versions = new TreeSet<>();
      s.getInstancesList().forEach(i -> versions.add(Printable.text(i.getLatest().getVersion())));
      out.printf(Locale.ROOT, "%-" + width + "s  %-9s  %-9s  %s%n", Printable.text(s.getName()), Printable.text(s.getStatus()),
          live + "/" + s.getInstancesCount(), String.join(", ", versions));
      for (String f : s.getFailingList()) {
        out.println("  FAILING " + Printable.text(f));
      }
    }
  }

  private static void printOne(PrintWriter out, ServiceStatus s) {
    out.println(Printable.text(s.getName()) + ": " + Printable.text(s.getStatus()));
    for (InstanceStatus i : s.getInstancesList()) {
      out.printf(Locale.ROOT, "%ninstance %s  version %s  %s%s%n", Printable.text(i.getLatest().getInstance()),
          Printable.text(i.getLatest().getVersion()),
          i.getLatest().getHealthy() ? "healthy" : "UNHEALTHY", i.getStale() ? "  (stale: no recent report)" : "");
      for (CheckResult c : i.getLatest().getChecksList()) {
        out.printf(Locale.ROOT, "  %-4s %-24s %-6s %s%s%n", c.getHealthy() ? "ok" : "FAIL", Printable.text(c.getName()), c.getPriority(),
            Printable.text(c.getMessage()), c.getError().isEmpty() ? "" : " (" + Printable.text(c.getError()) + ")");
      }
      for (EndpointStats e : i.getLatest().getEndpointsList()) {
        out.printf(Locale.ROOT, "  %-6s %-30s %17s  %13s  %7.1f/s  mean %.1f ms  p95 %.1f ms%s%n",
            Printable.text(e.getSide()), Printable.text(e.getName()), Counts.of(e.getRequests(), "request"),
            Counts.of(e.getErrors(), "error"), e.getRate1M(), e.getMeanMillis(), e.getP95Millis(),
            e.getSlaP95Millis() > 0 ? String.format(Locale.ROOT, "  (SLA mean %.1f, p95 %.1f ms)", e.getSlaMeanMillis(), e.getSlaP95Millis()) : "");
      }
    }
  }
}
