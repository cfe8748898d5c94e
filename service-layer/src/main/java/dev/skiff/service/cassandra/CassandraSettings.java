package dev.skiff.service.cassandra;

import com.datastax.oss.driver.api.core.DefaultConsistencyLevel;
import dev.skiff.platform.config.Config;
import dev.skiff.platform.config.ConfigException;
import dev.skiff.service.internal.KnownKeys;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The settings of a {@link CassandraClient}, read from its config subtree (by default {@code cassandra}).
 *
 * <table>
 *   <caption>Keys under the client's path</caption>
 *   <tr><th>key</th><th>meaning</th><th>default</th><th>live</th></tr>
 *   <tr><td>hosts</td><td>contact points, {@code host[:port]}, comma-separated</td><td>127.0.0.1:9042</td><td>yes: new sessions there</td></tr>
 *   <tr><td>datacenter</td><td>the local datacenter</td><td>datacenter1</td><td>yes: new sessions</td></tr>
 *   <tr><td>keyspace</td><td>the keyspace of {@link CassandraClient#session()}</td><td>none</td><td>no</td></tr>
 *   <tr><td>consistency</td><td>consistency of queries that name none</td><td>LOCAL_QUORUM</td><td>yes</td></tr>
 *   <tr><td>keyspaces.KS.consistency</td><td>the same, for keyspace KS</td><td>consistency</td><td>yes</td></tr>
 *   <tr><td>request-timeout</td><td>a query's timeout when it names none</td><td>5s</td><td>yes</td></tr>
 *   <tr><td>connect-timeout</td><td>opening a connection</td><td>5s</td><td>yes: new sessions</td></tr>
 *   <tr><td>replication-factor</td><td>replicas in the local datacenter of keyspaces that migrations create</td><td>1</td><td>no</td></tr>
 *   <tr><td>required-at-start</td><td>how long {@link CassandraClient#start()} waits for a node before it
 *       gives up with {@link dev.skiff.service.StoreUnavailableAtStart}; {@code 0s}: start at once, unhealthy,
 *       and connect when a node answers</td><td>the builder's {@code requiredAtStart}, else 0s</td><td>no</td></tr>
 *   <tr><td>driver.*</td><td>any Java driver option by its path, e.g.
 *       {@code driver.advanced.metadata.schema.debouncer.window = 0}</td><td>the driver's</td><td>yes: new sessions</td></tr>
 * </table>
 *
 * @param hosts contact points, resolved
 * @param datacenter the local datacenter
 * @param keyspace the default keyspace, if any
 * @param consistency the default consistency
 * @param keyspaceConsistency consistency overrides by keyspace
 * @param requestTimeout the default request timeout
 * @param connectTimeout the connection timeout
 * @param replicationFactor replicas of keyspaces created by migrations
 * @param driver driver options by their path (without {@code datastax-java-driver.})
 * @param requiredAtStart how long start waits for a node (zero: it does not wait)
 */
public record CassandraSettings(
    List<InetSocketAddress> hosts,
    String datacenter,
    Optional<String> keyspace,
    DefaultConsistencyLevel consistency,
    Map<String, DefaultConsistencyLevel> keyspaceConsistency,
    Duration requestTimeout,
    Duration connectTimeout,
    int replicationFactor,
    Map<String, String> driver,
    Duration requiredAtStart) {

  /**
   * The keys above: any other under the client's path is refused (or, from the environment, reported);
   * {@code driver.*} and {@code keyspaces.*} are free-form here ({@code driver.*} options are checked
   * by {@code DriverOptions}, those the driver has no default for are passed unchecked).
   */
  static final KnownKeys KEYS = new KnownKeys("Cassandra client", List.of("hosts", "datacenter", "keyspace", "consistency",
      "request-timeout", "connect-timeout", "replication-factor", "required-at-start"), List.of("keyspaces", "driver"));

  /**
   * Reads and checks the settings.
   *
   * @param c the client's subtree, e.g. {@code config.at("cassandra")}
   * @return the settings
   * @throws ConfigException naming the key when a value is malformed, out of range or an unknown host, or
   *     when a key is none of the above (set other than in the environment)
   */
  public static CassandraSettings from(Config c) {
    KEYS.check(c);
    List<InetSocketAddress> hosts = c.getResolvedAddresses("hosts", 9042, List.of("127.0.0.1:9042"));
    Optional<String> keyspace = c.find("keyspace");
    keyspace.ifPresent(ks -> {
      if (!CassandraClient.KEYSPACE.matcher(ks).matches()) {
        throw c.invalid("keyspace", "must be 1 to 48 letters, digits or '_'");
      }
    });
    Map<String, DefaultConsistencyLevel> perKeyspace = new TreeMap<>();
    for (String ks : c.children("keyspaces")) {
      DefaultConsistencyLevel l = c.getEnum("keyspaces." + ks + ".consistency", DefaultConsistencyLevel.class, null);
      if (l != null) {
        perKeyspace.put(ks, l);
      }
    }
    Duration request = c.getDuration("request-timeout", Duration.ofSeconds(5));
    if (request.isZero()) {
      throw c.invalid("request-timeout", "must be positive");
    }
    Duration connect = c.getDuration("connect-timeout", Duration.ofSeconds(5));
    if (connect.isZero()) {
      throw c.invalid("connect-timeout", "must be positive");
    }
    Map<String, String> driver = new TreeMap<>(c.at("driver").asMap());
    DriverOptions.firstWrong(driver).ifPresent(wrong -> {
      throw c.invalid("driver." + wrong.path(), "must be " + wrong.must());
    });
    return new CassandraSettings(
        hosts,
        c.getString("datacenter", "datacenter1"),
        keyspace,
        c.getEnum("consistency", DefaultConsistencyLevel.class, DefaultConsistencyLevel.LOCAL_QUORUM),
        Map.copyOf(perKeyspace),
        request,
        connect,
        c.getInt("replication-factor", 1, 1, 99),
        Map.copyOf(driver),
        c.getDuration("required-at-start", Duration.ZERO));
  }

  /**
   * @param keyspace a keyspace
   * @return the consistency of its queries that name none
   */
  public DefaultConsistencyLevel consistencyOf(String keyspace) {
    return keyspaceConsistency.getOrDefault(keyspace, consistency);
  }

  /**
   * @param other other settings
   * @return whether moving to them needs new sessions (contact points, datacenter, connection or
   *     driver options differ)
   */
  boolean needsNewSessions(CassandraSettings other) {
    return !hosts.equals(other.hosts)
        || !datacenter.equals(other.datacenter)
        || !connectTimeout.equals(other.connectTimeout)
        || !driver.equals(other.driver);
  }
}
