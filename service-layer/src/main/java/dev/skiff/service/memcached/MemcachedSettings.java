package dev.skiff.service.memcached;

import dev.skiff.platform.config.Config;
import dev.skiff.platform.config.ConfigException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;

/**
 * The settings of a {@link Memcached} client, read from its config subtree (by default {@code memcached}).
 *
 * <table>
 *   <caption>Keys under the client's path</caption>
 *   <tr><th>key</th><th>meaning</th><th>default</th><th>live</th></tr>
 *   <tr><td>hosts</td><td>servers, {@code host[:port]}, comma-separated; keys spread over them by
 *       consistent (Ketama) hashing</td><td>127.0.0.1:11211</td><td>yes</td></tr>
 *   <tr><td>timeout</td><td>one operation's timeout</td><td>500ms</td><td>yes</td></tr>
 *   <tr><td>connect-timeout</td><td>opening a connection</td><td>1s</td><td>no</td></tr>
 *   <tr><td>default-ttl</td><td>time to live of a value set without one</td><td>1h</td><td>yes</td></tr>
 *   <tr><td>reconnect-interval</td><td>how often a lost server is tried again</td><td>1s</td><td>no</td></tr>
 * </table>
 *
 * @param hosts the servers, resolved
 * @param timeout one operation's timeout
 * @param connectTimeout the connection timeout
 * @param defaultTtl the time to live of values set without one
 * @param reconnectInterval how often a lost server is tried again
 */
public record MemcachedSettings(
    List<InetSocketAddress> hosts,
    Duration timeout,
    Duration connectTimeout,
    Duration defaultTtl,
    Duration reconnectInterval) {

  /** memcached reads a time to live over 30 days as a point in time: longer ones are refused. */
  public static final Duration MAX_TTL = Duration.ofDays(30);

  /**
   * Reads and checks the settings.
   *
   * @param c the client's subtree, e.g. {@code config.at("memcached")}
   * @return the settings
   * @throws ConfigException naming the key when a value is malformed, out of range or an unknown host
   */
  public static MemcachedSettings from(Config c) {
    List<InetSocketAddress> hosts = c.getResolvedAddresses("hosts", 11211, List.of("127.0.0.1:11211"));
    Duration timeout = c.getDuration("timeout", Duration.ofMillis(500));
    if (timeout.isZero()) {
      throw c.invalid("timeout", "must be positive");
    }
    Duration ttl = c.getDuration("default-ttl", Duration.ofHours(1));
    if (ttl.compareTo(MAX_TTL) > 0) {
      throw c.invalid("default-ttl", "must be at most 30 days (memcached reads longer ones as a date)");
    }
    return new MemcachedSettings(
        hosts,
        timeout,
        c.getDuration("connect-timeout", Duration.ofSeconds(1)),
        ttl,
        c.getDuration("reconnect-interval", Duration.ofSeconds(1)));
  }
}
