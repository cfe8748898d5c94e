package dev.skiff.kernel;

import com.codahale.metrics.health.HealthCheckRegistry;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.config.Config;
import dev.skiff.platform.health.HealthCheck;
import dev.skiff.service.cassandra.CassandraClient;
import dev.skiff.service.cassandra.CassandraSession;
import java.util.Optional;

/**
 * A kernel store kept in a keyspace of Cassandra, through the service layer's {@link CassandraClient}:
 * connects and migrates it at {@link #start()} (again at the next start if Cassandra was not there), hands
 * its subclass the session (UNAVAILABLE until connected), and reports its health. What the login and
 * config stores share; each adds its queries.
 */
public abstract class KernelKeyspace implements AutoCloseable {
  private final CassandraClient client;
  private final HealthCheckRegistry clientHealth = new HealthCheckRegistry();
  private final String clientName;
  private final String keyspace;
  private final String schema;
  private final String what;
  private boolean clientStarted;
  private volatile CassandraSession session;

  /**
   * Builds the client; connects in {@link #start()}.
   *
   * @param config the configuration ({@code cassandra.*})
   * @param clientName the client's name (metrics, health)
   * @param keyspace the keyspace, already checked
   * @param schema the classpath folder of its migrations
   * @param what what the store is, for errors ("the login store")
   */
  protected KernelKeyspace(Config config, String clientName, String keyspace, String schema, String what) {
    this.clientName = clientName;
    this.keyspace = keyspace;
    this.schema = schema;
    this.what = what;
    this.client = CassandraClient.builder().config(config).name(clientName).healthChecks(clientHealth).build();
  }

  /**
   * @param name a keyspace name from settings
   * @return whether it is one a kernel store takes: 1 to 48 letters, digits or '_'
   */
  public static boolean isValidName(String name) {
    return name.matches("[A-Za-z0-9_]{1,48}");
  }

  /** Connects and migrates the keyspace, unless done before. */
  public synchronized void start() {
    if (session != null) {
      return;
    }
    if (!clientStarted) {
      client.start();
      clientStarted = true;
    }
    client.migrate(keyspace, schema);
    session = client.session(keyspace);
  }

  /**
   * @return the keyspace's session
   * @throws SkiffException UNAVAILABLE when not connected yet
   */
  protected final CassandraSession session() {
    CassandraSession s = session;
    if (s == null) {
      throw new SkiffException(ErrorCode.UNAVAILABLE, what + " is not connected to Cassandra at " + client.settings().hosts());
    }
    return s;
  }

  /** @return a check: healthy when connected and the client is */
  public Optional<HealthCheck> healthCheck() {
    return Optional.of(new HealthCheck() {
      @Override
      protected Result check() {
        if (session == null) {
          return Result.unhealthy("not connected to Cassandra at " + client.settings().hosts() + " yet");
        }
        com.codahale.metrics.health.HealthCheck.Result c = clientHealth.runHealthCheck(clientName);
        return c.isHealthy() ? Result.healthy("keyspace " + keyspace + " on " + client.settings().hosts())
            : Result.unhealthy("Cassandra: " + c.getMessage());
      }
    });
  }

  /** @return the keyspace */
  public String keyspace() {
    return keyspace;
  }

  @Override
  public void close() {
    client.close();
  }
}
