package dev.skiff.platform.config;

import dev.skiff.platform.internal.Threads;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigValue;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The configuration sources that come with the platform: fixed maps, files (HOCON, JSON or Java
 * properties, parsed by Typesafe Config) read once or watched for changes, and classpath resources.
 * ZooKeeper is in the service layer ({@code dev.skiff.service.config.ZooKeeperConfigSource}).
 */
public final class ConfigSources {
  private ConfigSources() {}

  /**
   * Fixed values.
   *
   * @param name how messages name the source, e.g. {@code defaults}
   * @param values flat values by dotted path (lists are joined by commas)
   * @return the source
   */
  public static ConfigSource map(String name, Map<String, ?> values) {
    Objects.requireNonNull(name, "name");
    Map<String, String> copy = new TreeMap<>();
    values.forEach((k, v) -> copy.put(Config.checkPath(k), Config.render(v)));
    return new ConfigSource() {
      @Override
      public String name() {
        return name;
      }

      @Override
      public Map<String, String> read() {
        return copy;
      }
    };
  }

  /**
   * A file read when the configuration is built or reloaded; its changes are not watched. The format
   * follows the extension: {@code .conf} (HOCON), {@code .json}, {@code .properties}.
   *
   * @param file the file; it must exist
   * @return the source
   */
  public static ConfigSource file(Path file) {
    return new FileSource(file, null);
  }

  /**
   * A file watched for changes: it is checked every {@code interval} (on a daemon thread named
   * {@code skiff-config-watch-NAME}) and, when its content changed, the configuration reloads. A change
   * that does not parse is reported and the last good values stay in force. So is a file that held
   * values and is now empty (no bytes, or blanks only): far more likely a write in progress (a shell's
   * {@code > file}, a tool that truncates and then writes) than an intent, it is refused as a deleted file
   * is. To empty the file on purpose, leave a comment in it ({@code # no settings}).
   *
   * @param file the file; it must exist when the configuration is built
   * @param interval how often to look, e.g. 1 s
   * @return the source
   */
  public static ConfigSource watchedFile(Path file, Duration interval) {
    if (interval.isNegative() || interval.isZero()) {
      throw new IllegalArgumentException("interval must be positive: " + interval);
    }
    return new FileSource(file, interval);
  }

  /**
   * A classpath resource (HOCON, JSON or properties by extension), e.g. a service's
   * {@code service-defaults.conf}; absent resources give no values.
   *
   * @param resource the resource's name
   * @param loader the class loader to look in
   * @return the source
   */
  public static ConfigSource classpath(String resource, ClassLoader loader) {
    Objects.requireNonNull(resource, "resource");
    Objects.requireNonNull(loader, "loader");
    return new ConfigSource() {
      @Override
      public String name() {
        return "classpath " + resource;
      }

      @Override
      public Map<String, String> read() {
        try {
          return flatten(ConfigFactory.parseResources(loader, resource).resolve());
        } catch (com.typesafe.config.ConfigException e) {
          throw new ConfigException("", name() + ": " + e.getMessage(), e);
        }
      }
    };
  }

  static Map<String, String> flatten(com.typesafe.config.Config parsed) {
    Map<String, String> out = new TreeMap<>();
    for (Map.Entry<String, ConfigValue> e : parsed.entrySet()) {
      Object v = e.getValue().unwrapped();
      out.put(e.getKey().replace("\"", ""), v == null ? "" : Config.render(v));
    }
    return out;
  }

  /** A file, read on demand and, if an interval is given, polled for changes. */
  private static final class FileSource implements ConfigSource {
    private final Path file;
    private final Duration interval;
    private final AtomicBoolean closed = new AtomicBoolean();
    private ScheduledExecutorService poller;
    private volatile byte[] lastSeen;
    /** Whether the last read that succeeded gave values: then an empty file is refused. */
    private volatile boolean heldValues;

    FileSource(Path file, Duration interval) {
      this.file = Objects.requireNonNull(file, "file").toAbsolutePath();
      this.interval = interval;
    }

    @Override
    public String name() {
      return "file " + file;
    }

    @Override
    public Map<String, String> read() {
      byte[] bytes;
      try {
        bytes = Files.readAllBytes(file);
      } catch (NoSuchFileException e) {
        throw new ConfigException("", name() + ": no such file", e);
      } catch (IOException e) {
        throw new ConfigException("", name() + ": cannot read it: " + e, e);
      }
      lastSeen = bytes;
      if (heldValues && new String(bytes, java.nio.charset.StandardCharsets.UTF_8).isBlank()) {
        throw new ConfigException("", name() + ": is empty now, after it held values: refused as a write in progress "
            + "(the last good values stay); to empty it on purpose, leave a comment in it, e.g. '# no settings'");
      }
      Map<String, String> values;
      try {
        values = flatten(
            ConfigFactory.parseFile(file.toFile(), ConfigParseOptions.defaults().setAllowMissing(false)).resolve());
      } catch (com.typesafe.config.ConfigException e) {
        throw new ConfigException("", name() + ": " + e.getMessage(), e);
      }
      heldValues = !values.isEmpty();
      return values;
    }

    @Override
    public synchronized void watch(Runnable changed) {
      if (interval == null || poller != null || closed.get()) {
        return;
      }
      String threadName = "skiff-config-watch-" + file.getFileName();
      poller =
          Executors.newSingleThreadScheduledExecutor(Threads.named(threadName));
      poller.scheduleWithFixedDelay(
          () -> {
            byte[] now;
            try {
              now = Files.readAllBytes(file);
            } catch (IOException e) {
              now = new byte[0];
            }
            if (!Arrays.equals(now, lastSeen)) {
              lastSeen = now;
              changed.run();
            }
          },
          interval.toMillis(),
          interval.toMillis(),
          TimeUnit.MILLISECONDS);
    }

    @Override
    public synchronized void close() {
      if (closed.compareAndSet(false, true) && poller != null) {
        poller.shutdownNow();
      }
    }
  }
}
