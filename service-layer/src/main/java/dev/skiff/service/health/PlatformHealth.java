package dev.skiff.service.health;

import com.codahale.metrics.health.HealthCheckRegistry;
import dev.skiff.platform.health.HealthCheck;
import dev.skiff.platform.health.Priority;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.server.ServerBuilder;
import java.util.Objects;

/**
 * Puts the checks that service-layer clients register (in a Dropwizard {@link HealthCheckRegistry}) among
 * a service's own health checks, so they are run, published with its health, and shown on the
 * monitoring dashboard like the platform's built-in checks.
 *
 * <pre>{@code
 * HealthCheckRegistry stores = new HealthCheckRegistry();
 * CassandraClient cassandra = CassandraClient.builder().config(config).healthChecks(stores).build();
 * ...
 * protected void register(ServerBuilder service) {
 *   PlatformHealth.include(stores, service);      // cassandra, memcached, zookeeper checks
 *   service.endpoint(...);
 * }
 * }</pre>
 */
public final class PlatformHealth {
  private PlatformHealth() {}

  /**
   * Adds every check registered in {@code stores} to the server being built, as a {@link Priority#PAGE}
   * check (a store that is down stops the service from doing its job), or with its own priority when it
   * is {@link Prioritized} (e.g. a Cassandra client's {@code NAME.replicas}: degraded, not down). Checks
   * registered in {@code stores} later are not included: start the clients first.
   *
   * @param stores where the service-layer clients registered their checks
   * @param service the server being built
   */
  public static void include(HealthCheckRegistry stores, ServerBuilder service) {
    Objects.requireNonNull(stores, "stores");
    Objects.requireNonNull(service, "service");
    for (String name : stores.getNames()) {
      service.healthCheck(name, bridge(stores, name));
    }
  }

  /**
   * One check of a Dropwizard registry as a platform health check, of priority {@link Priority#PAGE}
   * unless the check is {@link Prioritized}.
   *
   * @param stores the registry
   * @param name the check's name there
   * @return the platform check, which runs the registry's check each time it runs
   */
  public static HealthCheck bridge(HealthCheckRegistry stores, String name) {
    Priority priority = stores.getHealthCheck(name) instanceof Prioritized p ? p.priority() : Priority.PAGE;
    return new HealthCheck() {
      @Override
      protected Result check() {
        com.codahale.metrics.health.HealthCheck.Result r = stores.runHealthCheck(name);
        String message = r.getMessage() == null ? "" : r.getMessage();
        if (r.isHealthy()) {
          return Result.healthy(message);
        }
        return r.getError() != null && message.isEmpty() ? Result.unhealthy(r.getError()) : Result.unhealthy(message);
      }

      @Override
      public Priority priority() {
        return priority;
      }
    };
  }
}
