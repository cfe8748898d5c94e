package dev.skiff.gateway;

import dev.skiff.platform.health.HealthCheck;
import dev.skiff.platform.health.HealthChecks;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What the gateway's probe paths answer, for the load balancer or orchestrator in front of it
 * (docs/gateway.md, "Probes"). {@value #LIVE_PATH}: the process serves HTTP. {@value #READY_PATH}: it can
 * serve its routes, which is when the checks in {@link #GATING} were healthy at their last run (the HTTP
 * listener runs; the route table follows discovery) and it is not stopping. {@code token-keys} does not
 * gate it: without the login service the routes that need no sign-in are still served, and every copy of
 * the gateway would go out of rotation together. Thread-safe.
 */
final class Readiness {
  /** Answers 200 while the process serves HTTP. */
  static final String LIVE_PATH = "/livez";
  /** Answers 200 when ready for traffic, else 503 naming what is not. */
  static final String READY_PATH = "/readyz";
  /** The checks that must pass. */
  static final List<String> GATING = List.of("http", "routes");

  private volatile HealthChecks checks;
  private volatile boolean stopping;

  /** @param checks the gateway server's checks, once it is built */
  void follow(HealthChecks checks) {
    this.checks = checks;
  }

  /** From now on it is not ready: the gateway stops (called first thing in its close). */
  void stopping() {
    stopping = true;
  }

  /**
   * @return what keeps it from being ready, by name only (the probe is public): {@code stopping}, a
   *     gating check that failed or has not run yet; empty when ready
   */
  List<String> notReady() {
    List<String> out = new ArrayList<>();
    if (stopping) {
      out.add("stopping");
    }
    HealthChecks c = checks;
    if (c == null) {
      out.add("starting");
      return out;
    }
    Map<String, HealthCheck.Result> last = new HashMap<>();
    for (HealthChecks.Status s : c.results()) {
      if (s.result() != null) {
        last.put(s.name(), s.result());
      }
    }
    for (String name : GATING) {
      HealthCheck.Result r = last.get(name);
      if (r == null || !r.healthy()) {
        out.add(name);
      }
    }
    return out;
  }
}
