package dev.skiff.service.config;

import dev.skiff.platform.config.ConfigException;
import dev.skiff.platform.config.ConfigSource;
import dev.skiff.platform.config.LayeredConfig;
import dev.skiff.service.zookeeper.ZooKeeperClient;
import dev.skiff.platform.internal.Threads;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.curator.framework.recipes.cache.ChildData;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;

/**
 * Configuration kept in ZooKeeper, one znode per key: under the root {@code /config/bookings}, the
 * znode {@code /config/bookings/cassandra/hosts} with the data {@code 10.0.0.1,10.0.0.2} is the value
 * of {@code cassandra.hosts}. Znodes without data only group. A {@link LayeredConfig} source:
 *
 * <pre>{@code
 * try (ZooKeeperClient zk = ZooKeeperClient.builder().config(bootstrap).build().start()) {
 *   LayeredConfig config = LayeredConfig.builder()
 *       .file(Path.of("bookings.conf"))
 *       .source(ZooKeeperConfigSource.of(zk, "/config/bookings"))
 *       .build();                       // waits for the first read; then every change reloads
 * }
 * }</pre>
 *
 * <p>The whole tree is watched (Curator's {@code CuratorCache}) and read locally; any change, from any
 * process, reloads the configuration, which validates it before it comes into force. While ZooKeeper
 * cannot be reached the last values seen stay in force. The client is owned by the caller and must
 * outlive this source; paths are under the client's namespace.
 */
public final class ZooKeeperConfigSource implements ConfigSource {
  private final String root;
  private final String description;
  private final CuratorCache cache;
  private final CountDownLatch initialized = new CountDownLatch(1);
  private final AtomicBoolean closed = new AtomicBoolean();
  private final Duration firstReadTimeout;
  private final ExecutorService events;
  private volatile Runnable changed = () -> {};

  private ZooKeeperConfigSource(ZooKeeperClient client, String root, Duration firstReadTimeout) {
    this.root = root;
    this.description = "zookeeper " + client.connectString() + " " + root;
    this.firstReadTimeout = firstReadTimeout;
    this.events =
        Executors.newSingleThreadExecutor(Threads.named("skiff-config-zookeeper" + root.replace('/', '-')));
    this.cache = CuratorCache.build(client.curator(), root);
    cache.listenable().addListener(
        CuratorCacheListener.builder()
            .forAll((type, before, after) -> {
              if (initialized.getCount() == 0) {
                changed.run();
              }
            })
            .forInitialized(initialized::countDown)
            .build(),
        events);
    cache.start();
  }

  /**
   * A source reading the tree under {@code root}, waiting up to 5 s for the first read.
   *
   * @param client a started client
   * @param root an absolute path, e.g. {@code /config/com.example.bookings}
   * @return the source
   */
  public static ZooKeeperConfigSource of(ZooKeeperClient client, String root) {
    return of(client, root, Duration.ofSeconds(5));
  }

  /**
   * A source reading the tree under {@code root}.
   *
   * @param client a started client
   * @param root an absolute path
   * @param firstReadTimeout how long the first {@link #read()} waits for ZooKeeper
   * @return the source
   */
  public static ZooKeeperConfigSource of(ZooKeeperClient client, String root, Duration firstReadTimeout) {
    Objects.requireNonNull(client, "client");
    if (root == null || !root.startsWith("/") || root.length() < 2 || root.endsWith("/")) {
      throw new IllegalArgumentException("the config root is an absolute ZooKeeper path such as /config/bookings: '" + root + "'");
    }
    return new ZooKeeperConfigSource(client, root, Objects.requireNonNull(firstReadTimeout, "firstReadTimeout"));
  }

  @Override
  public String name() {
    return description;
  }

  /**
   * The values under the root, as last seen.
   *
   * @throws ConfigException when the first read did not complete in time
   */
  @Override
  public Map<String, String> read() {
    try {
      if (!initialized.await(firstReadTimeout.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new ConfigException("", description + ": no answer from ZooKeeper within " + firstReadTimeout);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ConfigException("", description + ": interrupted while reading", e);
    }
    Map<String, String> out = new TreeMap<>();
    cache.stream()
        .filter(d -> d.getPath().startsWith(root + "/"))
        .filter(d -> d.getData() != null && d.getData().length > 0)
        .forEach(d -> out.put(key(d), new String(d.getData(), StandardCharsets.UTF_8).trim()));
    return out;
  }

  private String key(ChildData d) {
    return d.getPath().substring(root.length() + 1).replace('/', '.');
  }

  @Override
  public void watch(Runnable changed) {
    this.changed = Objects.requireNonNull(changed, "changed");
  }

  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      cache.close();
      events.shutdown();
    }
  }
}
