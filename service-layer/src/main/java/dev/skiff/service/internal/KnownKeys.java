package dev.skiff.service.internal;

import dev.skiff.platform.config.Config;
import dev.skiff.platform.config.ConfigException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * The keys a store client reads under its config path, so that one it does not know (a typo such as
 * {@code cassandra.request-timout}, which would leave the default in force unnoticed) is not silently
 * ignored. A key set in a file, a config source, a system property or a map is refused, naming the key,
 * its source and the nearest known key; one set in the environment is only reported
 * ({@link #unknownFromEnvironment}): the {@code SKIFF_} variables are shared with other tools (the
 * Cassandra start script reads {@code SKIFF_CASSANDRA_HEAP}, for one), which must not stop a service.
 * Free-form subtrees (Cassandra's {@code driver.*} and {@code keyspaces.*}) are not checked here.
 */
public final class KnownKeys {
  private static final String ENVIRONMENT = "env ";

  private final String client;
  private final List<String> keys;
  private final List<String> subtrees;

  /**
   * @param client the client, as messages name it, e.g. {@code memcached client}
   * @param keys the keys it reads, relative to its path, e.g. {@code timeout}
   * @param subtrees free-form subtrees, relative to its path, e.g. {@code driver}
   */
  public KnownKeys(String client, List<String> keys, List<String> subtrees) {
    this.client = client;
    this.keys = List.copyOf(keys);
    this.subtrees = List.copyOf(subtrees);
  }

  /**
   * Refuses the first key of the section it does not know that was not set in the environment.
   *
   * @param section the client's section, e.g. {@code config.at("memcached")}
   * @throws ConfigException naming the key, its value and source, and the nearest known key
   */
  public void check(Config section) {
    for (String key : unknown(section)) {
      if (!fromEnvironment(section, key)) {
        throw section.invalid(key, "not a setting of the " + client + " (" + hint(section, key) + "); its settings are "
            + String.join(", ", all(section)));
      }
    }
  }

  /**
   * The keys of the section it does not know that were set in the environment.
   *
   * @param section the client's section
   * @return each as {@code KEY (from env VARIABLE; did you mean ...?)}, to report
   */
  public List<String> unknownFromEnvironment(Config section) {
    List<String> out = new ArrayList<>();
    for (String key : unknown(section)) {
      if (fromEnvironment(section, key)) {
        out.add(section.full(key) + " (from " + section.origin(key).orElse("env") + "; " + hint(section, key) + ")");
      }
    }
    return out;
  }

  private List<String> unknown(Config section) {
    List<String> out = new ArrayList<>();
    for (Map.Entry<String, String> e : section.asMap().entrySet()) {
      if (!known(section, e.getKey())) {
        out.add(e.getKey());
      }
    }
    return out;
  }

  private boolean known(Config section, String key) {
    for (String s : subtrees) {
      if (key.startsWith(s + ".")) {
        return true;
      }
    }
    if (keys.contains(key)) {
      return true;
    }
    // the environment has no '-': SKIFF_CASSANDRA_REQUEST_TIMEOUT is stored as cassandra.request.timeout
    return fromEnvironment(section, key) && keys.stream().anyMatch(k -> k.replace('-', '.').equals(key));
  }

  private static boolean fromEnvironment(Config section, String key) {
    return section.origin(key).map(o -> o.startsWith(ENVIRONMENT)).orElse(false);
  }

  private String hint(Config section, String key) {
    String nearest = keys.stream().min(Comparator.comparingInt(k -> distance(k, key))).orElseThrow();
    int d = distance(nearest, key);
    return d <= Math.max(2, key.length() / 3) ? "did you mean " + section.full(nearest) + "?" : "no key is near it";
  }

  private List<String> all(Config section) {
    List<String> out = new ArrayList<>();
    keys.forEach(k -> out.add(section.full(k)));
    subtrees.forEach(s -> out.add(section.full(s) + ".*"));
    return out;
  }

  /** Levenshtein's distance between two keys ({@code -} and {@code .} read alike, as the environment writes them). */
  static int distance(String a, String b) {
    a = a.replace('-', '.');
    b = b.replace('-', '.');
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
        cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }
}
