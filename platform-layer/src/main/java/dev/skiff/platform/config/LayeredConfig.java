package dev.skiff.platform.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Live configuration in layers, later layers winning:
 *
 * <ol>
 *   <li>defaults ({@link Builder#defaults(Map)});
 *   <li>files ({@link Builder#file(Path)}, {@link Builder#watchedFile(Path, Duration)}), in the order added;
 *   <li>config sources such as ZooKeeper ({@link Builder#source(ConfigSource)}), in the order added;
 *   <li>environment variables: path {@code cassandra.hosts} from {@code SKIFF_CASSANDRA_HOSTS}
 *       ({@code .} and {@code -} become {@code _}, letters upper case). A variable sets every path of a
 *       lower layer its name matches; one that matches none sets the path {@link Config#pathOfVariable}
 *       reads from it, where {@code _} is a {@code .}, {@code __} a {@code -} and {@code ___} a
 *       {@code _} (to reach keys of free-form subtrees: {@code SKIFF_CASSANDRA_KEYSPACES_SKIFF___CONFIG_CONSISTENCY},
 *       {@code SKIFF_CASSANDRA_DRIVER_BASIC_LOAD__BALANCING__POLICY_SLOW__REPLICA__AVOIDANCE});
 *   <li>system properties: path {@code cassandra.hosts} from {@code -Dskiff.cassandra.hosts}.
 * </ol>
 *
 * <pre>{@code
 * LayeredConfig config = LayeredConfig.builder()
 *     .defaults(Map.of("cassandra.keyspace", "bookings"))
 *     .watchedFile(Path.of("/etc/skiff/bookings.conf"), Duration.ofSeconds(1))
 *     .build();                                   // reads every layer; throws if one is broken
 * String hosts = config.current().getString("cassandra.hosts");
 * config.onChange("cassandra", c -> reconnect(c.at("cassandra")));
 * }</pre>
 *
 * <p>When a source changes, every layer is read again and the result is checked by the validators
 * ({@link #addValidator(Consumer)}); only then does it become {@link #current()} and are the listeners
 * of the prefixes whose values changed called. A change that cannot be read or that a validator rejects
 * is reported to the error handler ({@link Builder#onError(Consumer)}, by default a log line) and the
 * last good configuration stays in force: a bad edit never takes a running service down.
 *
 * <p>Thread-safe. Listeners run on the thread that saw the change (a source's watcher thread, or the
 * caller of {@link #reload()}), one at a time, in the order they were added. {@link #close()} stops the
 * sources' watchers and closes the sources.
 */
public final class LayeredConfig implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(LayeredConfig.class);

  /** A registration of a listener or validator; closing it removes it. */
  public interface Subscription extends AutoCloseable {
    /** Removes the registration. Idempotent. */
    @Override
    void close();
  }

  private record Listener(String prefix, Consumer<Config> action) {}

  private final Map<String, String> defaults;
  private final List<ConfigSource> files;
  private final List<ConfigSource> sources;
  private final Map<String, String> env;
  private final Map<String, String> sysprops;
  private final Consumer<ConfigException> onError;
  private final List<Consumer<Config>> validators = new CopyOnWriteArrayList<>();
  private final List<Listener> listeners = new CopyOnWriteArrayList<>();
  private final AtomicBoolean closed = new AtomicBoolean();
  private final AtomicLong rejected = new AtomicLong();
  private volatile Config current;
  private volatile ConfigException lastError;

  private LayeredConfig(Builder b) {
    this.defaults = Map.copyOf(b.defaults);
    this.files = List.copyOf(b.files);
    this.sources = List.copyOf(b.sources);
    this.env = b.env;
    this.sysprops = b.sysprops;
    this.onError = b.onError;
    this.validators.addAll(b.validators);
  }

  /** @return a builder; environment and system properties of this process are layers by default */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Configuration from this process's environment variables and system properties only.
   *
   * @return the configuration
   */
  public static LayeredConfig fromEnvironment() {
    return builder().build();
  }

  /** @return the configuration in force now (an immutable snapshot) */
  public Config current() {
    return current;
  }

  /** @return how many changes were rejected because they could not be read or were invalid */
  public long rejectedChanges() {
    return rejected.get();
  }

  /** @return the last rejected change's error, or null if none was rejected */
  public ConfigException lastError() {
    return lastError;
  }

  /**
   * Calls {@code listener} with the new configuration each time a value under {@code prefix} changes.
   *
   * @param prefix a path such as {@code cassandra}, or "" for any change
   * @param listener what to call; what it throws is reported to the error handler
   * @return the registration, to remove it
   */
  public Subscription onChange(String prefix, Consumer<Config> listener) {
    Listener l = new Listener(Objects.requireNonNull(prefix, "prefix"), Objects.requireNonNull(listener, "listener"));
    listeners.add(l);
    return () -> listeners.remove(l);
  }

  /**
   * Adds a check every configuration must pass to come into force (the one in force now included).
   * A validator throws {@link ConfigException} (or {@link IllegalArgumentException}) to reject.
   *
   * @param validator the check
   * @return the registration, to remove it
   * @throws ConfigException when the configuration in force now fails it
   */
  public Subscription addValidator(Consumer<Config> validator) {
    Objects.requireNonNull(validator, "validator");
    validate(validator, current);
    validators.add(validator);
    return () -> validators.remove(validator);
  }

  /**
   * Reads every layer again and, if the result is valid and differs, puts it in force and notifies the
   * listeners of what changed.
   *
   * @return true if a new configuration came into force
   * @throws ConfigException when a layer cannot be read or a validator rejects the result (the last
   *     good configuration stays in force)
   */
  public synchronized boolean reload() {
    if (closed.get()) {
      return false;
    }
    Config next = read();
    for (Consumer<Config> v : validators) {
      validate(v, next);
    }
    Config previous = current;
    if (next.equals(previous)) {
      return false;
    }
    current = next;
    for (Listener l : listeners) {
      boolean changed =
          l.prefix.isEmpty()
              ? true
              : !next.at(l.prefix).asMap().equals(previous.at(l.prefix).asMap());
      if (changed) {
        try {
          l.action.accept(next);
        } catch (RuntimeException e) {
          report(new ConfigException(l.prefix, "a listener of config '" + l.prefix + "' failed: " + e, e));
        }
      }
    }
    return true;
  }

  private void reloadQuietly() {
    try {
      reload();
    } catch (ConfigException e) {
      rejected.incrementAndGet();
      lastError = e;
      report(e);
    } catch (RuntimeException e) {
      rejected.incrementAndGet();
      ConfigException ce = new ConfigException("", "config reload failed: " + e, e);
      lastError = ce;
      report(ce);
    }
  }

  private void report(ConfigException e) {
    try {
      onError.accept(e);
    } catch (RuntimeException ignored) {
      log.warn("config error handler failed on: {}", e.getMessage(), ignored);
    }
  }

  private static void validate(Consumer<Config> validator, Config c) {
    try {
      validator.accept(c);
    } catch (ConfigException e) {
      throw e;
    } catch (IllegalArgumentException e) {
      throw new ConfigException("", "invalid configuration: " + e.getMessage(), e);
    }
  }

  /**
   * The configuration as it would be if one of the sources gave other values, checked by the validators;
   * nothing comes into force. How a source asks, before it takes new values, whether they would be
   * accepted (the config service asks a running service this way: docs/configuration.md).
   *
   * @param source one of this configuration's sources
   * @param values the values it would give
   * @return the configuration that would result
   * @throws ConfigException when a layer cannot be read or a validator rejects the result
   * @throws IllegalArgumentException when {@code source} is not one of this configuration's sources
   */
  public Config check(ConfigSource source, Map<String, String> values) {
    if (!sources.contains(source) && !files.contains(source)) {
      throw new IllegalArgumentException(source.name() + " is not a source of this configuration");
    }
    Map<String, String> proposed = Map.copyOf(values);
    Config next = read(source, proposed);
    for (Consumer<Config> v : validators) {
      validate(v, next);
    }
    return next;
  }

  private Config read() {
    return read(null, null);
  }

  private Config read(ConfigSource replaced, Map<String, String> replacement) {
    SortedMap<String, Config.Value> m = new TreeMap<>();
    defaults.forEach((k, v) -> m.put(k, new Config.Value(v, "defaults")));
    for (ConfigSource s : files) {
      (s == replaced ? replacement : s.read()).forEach((k, v) -> m.put(k, new Config.Value(v, s.name())));
    }
    for (ConfigSource s : sources) {
      (s == replaced ? replacement : s.read()).forEach((k, v) -> m.put(k, new Config.Value(v, s.name())));
    }
    // environment: a variable overrides every known path that maps to its name; unknown ones add a path
    Map<String, List<String>> byVariable = new HashMap<>();
    for (String path : m.keySet()) {
      byVariable.computeIfAbsent(Config.environmentVariable(path), k -> new ArrayList<>()).add(path);
      String plain = Config.plainEnvironmentVariable(path);
      if (!plain.equals(Config.environmentVariable(path))) {
        byVariable.computeIfAbsent(plain, k -> new ArrayList<>()).add(path);
      }
    }
    for (Map.Entry<String, String> e : new TreeMap<>(env).entrySet()) {
      String name = e.getKey();
      if (!name.startsWith("SKIFF_") || name.length() <= 6) {
        continue;
      }
      Config.Value v = new Config.Value(e.getValue(), "env " + name);
      List<String> known = byVariable.get(name);
      if (known != null) {
        known.forEach(p -> m.put(p, v));
      } else {
        m.put(Config.pathOfVariable(name), v);
      }
    }
    for (Map.Entry<String, String> e : new TreeMap<>(sysprops).entrySet()) {
      String name = e.getKey();
      if (name.startsWith("skiff.") && name.length() > 6) {
        m.put(name.substring(6), new Config.Value(e.getValue(), "system property " + name));
      }
    }
    return new Config(Collections.unmodifiableSortedMap(m), "");
  }

  /** Stops watching and closes the sources. Idempotent. */
  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      for (ConfigSource s : files) {
        s.close();
      }
      for (ConfigSource s : sources) {
        s.close();
      }
    }
  }

  /** Builds a {@link LayeredConfig}; see the class comment for the order of the layers. */
  public static final class Builder {
    private final Map<String, String> defaults = new TreeMap<>();
    private final List<ConfigSource> files = new ArrayList<>();
    private final List<ConfigSource> sources = new ArrayList<>();
    private final List<Consumer<Config>> validators = new ArrayList<>();
    private Map<String, String> env = System.getenv();
    private Map<String, String> sysprops = propertiesOf(System.getProperties());
    private Consumer<ConfigException> onError = e -> log.warn("configuration change rejected: {}", e.getMessage());

    private Builder() {}

    private static Map<String, String> propertiesOf(Properties p) {
      Map<String, String> m = new TreeMap<>();
      for (String name : p.stringPropertyNames()) {
        if (name.startsWith("skiff.")) {
          m.put(name, p.getProperty(name));
        }
      }
      return m;
    }

    /**
     * Adds default values (the lowest layer).
     *
     * @param values flat values by dotted path
     * @return this
     */
    public Builder defaults(Map<String, ?> values) {
      values.forEach((k, v) -> defaults.put(Config.checkPath(k), Config.render(v)));
      return this;
    }

    /**
     * Adds a file layer, read at build and at each reload (see {@link ConfigSources#file(Path)}).
     *
     * @param file the file; it must exist
     * @return this
     */
    public Builder file(Path file) {
      files.add(ConfigSources.file(file));
      return this;
    }

    /**
     * Adds a file layer watched for changes (see {@link ConfigSources#watchedFile(Path, Duration)}).
     *
     * @param file the file; it must exist
     * @param interval how often to look for changes
     * @return this
     */
    public Builder watchedFile(Path file, Duration interval) {
      files.add(ConfigSources.watchedFile(file, interval));
      return this;
    }

    /**
     * Adds a source above the files (e.g. ZooKeeper). The configuration closes it when closed.
     *
     * @param source the source
     * @return this
     */
    public Builder source(ConfigSource source) {
      sources.add(Objects.requireNonNull(source, "source"));
      return this;
    }

    /**
     * Replaces this process's environment as the environment layer (for tests).
     *
     * @param env the variables; only those starting with {@code SKIFF_} are read
     * @return this
     */
    public Builder environment(Map<String, String> env) {
      this.env = Map.copyOf(env);
      return this;
    }

    /**
     * Replaces this process's system properties as the top layer (for tests).
     *
     * @param properties the properties; only those starting with {@code skiff.} are read
     * @return this
     */
    public Builder systemProperties(Map<String, String> properties) {
      this.sysprops = Map.copyOf(properties);
      return this;
    }

    /**
     * Adds a check every configuration must pass, the first one included.
     *
     * @param validator throws {@link ConfigException} to reject
     * @return this
     */
    public Builder validator(Consumer<Config> validator) {
      validators.add(Objects.requireNonNull(validator, "validator"));
      return this;
    }

    /**
     * Where rejected changes and failing listeners are reported (default: a warning in the log).
     *
     * @param handler the handler
     * @return this
     */
    public Builder onError(Consumer<ConfigException> handler) {
      this.onError = Objects.requireNonNull(handler, "handler");
      return this;
    }

    /**
     * Reads every layer, validates, and starts watching the sources that change.
     *
     * @return the configuration, in force
     * @throws ConfigException when a layer cannot be read or the result is invalid (the sources are
     *     closed again)
     */
    public LayeredConfig build() {
      LayeredConfig c = new LayeredConfig(this);
      try {
        Config first = c.read();
        for (Consumer<Config> v : c.validators) {
          validate(v, first);
        }
        c.current = first;
      } catch (RuntimeException e) {
        c.close();
        throw e;
      }
      for (ConfigSource s : c.files) {
        s.watch(c::reloadQuietly);
      }
      for (ConfigSource s : c.sources) {
        s.watch(c::reloadQuietly);
      }
      return c;
    }
  }
}
