package dev.skiff.service.health;

import dev.skiff.platform.health.Priority;

/**
 * Implemented by a store client's Dropwizard health check whose failure is not an outage: {@link
 * PlatformHealth} includes it with this priority instead of {@link Priority#PAGE}. A Cassandra client's
 * {@code NAME.replicas} check is one: a node of the ring is down but queries still succeed, so the
 * service is degraded ({@link Priority#NOTIFY}), not down.
 */
public interface Prioritized {
  /** @return who must hear when the check fails */
  Priority priority();
}
