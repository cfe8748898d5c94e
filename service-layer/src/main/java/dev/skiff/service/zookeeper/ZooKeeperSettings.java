package dev.skiff.service.zookeeper;

import dev.skiff.platform.config.Config;
import dev.skiff.platform.config.ConfigException;
import dev.skiff.service.internal.KnownKeys;
import dev.skiff.service.internal.SettingChecks;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.apache.zookeeper.common.PathUtils;

/**
 * The settings of a {@link ZooKeeperClient}, read from its config subtree (by default {@code zookeeper}).
 *
 * <table>
 *   <caption>Keys under the client's path</caption>
 *   <tr><th>key</th><th>meaning</th><th>default</th><th>live</th></tr>
 *   <tr><td>hosts</td><td>the ensemble, {@code host[:port]}, comma-separated (an IPv6 address with a port in
 *       brackets: {@code [::1]:2181})</td><td>127.0.0.1:2181</td><td>yes: the client moves to a new session there</td></tr>
 *   <tr><td>namespace</td><td>the folder all paths of this client live under: no leading slash, no empty, {@code .} or {@code ..}
 *       parts</td><td>skiff</td><td>no</td></tr>
 *   <tr><td>session-timeout</td><td>how long the ensemble keeps a silent session (and its locks), 500ms to 24h (the ensemble
 *       bounds it further: by default 2 to 20 ticks)</td><td>10s</td><td>no</td></tr>
 *   <tr><td>connection-timeout</td><td>how long {@code start()} waits for a first connection (it returns either way), and an
 *       operation for the connection, at most 24h</td><td>5s</td><td>no</td></tr>
 *   <tr><td>required-at-start</td><td>when positive, {@code start()} waits that long for ZooKeeper and
 *       fails with {@link dev.skiff.service.StoreUnavailableAtStart} if none answered; {@code 0s}: not
 *       required; at most 24h</td><td>the builder's {@code requiredAtStart}, else 0s</td><td>no</td></tr>
 *   <tr><td>retry-base</td><td>first wait of the exponential retry of an operation, at most 24h</td><td>100ms</td><td>no</td></tr>
 *   <tr><td>retries</td><td>how often an operation is retried on connection loss</td><td>5</td><td>no</td></tr>
 * </table>
 *
 * @param hosts the ensemble, unresolved
 * @param namespace the namespace (no leading slash), or "" for none
 * @param sessionTimeout the session timeout
 * @param connectionTimeout how long start() waits
 * @param retryBase first wait of the retry policy
 * @param retries maximum retries of an operation (only while connected: a lost connection fails it)
 * @param requiredAtStart how long start waits for ZooKeeper before failing (zero: not required)
 */
public record ZooKeeperSettings(
    List<InetSocketAddress> hosts,
    String namespace,
    Duration sessionTimeout,
    Duration connectionTimeout,
    Duration retryBase,
    int retries,
    Duration requiredAtStart) {
  /** The keys above: any other under the client's path is refused (or, from the environment, reported). */
  static final KnownKeys KEYS = new KnownKeys("ZooKeeper client", List.of("hosts", "namespace", "session-timeout",
      "connection-timeout", "required-at-start", "retry-base", "retries"), List.of());

  private static final Pattern NAMESPACE = Pattern.compile("[A-Za-z0-9_.-]*(/[A-Za-z0-9_.-]+)*");

  /**
   * Reads and checks the settings.
   *
   * @param c the client's subtree, e.g. {@code config.at("zookeeper")}
   * @return the settings
   * @throws ConfigException naming the key when a value is malformed or out of range, or when a key is
   *     none of the above (set other than in the environment)
   */
  public static ZooKeeperSettings from(Config c) {
    KEYS.check(c);
    String ns = c.getString("namespace", "skiff");
    if (!NAMESPACE.matcher(ns).matches() || ns.startsWith("/") || !validNamespace(ns)) {
      throw c.invalid("namespace", "must be a path without a leading slash and without '.' or '..' parts, e.g. skiff or skiff/prod");
    }
    Duration session = SettingChecks.timeout(c, "session-timeout", Duration.ofSeconds(10));
    if (session.compareTo(Duration.ofMillis(500)) < 0) {
      throw c.invalid("session-timeout", "must be at least 500ms");
    }
    List<InetSocketAddress> hosts = c.getAddresses("hosts", 2181, List.of("127.0.0.1:2181"));
    for (InetSocketAddress a : hosts) {
      if (a.getHostString().indexOf(':') >= 0 && !ipv6(a.getHostString())) {
        throw c.invalid("hosts", "'" + a.getHostString() + "' is neither host nor host:port (one port per host; an IPv6 address"
            + " with a port goes in brackets, [::1]:2181)");
      }
    }
    return new ZooKeeperSettings(
        hosts,
        ns,
        session,
        SettingChecks.timeout(c, "connection-timeout", Duration.ofSeconds(5)),
        SettingChecks.wait(c, "retry-base", Duration.ofMillis(100)),
        c.getInt("retries", 5, 0, 29),
        SettingChecks.wait(c, "required-at-start", Duration.ZERO));
  }

  /** Whether ZooKeeper takes the namespace: no {@code .} or {@code ..} parts, no characters it refuses. */
  private static boolean validNamespace(String ns) {
    if (ns.isEmpty()) {
      return true;
    }
    for (String part : ns.split("/")) {
      if (part.equals(".") || part.equals("..")) {
        return false;
      }
    }
    try {
      PathUtils.validatePath("/" + ns);
      return true;
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  /** Whether a host given with colons is an IPv6 address (else it is a host with more than one port). */
  private static boolean ipv6(String host) {
    try {
      new URI("tcp://[" + host + "]:1");
      return true;
    } catch (URISyntaxException e) {
      return false;
    }
  }

  /** @return the connection string ZooKeeper takes, e.g. {@code 10.0.0.1:2181,10.0.0.2:2181} */
  public String connectString() {
    return hosts.stream().map(a -> a.getHostString() + ":" + a.getPort()).collect(Collectors.joining(","));
  }
}
