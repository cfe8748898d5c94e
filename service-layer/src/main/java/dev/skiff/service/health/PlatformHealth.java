package dev.skiff.service.health;

import com.codahale.metrics.health.HealthCheckRegistry;
import com.codahale.metrics.health.HealthCheckRegistryListener;
import dev.skiff.platform.health.HealthCheck;
import dev.skiff.platform.health.HealthChecks;
import dev.skiff.platform.health.Priority;
import dev.skiff.platform.server.ServerBuilder;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Puts the checks that service-layer clients register (in a Dropwizard {@link HealthCheckRegistry}) among
 * a service's own health checks, so they are run, published with its health, and shown on the
 * monitoring dashboard like the platform's built-in checks.
 *
 * <pre>{@code
 * HealthCheckRegistry stores = new HealthCheckRegistry();
 * ...
 * protected void register(ServerBuilder service) {
 *   PlatformHealth.include(stores, service);      // cassandra, memcached, zookeeper checks, now and later
 *   service.endpoint(...);
 * }
 *
 * protected void prepare(LayeredConfig config) {  // as the server starts, after register
 *   cassandra = CassandraClient.builder().config(config).healthChecks(stores).build().start();
 * }
 * }</pre>
 */
public final class PlatformHealth {
  private PlatformHealth() {}

  /**
   * Follows {@code stores}: every check registered there, before this call or at any time after it (a
   * client made in {@code prepare}, as the server starts, or later), is added to the server's checks, as
   * a {@link Priority#PAGE} check (a store that is down stops the service from doing its job), or with its
   * own priority when it is {@link Prioritized} (e.g. a Cassandra client's {@code NAME.replicas}: degraded,
   * not down); a check removed there (a client that closes) is removed from the server's too.
   *
   * @param stores where the service-layer clients register their checks
   * @param service the server being built
   * @throws IllegalArgumentException when a check of {@code stores} has the name of one of the server's
   *     own (thrown here, or later by the registration in {@code stores} that clashes)
   */
  public static void include(HealthCheckRegistry stores, ServerBuilder service) {
    Objects.requireNonNull(stores, "stores");
    Objects.requireNonNull(service, "service");
    stores.addListener(new Follower(stores, service.health()));
  }

  /** Mirrors a Dropwizard registry's checks into a server's, as they come and go. */
  private static final class Follower implements HealthCheckRegistryListener {
    private final HealthCheckRegistry stores;
    private final HealthChecks server;
    /** The names this follower registered in the server's checks: only those are removed again. */
    private final Set<String> mine = ConcurrentHashMap.newKeySet();

    Follower(HealthCheckRegistry stores, HealthChecks server) {
      this.stores = stores;
      this.server = server;
    }

    @Override
    public void onHealthCheckAdded(String name, com.codahale.metrics.health.HealthCheck check) {
      server.register(name, bridge(stores, name, priorityOf(check)));
      mine.add(name);
    }

    @Override
    public void onHealthCheckRemoved(String name, com.codahale.metrics.health.HealthCheck check) {
      if (mine.remove(name)) {
        server.unregister(name);
      }
    }
  }

  private static Priority priorityOf(com.codahale.metrics.health.HealthCheck check) {
    return check instanceof Prioritized p ? p.priority() : Priority.PAGE;
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
    return bridge(stores, name, priorityOf(stores.getHealthCheck(name)));
  }

  private static HealthCheck bridge(HealthCheckRegistry stores, String name, Priority priority) {
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
