package dev.skiff.cli;

import dev.skiff.kernel.binding.BindingService;
import dev.skiff.kernel.binding.Shares;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.internal.Printable;
import dev.skiff.proto.v1.GetRouteRequest;
import dev.skiff.proto.v1.RouteRule;
import dev.skiff.proto.v1.RouteStatus;
import dev.skiff.proto.v1.SetRouteRequest;
import java.io.PrintWriter;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;

/** {@code skiff route NAME [VERSION=PERCENT ...] [--show | --clear]}: a service's routing rule. */
@Command(
    name = "route",
    header = "Shows or sets how a service's traffic is split between its versions.",
    description = {
      "With VERSION=PERCENT pairs, sets the rule (percentages adding up to 100; a version may have 0). "
          + "With --clear, removes it: every instance of every version then shares the traffic evenly. "
          + "With neither (or --show), prints the rule and what the broker applies. The rule is stored "
          + "durably and applied within a second by the binding kernel service ('skiff kernel')."
    },
    footer = {
      "",
      "Examples:",
      "  skiff route com.example.greeter 1.0.0=90 1.1.0=10",
      "  skiff route com.example.greeter --show",
      "  skiff route com.example.greeter --clear",
      "",
      "Exit codes: 0 done, 1 refused or binding service not running, 2 usage error, 3 no connection to the broker, 4 not signed in "
          + "(or the session expired), 5 not allowed (a rule needs role ADMIN.ROUTES)."
    })
final class RouteCommand extends BrokerCommand {
  private static final Pattern PAIR = Pattern.compile("([^=\\s]+)=(-?\\d{1,9})");

  @Parameters(index = "0", paramLabel = "NAME", converter = ServiceNameConverter.class, description = "The service's dotted name.")
  String name;

  @Parameters(index = "1..*", arity = "0..*", paramLabel = "VERSION=PERCENT", description = "The share of each version, e.g. 1.0.0=90 1.1.0=10.")
  List<String> weights = List.of();

  @Option(names = "--show", description = "Print the rule (the default when no weights are given).")
  boolean show;

  @Option(names = "--clear", description = "Remove the rule.")
  boolean clear;

  @Option(names = "--force", description = "Accept versions (or a service) that no instance runs now.")
  boolean force;

  @Override
  public Integer call() {
    PrintWriter out = out();
    PrintWriter err = err();
    Map<String, Integer> rule = new LinkedHashMap<>();
    for (String w : weights) {
      Matcher m = PAIR.matcher(w);
      if (!m.matches()) {
        throw new ParameterException(spec.commandLine(), "not VERSION=PERCENT: '" + w + "' (write e.g. 1.0.0=90)");
      }
      if (rule.put(m.group(1), Integer.parseInt(m.group(2))) != null) {
        throw new ParameterException(spec.commandLine(), "version " + m.group(1) + " is given twice");
      }
    }
    if ((show ? 1 : 0) + (clear ? 1 : 0) + (rule.isEmpty() ? 0 : 1) > 1) {
      throw new ParameterException(spec.commandLine(), "give weights, --show or --clear, not several");
    }
    Client client = connect();
    RouteStatus st;
    try (client) {
      if (rule.isEmpty() && !clear) {
        st = client.call(BindingService.SERVICE, "get_route", GetRouteRequest.newBuilder().setService(name).build(), RouteStatus.class,
            KERNEL_CALL);
      } else {
        st = client.call(BindingService.SERVICE, "set_route",
            SetRouteRequest.newBuilder().setRule(RouteRule.newBuilder().setService(name).putAllWeights(rule)).setForce(force).build(),
            RouteStatus.class, KERNEL_CALL);
      }
    } catch (SkiffException e) {
      SkiffCli.printError(err, e);
      return SkiffCli.exitCode(e);
    }
    print(out, st);
    out.flush();
    return SkiffCli.EXIT_OK;
  }

  static void print(PrintWriter out, RouteStatus st) {
    RouteRule r = st.getRule();
    if (r.getWeightsMap().isEmpty()) {
      out.printf(Locale.ROOT, "%s: no rule (every instance of every version shares the traffic)%n", Printable.text(r.getService()));
    } else {
      out.printf(Locale.ROOT, "%s: rule %s (set %s)%n", Printable.text(r.getService()),
          String.join(" ", new java.util.TreeMap<>(r.getWeightsMap()).entrySet().stream().map(e -> Printable.text(e.getKey()) + "=" + e.getValue()).toList()),
          Instant.ofEpochMilli(r.getUpdatedMs()));
    }
    TreeSet<String> versions = new TreeSet<>(st.getInstancesMap().keySet());
    versions.addAll(r.getWeightsMap().keySet());
    if (versions.isEmpty()) {
      out.println("  no running instance");
      return;
    }
    boolean routed = Shares.routed(st);
    out.printf(Locale.ROOT, "  %-16s %-9s %s%n", "VERSION", "TRAFFIC", "INSTANCES");
    for (String v : versions) {
      String traffic = routed ? Shares.percent(st, v) : "shared";
      out.printf(Locale.ROOT, "  %-16s %-9s %d%n", Printable.text(v), traffic, st.getInstancesMap().getOrDefault(v, 0));
    }
    if (!r.getWeightsMap().isEmpty() && !routed) {
      out.println("  (" + Shares.UNROUTED + ")");
    }
  }
}
