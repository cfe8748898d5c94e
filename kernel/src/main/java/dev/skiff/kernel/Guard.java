package dev.skiff.kernel;

import com.codahale.metrics.Counter;
import com.codahale.metrics.MetricRegistry;
import dev.skiff.platform.security.Access;
import dev.skiff.platform.security.Caller;
import dev.skiff.platform.security.Role;
import dev.skiff.platform.security.ServiceIdentities;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the kernel services accept from whom (docs/security.md): an announcement, a health report or
 * spans only from a broker user that may act as the service they are about, a route change only from a
 * signed-in person with a role that covers it, the read-only views ({@link #READ_VIEWS}) from services and
 * signed-in people. Every refusal is counted ({@code skiff.kernel.refused.KIND}) and logged with the
 * sender's user and the service (nothing secret). Thread-safe.
 */
public final class Guard {
  /** An instance announcement (discovery and binding services). */
  public static final String ANNOUNCEMENT = "announcement";
  /** A health report (monitoring service). */
  public static final String HEALTH_REPORT = "health-report";
  /** A span (trace service): counted per span. */
  public static final String SPAN = "span";
  /** A routing rule change (binding service). */
  public static final String ROUTE_CHANGE = "route-change";

  /**
   * Who may call the kernel's read-only endpoints (the service list, routing rules, health, traces):
   * authenticated services and signed-in people, whatever their roles.
   */
  public static final Access READ_VIEWS = Access.services().or(Access.signedIn());

  private static final Logger log = LoggerFactory.getLogger(Guard.class);

  private final ServiceIdentities identities;
  private final MetricRegistry metrics;

  /**
   * @param identities who may act as whom
   * @param metrics where the refusal counters go
   */
  public Guard(ServiceIdentities identities, MetricRegistry metrics) {
    this.identities = Objects.requireNonNull(identities, "identities");
    this.metrics = Objects.requireNonNull(metrics, "metrics");
  }

  /**
   * Whether a sender may report something about a service; counts and logs a refusal.
   *
   * @param kind what it reports, e.g. {@link #ANNOUNCEMENT}
   * @param sender the sender's broker-validated user, or null when unknown
   * @param service the service it reports about
   * @return true to accept it
   */
  public boolean mayActAs(String kind, String sender, String service) {
    if (identities.mayActAs(sender, service)) {
      return true;
    }
    refuse(kind, sender, "for service '" + service + "'");
    return false;
  }

  /**
   * Whether a caller's person holds a role that covers a change; counts and logs a refusal.
   *
   * @param kind what it changes, e.g. {@link #ROUTE_CHANGE}
   * @param caller the proven caller
   * @param required the role the change needs
   * @return true to accept it
   */
  public boolean hasRole(String kind, Caller caller, Role required) {
    if (caller.hasRole(required)) {
      return true;
    }
    refusals(kind).inc();
    log.warn("refused a {} needing role {} from {}", kind, required, caller);
    return false;
  }

  private void refuse(String kind, String sender, String what) {
    refusals(kind).inc();
    log.warn("refused a {} {} from {}", kind, what, sender == null ? "a sender with no proven identity" : "broker user '" + sender + "'");
  }

  /**
   * @param kind what was refused
   * @return the counter of its refusals ({@code skiff.kernel.refused.KIND})
   */
  public Counter refusals(String kind) {
    return metrics.counter("skiff.kernel.refused." + kind);
  }

  /** @return who may act as whom */
  public ServiceIdentities identities() {
    return identities;
  }
}
