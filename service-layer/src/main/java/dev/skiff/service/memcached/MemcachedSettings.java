package dev.skiff.service.memcached;

import dev.skiff.platform.config.Config;
import dev.skiff.platform.config.ConfigException;
import dev.skiff.service.internal.KnownKeys;
import dev.skiff.service.internal.SettingChecks;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The settings of a {@link Memcached} client, read from its config subtree (by default {@code memcached}).
 *
 * <table>
 *   <caption>Keys under the client's path</caption>
 *   <tr><th>key</th><th>meaning</th><th>default</th><th>live</th></tr>
 *   <tr><td>hosts</td><td>servers, {@code host[:port]}, comma-separated; keys spread over them by
 *       consistent (Ketama) hashing; the same server twice (by one address, or by two names that resolve
 *       to it) is refused</td><td>127.0.0.1:11211</td><td>yes</td></tr>
 *   <tr><td>timeout</td><td>one operation's timeout, at most 24h</td><td>500ms</td><td>yes</td></tr>
 *   <tr><td>connect-timeout</td><td>opening a connection, at most 24h</td><td>1s</td><td>no</td></tr>
 *   <tr><td>default-ttl</td><td>time to live of a value set without one</td><td>1h</td><td>yes</td></tr>
 *   <tr><td>reconnect-interval</td><td>how often a lost server is tried again, at most 24h</td><td>1s</td><td>no</td></tr>
 *   <tr><td>max-item-size</td><td>the servers' item size (memcached's {@code -I}), in bytes or with
 *       {@code k} or {@code m}, 1k to 1024m: a value that does not fit with its key is refused before it is
 *       sent</td><td>1m</td><td>yes</td></tr>
 * </table>
 *
 * @param hosts the servers, resolved
 * @param timeout one operation's timeout
 * @param connectTimeout the connection timeout
 * @param defaultTtl the time to live of values set without one
 * @param reconnectInterval how often a lost server is tried again
 * @param maxItemSize the servers' item size in bytes: a value, its key and {@link #ITEM_OVERHEAD} must fit
 */
public record MemcachedSettings(
    List<InetSocketAddress> hosts,
    Duration timeout,
    Duration connectTimeout,
    Duration defaultTtl,
    Duration reconnectInterval,
    int maxItemSize) {

  /** memcached reads a time to live over 30 days as a point in time: longer ones are refused. */
  public static final Duration MAX_TTL = Duration.ofDays(30);

  /** memcached's own default item size ({@code -I 1m}). */
  public static final int DEFAULT_MAX_ITEM_SIZE = 1 << 20;

  /**
   * What memcached stores of an item beside its key and value (header, CAS, flags and line ends): 59
   * bytes in memcached 1.6, rounded up. A value fits when its bytes, its key's and these make at most
   * {@code max-item-size}.
   */
  public static final int ITEM_OVERHEAD = 64;

  /** The keys above: any other under the client's path is refused (or, from the environment, reported). */
  static final KnownKeys KEYS = new KnownKeys("memcached client",
      List.of("hosts", "timeout", "connect-timeout", "default-ttl", "reconnect-interval", "max-item-size"), List.of());

  private static final Pattern SIZE = Pattern.compile("(\\d{1,10})\\s*([km]?)b?");

  /**
   * Reads and checks the settings.
   *
   * @param c the client's subtree, e.g. {@code config.at("memcached")}
   * @return the settings
   * @throws ConfigException naming the key when a value is malformed, out of range or an unknown host, or
   *     when a key is none of the above (set other than in the environment)
   */
  public static MemcachedSettings from(Config c) {
    KEYS.check(c);
    List<InetSocketAddress> hosts = c.getResolvedAddresses("hosts", 11211, List.of("127.0.0.1:11211"));
    checkDistinct(c, hosts);
    Duration timeout = SettingChecks.timeout(c, "timeout", Duration.ofMillis(500));
    Duration ttl = c.getDuration("default-ttl", Duration.ofHours(1));
    if (ttl.compareTo(MAX_TTL) > 0) {
      throw c.invalid("default-ttl", "must be at most 30 days (memcached reads longer ones as a date)");
    }
    return new MemcachedSettings(
        hosts,
        timeout,
        SettingChecks.timeout(c, "connect-timeout", Duration.ofSeconds(1)),
        ttl,
        SettingChecks.timeout(c, "reconnect-interval", Duration.ofSeconds(1)),
        maxItemSize(c));
  }

  /**
   * Refuses a server listed twice, by the same address or by names that resolve to it: the client would
   * hold one connection and its health check would wait for two.
   */
  private static void checkDistinct(Config c, List<InetSocketAddress> hosts) {
    List<String> given = c.getList("hosts", List.of());
    Map<InetSocketAddress, Integer> seen = new HashMap<>();
    for (int i = 0; i < hosts.size(); i++) {
      Integer first = seen.putIfAbsent(hosts.get(i), i);
      if (first != null) {
        InetSocketAddress a = hosts.get(i);
        throw c.invalid("hosts", "names the same server twice: '" + given.get(first) + "' and '" + given.get(i) + "' are both "
            + a.getAddress().getHostAddress() + ":" + a.getPort() + "; list each server once");
      }
    }
  }

  private static int maxItemSize(Config c) {
    String v = c.getString("max-item-size", "1m").toLowerCase(Locale.ROOT);
    Matcher m = SIZE.matcher(v);
    long bytes = -1;
    if (m.matches()) {
      bytes = Long.parseLong(m.group(1)) * switch (m.group(2)) {
        case "k" -> 1L << 10;
        case "m" -> 1L << 20;
        default -> 1L;
      };
    }
    if (bytes < 1 << 10 || bytes > 1L << 30) {
      throw c.invalid("max-item-size", "must be the servers' item size (memcached -I), 1k to 1024m, e.g. 1m, 2m or 1048576");
    }
    return (int) bytes;
  }
}
