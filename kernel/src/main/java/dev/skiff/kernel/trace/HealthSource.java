package dev.skiff.kernel.trace;

import java.util.Optional;

/**
 * The health of services as the monitoring service sees it, for colouring the service graph. When it
 * knows nothing of a service (or no monitoring service runs: {@link #NONE}), the graph colours the
 * service by the error rate of its spans instead.
 */
@FunctionalInterface
public interface HealthSource {
  /** Knows nothing: the graph colours by error rate. */
  HealthSource NONE = service -> Optional.empty();

  /** A service's health, from best to worst. */
  enum Health {
    /** Healthy. */
    OK,
    /** Degraded: a warning. */
    WARNING,
    /** Failing. */
    CRITICAL
  }

  /**
   * @param service a service name
   * @return its health, or empty when unknown
   */
  Optional<Health> health(String service);
}
