package dev.skiff.kernel.binding;

import dev.skiff.proto.v1.RouteStatus;
import java.util.Locale;

/**
 * The share of a service's traffic each version takes now, as the broker applies it: the weights of the
 * rule's versions that run, out of their sum (the broker's ring has one bucket per weight point, so a rule
 * of 60/30/10 whose 10 does not run splits 60/30, that is 66.7/33.3). For the CLI's {@code skiff route}
 * and the routing page, which show the same figures.
 */
public final class Shares {
  private Shares() {}

  /**
   * @param status a service's routing status
   * @return whether the rule's split is in force: some version of the rule with a share runs
   */
  public static boolean routed(RouteStatus status) {
    return !status.getEffectiveMap().isEmpty();
  }

  /**
   * @param status a service's routing status, {@link #routed}
   * @param version a version
   * @return its share of the traffic now, in percent with at most one decimal: {@code 66.7%}, {@code 0%}
   */
  public static String percent(RouteStatus status, String version) {
    long total = status.getEffectiveMap().values().stream().mapToLong(Integer::longValue).sum();
    int w = status.getEffectiveMap().getOrDefault(version, 0);
    if (total <= 0 || w <= 0) {
      return "0%";
    }
    double p = 100.0 * w / total;
    String s = String.format(Locale.ROOT, "%.1f", p);
    return (s.endsWith(".0") ? s.substring(0, s.length() - 2) : s) + "%";
  }

  /** What is said of a rule none of whose versions with a share runs. */
  public static final String UNROUTED = "none of the rule's versions with a share runs: every instance of every version shares"
      + " the traffic until one does";
}
