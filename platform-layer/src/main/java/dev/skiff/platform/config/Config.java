package dev.skiff.platform.config;

import dev.skiff.platform.internal.Redaction;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * An immutable snapshot of configuration with typed access by dotted path. Get one from
 * {@link LayeredConfig#current()}, or build one from maps with {@link #of(Map)} for tests.
 *
 * <p>Every getter names the key in its error: a missing required key, a value of the wrong type, or one
 * out of range throws a {@link ConfigException} such as {@code cassandra.port = 'abc' (from env
 * SKIFF_CASSANDRA_PORT): must be a whole number}. Getters with a default return it when the key is
 * absent (an empty value counts as absent, except for lists: a list set to nothing is refused, see
 * {@link #getList(String, List)}).
 *
 * <p>{@link #at(String)} gives a view of a subtree: {@code config.at("cassandra").getString("hosts")}
 * reads {@code cassandra.hosts} and still names the full path in errors. Thread-safe.
 */
public final class Config {
  private static final Config EMPTY = new Config(Collections.emptySortedMap(), "");

  /** One value and where it came from. */
  record Value(String value, String origin) {}

  private final SortedMap<String, Value> values;
  private final String prefix;

  Config(SortedMap<String, Value> values, String prefix) {
    this.values = values;
    this.prefix = prefix;
  }

  /** @return a configuration without values */
  public static Config empty() {
    return EMPTY;
  }

  /**
   * A configuration of fixed values (for tests and defaults).
   *
   * @param values flat values by dotted path; values are turned into strings, lists are joined by commas
   * @return the configuration
   */
  public static Config of(Map<String, ?> values) {
    SortedMap<String, Value> m = new TreeMap<>();
    values.forEach((k, v) -> m.put(checkPath(k), new Value(render(v), "map")));
    return new Config(Collections.unmodifiableSortedMap(m), "");
  }

  static String render(Object v) {
    if (v instanceof Iterable<?> it) {
      List<String> parts = new ArrayList<>();
      it.forEach(x -> parts.add(String.valueOf(x)));
      return String.join(",", parts);
    }
    return String.valueOf(Objects.requireNonNull(v, "a config value is null"));
  }

  static String checkPath(String path) {
    Objects.requireNonNull(path, "path");
    if (path.isBlank() || path.startsWith(".") || path.endsWith(".") || path.contains("..")) {
      throw new IllegalArgumentException("not a config path: '" + path + "' (write e.g. cassandra.hosts)");
    }
    return path;
  }

  /**
   * A view of the subtree under a prefix.
   *
   * @param path e.g. {@code cassandra}
   * @return the view; its paths are relative to {@code path}
   */
  public Config at(String path) {
    return new Config(values, full(checkPath(path)) + ".");
  }

  /** @return the prefix of this view including its final dot, or "" at the root */
  public String prefix() {
    return prefix;
  }

  /**
   * The full path of a key of this view, as errors name it.
   *
   * @param path a path relative to this view
   * @return e.g. {@code cassandra.hosts}
   */
  public String full(String path) {
    return prefix + path;
  }

  /**
   * The environment variable that sets a path: {@code cassandra.request-timeout} is set by
   * {@code SKIFF_CASSANDRA_REQUEST_TIMEOUT}; a path with an underscore, which a single {@code _} cannot
   * say, by its escape {@code ___}: {@code cassandra.keyspaces.skiff_config.consistency} by
   * {@code SKIFF_CASSANDRA_KEYSPACES_SKIFF___CONFIG_CONSISTENCY} (see {@link #pathOfVariable(String)}).
   *
   * @param fullPath the full path
   * @return the variable's name
   */
  public static String environmentVariable(String fullPath) {
    return "SKIFF_" + fullPath.toUpperCase(Locale.ROOT).replace("_", "___").replace('.', '_').replace('-', '_');
  }

  /**
   * The name an environment variable of a path had before underscores were escaped: every {@code .},
   * {@code -} and {@code _} read as {@code _}. A variable of this name still sets a path that a lower
   * layer names ({@code SKIFF_CASSANDRA_KEYSPACES_SKIFF_CONFIG_CONSISTENCY} for a
   * {@code cassandra.keyspaces.skiff_config.consistency} a file or the defaults set).
   */
  static String plainEnvironmentVariable(String fullPath) {
    return "SKIFF_" + fullPath.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_');
  }

  /**
   * The path an environment variable sets when no lower layer names a path of its name: after
   * {@code SKIFF_}, lower case, with {@code _} read as {@code .}, {@code __} as {@code -} and {@code ___}
   * as {@code _}: {@code SKIFF_CASSANDRA_DRIVER_BASIC_LOAD__BALANCING__POLICY_CLASS} sets
   * {@code cassandra.driver.basic.load-balancing-policy.class}, {@code SKIFF_CASSANDRA_KEYSPACES_SKIFF___CONFIG_CONSISTENCY}
   * sets {@code cassandra.keyspaces.skiff_config.consistency}.
   *
   * @param variable the variable's name, starting with {@code SKIFF_}
   * @return the path
   * @throws ConfigException when the name has a run of four or more underscores, or one at an end of the
   *     path, which name no path
   */
  public static String pathOfVariable(String variable) {
    String rest = variable.substring("SKIFF_".length()).toLowerCase(Locale.ROOT);
    StringBuilder path = new StringBuilder(rest.length());
    int i = 0;
    while (i < rest.length()) {
      char c = rest.charAt(i);
      if (c != '_') {
        path.append(c);
        i++;
        continue;
      }
      int run = 0;
      while (i < rest.length() && rest.charAt(i) == '_') {
        run++;
        i++;
      }
      if (run > 3 || path.length() == 0 || i == rest.length()) {
        throw new ConfigException("", "environment variable " + variable + " names no config path: after SKIFF_, write the "
            + "path's dots as _, its dashes as __ and its underscores as ___ (e.g. SKIFF_CASSANDRA_REQUEST__TIMEOUT), "
            + "neither at the start nor at the end");
      }
      path.append(run == 1 ? "." : run == 2 ? "-" : "_");
    }
    return path.toString();
  }

  /**
   * The system property that sets a path: {@code cassandra.hosts} is set by {@code -Dskiff.cassandra.hosts}.
   *
   * @param fullPath the full path
   * @return the property's name
   */
  public static String systemProperty(String fullPath) {
    return "skiff." + fullPath;
  }

  /** @return the values of this view by relative path, sorted (a copy) */
  public Map<String, String> asMap() {
    Map<String, String> out = new TreeMap<>();
    for (Map.Entry<String, Value> e : subtree().entrySet()) {
      out.put(e.getKey().substring(prefix.length()), e.getValue().value());
    }
    return out;
  }

  private SortedMap<String, Value> subtree() {
    return prefix.isEmpty() ? values : values.subMap(prefix, prefix + Character.MAX_VALUE);
  }

  /**
   * The direct children of a path: for {@code cassandra.keyspaces.a.x} and {@code cassandra.keyspaces.b.y},
   * {@code children("cassandra.keyspaces")} is {@code [a, b]}.
   *
   * @param path a path relative to this view
   * @return the names of its children, sorted
   */
  public List<String> children(String path) {
    String p = full(checkPath(path)) + ".";
    return values.subMap(p, p + Character.MAX_VALUE).keySet().stream()
        .map(k -> k.substring(p.length()).split("\\.", 2)[0])
        .distinct()
        .collect(Collectors.toList());
  }

  /**
   * Where a value came from, for messages.
   *
   * @param path a path relative to this view
   * @return e.g. {@code env SKIFF_CASSANDRA_HOSTS}, or empty when the key is absent
   */
  public Optional<String> origin(String path) {
    return Optional.ofNullable(lookup(full(path))).map(Value::origin);
  }

  /**
   * A value, if set to something other than blanks.
   *
   * @param path a path relative to this view
   * @return the trimmed value
   */
  public Optional<String> find(String path) {
    Value v = lookup(full(checkPath(path)));
    return v == null || v.value().isBlank() ? Optional.empty() : Optional.of(v.value().trim());
  }

  /**
   * The value at a full path. An environment variable for a path nothing else names is stored under
   * its name read with dots ({@code SKIFF_A_B_C -> a.b.c}); it is found for {@code a.b-c} too.
   */
  private Value lookup(String full) {
    Value v = values.get(full);
    if (v == null && full.indexOf('-') >= 0) {
      Value alt = values.get(full.replace('-', '.'));
      if (alt != null && alt.origin().startsWith("env ")) {
        return alt;
      }
    }
    return v;
  }

  /**
   * @param path a path relative to this view
   * @return whether the key has a non-blank value
   */
  public boolean has(String path) {
    return find(path).isPresent();
  }

  /**
   * A required string.
   *
   * @param path a path relative to this view
   * @return the value
   * @throws ConfigException when absent, saying how to set it
   */
  public String getString(String path) {
    return find(path).orElseThrow(() -> missing(path));
  }

  /**
   * A string, or a default.
   *
   * @param path a path relative to this view
   * @param dflt the default
   * @return the value or the default
   */
  public String getString(String path, String dflt) {
    return find(path).orElse(dflt);
  }

  /**
   * A required whole number.
   *
   * @param path a path relative to this view
   * @return the value
   * @throws ConfigException when absent or not a whole number
   */
  public int getInt(String path) {
    return parseInt(path, getString(path));
  }

  /**
   * A whole number, or a default.
   *
   * @param path a path relative to this view
   * @param dflt the default
   * @return the value or the default
   * @throws ConfigException when set but not a whole number
   */
  public int getInt(String path, int dflt) {
    return find(path).map(v -> parseInt(path, v)).orElse(dflt);
  }

  /**
   * A whole number within bounds, or a default.
   *
   * @param path a path relative to this view
   * @param dflt the default
   * @param min the smallest value allowed
   * @param max the largest value allowed
   * @return the value or the default
   * @throws ConfigException when set but not a whole number in {@code [min, max]}
   */
  public int getInt(String path, int dflt, int min, int max) {
    int n = getInt(path, dflt);
    if (n < min || n > max) {
      throw invalid(path, "must be between " + min + " and " + max);
    }
    return n;
  }

  private int parseInt(String path, String v) {
    long n = parseLong(path, v);
    if (n != (int) n) {
      throw invalid(path, "must be a whole number"); // beyond the range of an int
    }
    return (int) n;
  }

  /**
   * A long whole number, or a default.
   *
   * @param path a path relative to this view
   * @param dflt the default
   * @return the value or the default
   * @throws ConfigException when set but not a whole number
   */
  public long getLong(String path, long dflt) {
    return find(path).map(v -> parseLong(path, v)).orElse(dflt);
  }

  private long parseLong(String path, String v) {
    try {
      return Long.parseLong(v.trim());
    } catch (NumberFormatException e) {
      throw invalid(path, "must be a whole number");
    }
  }

  /**
   * A flag: {@code true/false}, {@code yes/no}, {@code on/off}, {@code 1/0}; or a default.
   *
   * @param path a path relative to this view
   * @param dflt the default
   * @return the value or the default
   * @throws ConfigException when set to anything else
   */
  public boolean getBoolean(String path, boolean dflt) {
    Optional<String> v = find(path);
    if (v.isEmpty()) {
      return dflt;
    }
    switch (v.get().toLowerCase(Locale.ROOT)) {
      case "true", "yes", "on", "1":
        return true;
      case "false", "no", "off", "0":
        return false;
      default:
        throw invalid(path, "must be true or false");
    }
  }

  /**
   * A required duration ({@code 250ms}, {@code 2s}, {@code 1.5s}, {@code 5m}, {@code 1h}, ISO-8601).
   *
   * @param path a path relative to this view
   * @return the value
   * @throws ConfigException when absent or not a duration
   */
  public Duration getDuration(String path) {
    return parseDuration(path, getString(path));
  }

  /**
   * A duration, or a default.
   *
   * @param path a path relative to this view
   * @param dflt the default
   * @return the value or the default
   * @throws ConfigException when set but not a duration, or negative
   */
  public Duration getDuration(String path, Duration dflt) {
    return find(path).map(v -> parseDuration(path, v)).orElse(dflt);
  }

  private Duration parseDuration(String path, String v) {
    Duration d;
    try {
      d = v.equals("0") ? Duration.ZERO : Durations.parse(v);
    } catch (IllegalArgumentException e) {
      throw invalid(path, whyNotADuration(v));
    }
    if (d.isNegative()) {
      throw invalid(path, "must not be negative");
    }
    return d;
  }

  /** Why a text {@link Durations#parse} refused is refused: too long, negative, or no duration at all. */
  private static String whyNotADuration(String v) {
    String t = v.trim();
    if (t.startsWith("-")) {
      try {
        Durations.parse(t.substring(1));
        return "must not be negative";
      } catch (IllegalArgumentException notEvenThen) {
        // not a duration with its sign taken away either: say what one looks like
      }
    }
    try {
      Durations.parse(t.startsWith("-") ? t.substring(1) : t);
    } catch (IllegalArgumentException e) {
      if (e.getMessage().startsWith("too long")) {
        return "too long: at most a year, " + Durations.MAX.toHours() + "h";
      }
    }
    return "must be a duration such as 250ms, 2s, 1.5s, 5m or 1h";
  }

  /**
   * A list: comma-separated, each item trimmed, empty items dropped; or a default when the key is absent.
   * A key that is set but lists nothing ({@code ""}, {@code ","}, {@code []} in a file, an environment
   * variable set to nothing) is not absent: it is refused, so that a list emptied by mistake (a
   * truncated file, {@code SKIFF_CASSANDRA_HOSTS=}) never reads as the default (a client moved to
   * localhost).
   *
   * @param path a path relative to this view
   * @param dflt the default
   * @return the items, or the default when absent
   * @throws ConfigException when set but listing nothing, naming the key and where it came from
   */
  public List<String> getList(String path, List<String> dflt) {
    Value v = lookup(full(checkPath(path)));
    if (v == null) {
      return dflt;
    }
    List<String> items = Arrays.stream(v.value().split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
    if (items.isEmpty()) {
      throw invalid(path, "lists nothing: give at least one item, or remove the key for the default");
    }
    return items;
  }

  /**
   * A required list (see {@link #getList(String, List)}).
   *
   * @param path a path relative to this view
   * @return the items, at least one
   * @throws ConfigException when absent, or set but listing nothing
   */
  public List<String> getList(String path) {
    if (lookup(full(checkPath(path))) == null) {
      throw missing(path);
    }
    return getList(path, List.of());
  }

  /**
   * A constant of an enum, matched ignoring case and with {@code -} read as {@code _}; or a default.
   *
   * @param path a path relative to this view
   * @param type the enum
   * @param dflt the default
   * @param <E> the enum type
   * @return the constant or the default
   * @throws ConfigException naming the allowed values when set to anything else
   */
  public <E extends Enum<E>> E getEnum(String path, Class<E> type, E dflt) {
    Optional<String> v = find(path);
    if (v.isEmpty()) {
      return dflt;
    }
    String want = v.get().replace('-', '_');
    for (E e : type.getEnumConstants()) {
      if (e.name().equalsIgnoreCase(want)) {
        return e;
      }
    }
    throw invalid(
        path,
        "must be one of "
            + Arrays.stream(type.getEnumConstants()).map(Enum::name).collect(Collectors.joining(", ")));
  }

  /**
   * A list of {@code host[:port]} addresses, checked but not resolved; or a default.
   *
   * @param path a path relative to this view
   * @param defaultPort the port of an address that names none
   * @param dflt the default list, e.g. {@code List.of("127.0.0.1")}
   * @return unresolved addresses, in the order given
   * @throws ConfigException when an item is not {@code host} or {@code host:port} with a port in 1..65535
   */
  public List<InetSocketAddress> getAddresses(String path, int defaultPort, List<String> dflt) {
    List<InetSocketAddress> out = new ArrayList<>();
    for (String item : getList(path, dflt)) {
      String host = item;
      int port = defaultPort;
      int colon = item.lastIndexOf(':');
      if (colon >= 0 && item.indexOf(':') == colon) {
        host = item.substring(0, colon);
        try {
          port = Integer.parseInt(item.substring(colon + 1));
        } catch (NumberFormatException e) {
          port = -1;
        }
      } else if (item.startsWith("[") && item.contains("]:")) {
        host = item.substring(1, item.indexOf(']'));
        try {
          port = Integer.parseInt(item.substring(item.indexOf("]:") + 2));
        } catch (NumberFormatException e) {
          port = -1;
        }
      }
      boolean ipv6 = host.indexOf(':') >= 0;
      if (host.isBlank() || host.contains(" ") || port < 1 || port > 65535
          || (ipv6 && !isIpv6Literal(host)) || (!ipv6 && !host.matches("[A-Za-z0-9._-]+"))) {
        throw invalid(path, "must be a comma-separated list of host or host:port (port 1-65535); '" + Redaction.uri(item) + "' is not"
            + (item.indexOf('@') >= 0 ? " (no user or password goes in a host list)" : ""));
      }
      out.add(InetSocketAddress.createUnresolved(host, port));
    }
    return out;
  }

  /**
   * @param host a host with a colon
   * @return whether it is an IPv6 address literal ({@code 127.0.0.1:2181:2182} has the characters of one, and is
   *     a host with two ports); parsed, never looked up
   */
  private static boolean isIpv6Literal(String host) {
    if (!host.matches("[0-9a-fA-F:.]+")) {
      return false;
    }
    try {
      // a text with ':' is parsed as an IPv6 literal, never looked up in DNS
      return InetAddress.getByName(host) instanceof java.net.Inet6Address || host.startsWith("::ffff:");
    } catch (UnknownHostException e) {
      return false;
    }
  }

  /**
   * A list of {@code host[:port]} addresses as {@link #getAddresses} reads it, each host resolved now;
   * or a default.
   *
   * @param path a path relative to this view
   * @param defaultPort the port of an address that names none
   * @param dflt the default list, e.g. {@code List.of("127.0.0.1")}
   * @return resolved addresses, in the order given
   * @throws ConfigException when an item is malformed (as {@link #getAddresses}) or its host is unknown
   */
  public List<InetSocketAddress> getResolvedAddresses(String path, int defaultPort, List<String> dflt) {
    List<InetSocketAddress> out = new ArrayList<>();
    for (InetSocketAddress a : getAddresses(path, defaultPort, dflt)) {
      try {
        out.add(new InetSocketAddress(InetAddress.getByName(a.getHostString()), a.getPort()));
      } catch (UnknownHostException e) {
        throw invalid(path, "unknown host '" + a.getHostString() + "'");
      }
    }
    return List.copyOf(out);
  }

  /**
   * An error about a key of this view, naming the key, its value and where it came from.
   *
   * @param path a path relative to this view
   * @param problem what is wrong, e.g. {@code must be positive}
   * @return the exception, to throw
   */
  public ConfigException invalid(String path, String problem) {
    String full = full(path);
    Value v = lookup(full);
    // a value may be a URI with a password, or user:password@host where a host list belongs
    String shown = v == null ? full + " (not set)" : full + " = '" + Redaction.uri(v.value()) + "' (from " + v.origin() + ")";
    return new ConfigException(full, shown + ": " + problem);
  }

  private ConfigException missing(String path) {
    String full = full(path);
    return new ConfigException(
        full,
        full + " is required: set it in a config file, or as " + environmentVariable(full) + " or -D"
            + systemProperty(full));
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Config c && prefix.equals(c.prefix) && asMap().equals(c.asMap());
  }

  @Override
  public int hashCode() {
    return asMap().hashCode();
  }

  /**
   * @return the values of this view, with where each came from (the passwords of URIs are hidden, other
   *     secrets are not: do not log)
   */
  @Override
  public String toString() {
    return subtree().entrySet().stream()
        .map(e -> e.getKey() + " = " + Redaction.of(e.getValue().value()) + "  # " + e.getValue().origin())
        .collect(Collectors.joining("\n"));
  }
}
