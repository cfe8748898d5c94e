package dev.skiff.service.zookeeper;

import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.cache.ChildData;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.zookeeper.KeeperException;

/**
 * A string value at a ZooKeeper path, kept up to date in memory (Curator's {@code CuratorCache}): reads
 * are local, and listeners hear of every change, from this process or any other.
 *
 * <p>While the connection is down the last value seen is kept. Listeners run on a thread named
 * {@code skiff-zookeeper-watch-CLIENT}. Thread-safe; close is idempotent. Once closed, or once its client
 * is closed (which closes it), {@link #get} and {@link #set} are refused with an IllegalStateException
 * that says which.
 */
public final class WatchedValue implements AutoCloseable {
  private final ZooKeeperClient client;
  private final CuratorFramework curator;
  private final String path;
  private final CuratorCache cache;
  private final CopyOnWriteArrayList<Consumer<Optional<String>>> listeners = new CopyOnWriteArrayList<>();
  private final AtomicBoolean closed = new AtomicBoolean();

  WatchedValue(ZooKeeperClient client, String path, Executor executor) {
    this.client = client;
    this.curator = client.curator();
    this.path = path;
    this.cache = CuratorCache.build(curator, path, CuratorCache.Options.SINGLE_NODE_CACHE);
    cache.listenable().addListener(
        CuratorCacheListener.builder().forAll((type, before, after) -> notifyListeners()).build(), executor);
    cache.start();
  }

  private void notifyListeners() {
    Optional<String> v = read();
    for (Consumer<Optional<String>> l : listeners) {
      l.accept(v);
    }
  }

  /** @return the path, under the client's namespace */
  public String path() {
    return path;
  }

  /**
   * @return the value as last seen, or empty when the node does not exist
   * @throws IllegalStateException when this value or its client is closed
   */
  public Optional<String> get() {
    checkOpen();
    return read();
  }

  private Optional<String> read() {
    return cache.get(path).map(ChildData::getData).map(b -> new String(b, StandardCharsets.UTF_8));
  }

  /**
   * Sets the value (creating the node and its parents if needed).
   *
   * @param value the value: in UTF-8, with the path, at most ZooKeeper's {@code jute.maxbuffer} (0xfffff
   *     bytes by default) less 1 KiB
   * @throws SkiffException UNAVAILABLE when ZooKeeper cannot be reached: at once when it is known to be
   *     unreachable, else after at most {@code connection-timeout}
   * @throws IllegalArgumentException when the value is too large for ZooKeeper (nothing is sent: the
   *     server would drop the session, and every lock and leadership of the client with it)
   * @throws IllegalStateException when this value or its client is closed
   */
  public void set(String value) {
    checkOpen();
    byte[] data = Objects.requireNonNull(value, "value").getBytes(StandardCharsets.UTF_8);
    client.checkFits("the value of " + path, path, data);
    try {
      client.failFast("could not set " + path, client.connectionTimeout(), () -> {
        try {
          return curator.setData().forPath(path, data);
        } catch (KeeperException.NoNodeException e) {
          return curator.create().orSetData().creatingParentsIfNeeded().forPath(path, data);
        }
      });
    } catch (SkiffException e) {
      throw e;
    } catch (Exception e) {
      throw new SkiffException(ErrorCode.UNAVAILABLE, "could not set " + path + " in ZooKeeper: " + e, e);
    }
  }

  /**
   * Calls {@code listener} with the new value (empty when deleted) after each change.
   *
   * @param listener the listener
   * @return this
   */
  public WatchedValue onChange(Consumer<Optional<String>> listener) {
    listeners.add(Objects.requireNonNull(listener, "listener"));
    return this;
  }

  private void checkOpen() {
    client.checkStarted();
    if (closed.get()) {
      throw new IllegalStateException("watched value " + path + " is closed");
    }
  }

  /** Stops watching. Idempotent. */
  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      cache.close();
    }
  }
}
