package dev.skiff.service.memcached;

import dev.skiff.service.StoreClientBuilder;
import dev.skiff.service.StoreUnavailableAtStart;
import dev.skiff.service.internal.StallWatch;
import dev.skiff.service.internal.StoreLifecycle;
import com.codahale.metrics.Counter;
import com.codahale.metrics.Timer;
import com.codahale.metrics.health.HealthCheck;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.config.ConfigException;
import dev.skiff.platform.config.LayeredConfig;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import net.rubyeye.xmemcached.MemcachedClient;
import net.rubyeye.xmemcached.XMemcachedClientBuilder;
import net.rubyeye.xmemcached.exception.MemcachedException;
import net.rubyeye.xmemcached.exception.MemcachedServerException;
import net.rubyeye.xmemcached.impl.KetamaMemcachedSessionLocator;
import net.rubyeye.xmemcached.transcoders.CachedData;
import net.rubyeye.xmemcached.transcoders.CompressionMode;
import net.rubyeye.xmemcached.transcoders.Transcoder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A memcached client configured from the platform's config: get, set, delete and multi-get with times
 * to live, keys spread over the configured servers by consistent (Ketama) hashing, and a
 * {@link #readThrough read-through} helper that falls back to the loader when memcached is down. Built
 * on xmemcached.
 *
 * <pre>{@code
 * try (Memcached cache = Memcached.builder()
 *     .config(layeredConfig)            // reads memcached.hosts, memcached.timeout, ...; follows changes
 *     .metrics(metricRegistry)
 *     .healthChecks(healthCheckRegistry)
 *     .build()
 *     .start()) {
 *   Booking b = cache.readThrough("booking:" + id, Duration.ofMinutes(5), BOOKING_CODEC, () -> load(id));
 * }
 * }</pre>
 *
 * <p><b>Lifecycle.</b> {@link #start()} connects and registers the health check {@code NAME} and the
 * metrics {@code NAME.*} (NAME defaults to the config path, {@code memcached}); an operation on a
 * client not started (or closed) is refused with an IllegalStateException that says so. A server that
 * cannot be reached does not fail the start: the client keeps trying it, the health check says it is
 * down, operations on its keys fail fast with UNAVAILABLE, and read-through goes to the loader. A
 * service that cannot run without memcached says so with {@link Builder#requiredAtStart}: start then
 * waits that long for a server and throws {@link StoreUnavailableAtStart}, one line, if none answered.
 * {@link #close()} disconnects and removes the health check and metrics; idempotent.
 *
 * <p><b>Outages.</b> While a server is gone, operations on its keys fail at once with UNAVAILABLE
 * naming memcached and its hosts; on a connection that went half-open they end at {@code timeout}.
 * xmemcached reconnects by itself, but waits {@code reconnect-interval} times the number of tries so far
 * between tries (up to a minute after a long outage), and keeps a half-open connection. So every second
 * a watchdog asks each server through the client ({@code stats}) and on a connection of its own
 * ({@code version}); when servers have answered the plain probe for 2 s while the client cannot use
 * them, the client is replaced by a new one on the same settings, counted in {@code NAME.rebuilds} (a
 * rebuild that did not help is tried again after 10 s, doubling up to 5 min). <b>Bound:</b> fully
 * working at most 5 s after memcached answers again, however long it was gone (usually under 1 s
 * after short outages; 2 to 4 s after long ones or half-open connections, through a rebuild). What
 * memcached held is lost with a restart, as always.
 *
 * <p><b>Live changes.</b> Given a {@link LayeredConfig}, a change of {@code hosts} adds and removes
 * servers without a restart, and {@code timeout}, {@code default-ttl} and {@code max-item-size} apply at once. A change that
 * does not validate (e.g. an unknown host) is refused by the config, naming the key.
 *
 * <p><b>Errors.</b> Operations throw {@link SkiffException}: UNAVAILABLE when no server for the key is
 * connected, TIMEOUT when it did not answer in time, BAD_REQUEST for a value too large to store (over
 * {@code max-item-size} with its key: refused before it is sent, counted in {@code NAME.too-large}); bad
 * keys and times to live throw {@link IllegalArgumentException}. Thread-safe.
 */
public final class Memcached implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Memcached.class);
  private static final int MAX_KEY_BYTES = 250;
  /**
   * How long a server must answer a probe while the client cannot use it before the client is rebuilt:
   * xmemcached tries a lost server again after {@code reconnect-interval} times the number of tries so
   * far (up to a minute apart after a long outage), so its own reconnection alone would take up to a
   * minute after the server is back.
   */
  static final Duration STALL = Duration.ofSeconds(2);
  private static final Duration FIRST_BACKOFF = Duration.ofSeconds(10);
  private static final Duration MAX_BACKOFF = Duration.ofMinutes(5);

  private final StoreLifecycle lifecycle;
  private final String name;
  private final Duration requiredAtStart;
  private volatile MemcachedSettings settings;
  private volatile MemcachedClient client;
  /** The configured servers the client was not connected to at the watchdog's last look (its thread only). */
  private Set<InetSocketAddress> down = Set.of();
  private final StallWatch stall;

  private final Timer getTimer;
  private final Timer getMultiTimer;
  private final Timer setTimer;
  private final Timer deleteTimer;
  private final Timer loadTimer;
  private final Counter hits;
  private final Counter misses;
  private final Counter errors;
  private final Counter fallbacks;
  private final Counter undecodable;
  private final Counter tooLarge;
  private final Counter readThroughTooLarge;
  /** Whether read-through has logged a value too large to cache (once per client; the rest are counted). */
  private final AtomicBoolean toldTooLarge = new AtomicBoolean();

  private Memcached(Builder b) {
    StoreClientBuilder.Setup setup = b.setup();
    this.lifecycle = new StoreLifecycle(Memcached.class, "memcached", setup, "skiff-memcached-watchdog-" + setup.name());
    this.name = setup.name();
    this.settings = MemcachedSettings.from(setup.section());
    lifecycle.reportUnknownKeys(MemcachedSettings.KEYS.unknownFromEnvironment(setup.section()));
    this.requiredAtStart = setup.requiredAtStart();
    this.getTimer = lifecycle.timer("get");
    this.getMultiTimer = lifecycle.timer("get-multi");
    this.setTimer = lifecycle.timer("set");
    this.deleteTimer = lifecycle.timer("delete");
    this.loadTimer = lifecycle.timer("read-through.loads");
    this.hits = lifecycle.counter("hits");
    this.misses = lifecycle.counter("misses");
    this.errors = lifecycle.counter("errors");
    this.fallbacks = lifecycle.counter("read-through.fallbacks");
    this.undecodable = lifecycle.counter("read-through.undecodable");
    this.tooLarge = lifecycle.counter("too-large");
    this.readThroughTooLarge = lifecycle.counter("read-through.too-large");
    this.stall = new StallWatch(STALL, FIRST_BACKOFF, MAX_BACKOFF, lifecycle.counter("rebuilds"));
  }

  /** @return a builder */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Connects to the configured servers and registers the health check and metrics. Servers that cannot
   * be reached do not fail the start (the client is unhealthy, operations on their keys fail fast with
   * UNAVAILABLE, and it connects when they answer), unless memcached is
   * {@link Builder#requiredAtStart required at start}: then start waits that long for a server and, if
   * none answered, closes the client and throws.
   *
   * @return this
   * @throws IllegalStateException if started before or closed
   * @throws SkiffException UNAVAILABLE when the client cannot be set up at all
   * @throws StoreUnavailableAtStart when memcached is required at start and no server answered in time
   *     (a one-line message naming the hosts)
   */
  public synchronized Memcached start() {
    MemcachedSettings s = settings;
    lifecycle.start(() -> client = connect(s), new Health(), MemcachedSettings::from, this::apply, this::watch);
    lifecycle.gauge("servers.available", () -> client.getAvailableServers().size());
    if (!requiredAtStart.isZero()) {
      long deadline = System.nanoTime() + requiredAtStart.toNanos();
      while (client.getAvailableServers().isEmpty() && System.nanoTime() - deadline < 0) {
        LockSupport.parkNanos(Duration.ofMillis(50).toNanos());
      }
      if (client.getAvailableServers().isEmpty()) {
        close();
        throw lifecycle.unavailableAtStart("[" + hostsText(s) + "]", requiredAtStart);
      }
    }
    if (client.getAvailableServers().isEmpty()) {
      log.warn("memcached client '{}': no server of {} ({}.hosts) answers; started anyway, unhealthy, and connects when they answer",
          name, hostsText(s), lifecycle.path());
    } else {
      log.info("memcached client '{}' started on {}", name, hostsText(s));
    }
    return this;
  }

  private MemcachedClient connect(MemcachedSettings s) {
    try {
      return newClient(s);
    } catch (IOException e) {
      throw new SkiffException(ErrorCode.UNAVAILABLE, "memcached client '" + name + "' could not start: " + e, e);
    }
  }

  private MemcachedClient newClient(MemcachedSettings s) throws IOException {
    XMemcachedClientBuilder b = new XMemcachedClientBuilder(s.hosts());
    b.setSessionLocator(new KetamaMemcachedSessionLocator());
    b.setOpTimeout(s.timeout().toMillis());
    b.setConnectTimeout(s.connectTimeout().toMillis());
    b.setHealSessionInterval(Math.max(100, s.reconnectInterval().toMillis()));
    b.setConnectionPoolSize(1);
    b.setFailureMode(false);
    b.setName("skiff-" + name);
    b.setTranscoder(new RawBytes());
    return b.build();
  }

  private static String hostsText(MemcachedSettings s) {
    return s.hosts().stream().map(Memcached::hostText).collect(Collectors.joining(", "));
  }

  private static String hostText(InetSocketAddress a) {
    return (a.isUnresolved() ? a.getHostString() : a.getAddress().getHostAddress()) + ":" + a.getPort();
  }

  /**
   * The watchdog, every second: when servers answer a plain probe ({@code version} on a connection of
   * their own) for {@link #STALL} while the client cannot use them (not connected, or its connection
   * does not answer: half-open), the client's own reconnection has stalled; it is then replaced by a
   * new one on the same settings, counted in {@code NAME.rebuilds}; a rebuild that did not help is tried
   * again after 10 s, doubling up to 5 min (the backoff starts again once every server is served or
   * none answers).
   */
  private void watch() {
    MemcachedSettings s = settings;
    MemcachedClient c = client;
    Set<InetSocketAddress> available = new HashSet<>(c.getAvailableServers());
    reportDown(s.hosts().stream().filter(a -> !available.contains(a)).collect(Collectors.toSet()), available);
    List<InetSocketAddress> stalled =
        s.hosts().stream().filter(a -> !(available.contains(a) && serves(c, a, s)) && answersProbe(a, s)).toList();
    if (stalled.isEmpty()) {
      stall.clear();
    } else if (stall.stalled(System.nanoTime())) {
      log.warn("memcached client '{}': {} answer(s), but the client cannot use them; replacing the client (rebuild {})",
          name, stalled.stream().map(Memcached::hostText).toList(), stall.rebuilds() + 1);
      rebuild();
    }
  }

  /**
   * One line when servers go down and one when they are back (on the watchdog's thread): xmemcached's own
   * lines, an error and its stack trace at each reconnection attempt (logger {@code remoting}), are best
   * turned off in the service's logging set-up (docs/service-layer.md).
   */
  private void reportDown(Set<InetSocketAddress> downNow, Set<InetSocketAddress> available) {
    if (downNow.equals(down)) {
      return;
    }
    Set<InetSocketAddress> gone = new HashSet<>(downNow);
    gone.removeAll(down);
    Set<InetSocketAddress> back = new HashSet<>(down);
    back.removeAll(downNow);
    back.retainAll(available); // not a server taken out of the configuration
    if (!gone.isEmpty()) {
      log.warn("memcached client '{}': {} not connected; reconnecting (their keys fail fast with UNAVAILABLE meanwhile)", name,
          gone.stream().map(Memcached::hostText).sorted().toList());
    }
    if (!back.isEmpty()) {
      log.info("memcached client '{}': {} connected again", name, back.stream().map(Memcached::hostText).sorted().toList());
    }
    down = Set.copyOf(downNow);
  }

  private static boolean serves(MemcachedClient c, InetSocketAddress a, MemcachedSettings s) {
    try {
      return c.stats(a, s.timeout().toMillis()) != null;
    } catch (TimeoutException | MemcachedException | RuntimeException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private static boolean answersProbe(InetSocketAddress a, MemcachedSettings s) {
    try (Socket socket = new Socket()) {
      socket.connect(a, (int) s.connectTimeout().toMillis());
      socket.setSoTimeout((int) s.timeout().toMillis());
      OutputStream out = socket.getOutputStream();
      out.write("version\r\n".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = socket.getInputStream();
      return new String(in.readNBytes(7), StandardCharsets.US_ASCII).equals("VERSION");
    } catch (IOException e) {
      return false;
    }
  }

  private synchronized void rebuild() {
    if (!lifecycle.isStarted()) {
      return;
    }
    MemcachedClient old = client;
    try {
      client = newClient(settings);
    } catch (IOException e) {
      log.warn("memcached client '{}': could not rebuild: {} (tried again later)", name, e.toString());
      return;
    }
    stall.rebuilt();
    try {
      old.shutdown();
    } catch (IOException e) {
      log.debug("memcached client '{}': the replaced client did not shut down cleanly: {}", name, e.toString());
    }
  }

  private MemcachedClient client() {
    lifecycle.checkStarted();
    return client;
  }

  private synchronized void apply(MemcachedSettings next) {
    if (!lifecycle.isStarted()) {
      return;
    }
    MemcachedSettings old = settings;
    Set<InetSocketAddress> before = new HashSet<>(old.hosts());
    Set<InetSocketAddress> after = new HashSet<>(next.hosts());
    for (InetSocketAddress a : next.hosts()) {
      if (!before.contains(a)) {
        try {
          client.addServer(a);
        } catch (IOException e) {
          log.warn("memcached client '{}': could not add {}: {} (it is retried)", name, a, e.toString());
        }
      }
    }
    for (InetSocketAddress a : old.hosts()) {
      if (!after.contains(a)) {
        client.removeServer(a);
      }
    }
    client.setOpTimeout(next.timeout().toMillis());
    settings = next;
    if (!before.equals(after)) {
      log.info("memcached client '{}' moves from {} to {}", name, old.hosts(), next.hosts());
    } else if (!old.timeout().equals(next.timeout())) {
      log.info("memcached client '{}': operations now time out after {} ms", name, next.timeout().toMillis());
    }
  }

  /** @return the settings in force */
  public MemcachedSettings settings() {
    return settings;
  }

  /** @return the servers connected now */
  public Collection<InetSocketAddress> availableServers() {
    return List.copyOf(client().getAvailableServers());
  }

  /**
   * Reads a value.
   *
   * @param key the key (1 to 250 bytes of UTF-8, no spaces or control characters)
   * @return the value, or empty on a miss
   * @throws SkiffException UNAVAILABLE or TIMEOUT when memcached cannot answer
   */
  public Optional<byte[]> get(String key) {
    checkKey(key);
    MemcachedClient c = client();
    Timer.Context t = getTimer.time();
    try {
      byte[] v = c.get(key, settings.timeout().toMillis());
      (v == null ? misses : hits).inc();
      return Optional.ofNullable(v);
    } catch (TimeoutException | InterruptedException | MemcachedException | RuntimeException e) {
      throw failure("get", key, e);
    } finally {
      t.stop();
    }
  }

  /**
   * Reads a UTF-8 string value.
   *
   * @param key the key
   * @return the value, or empty on a miss
   * @throws SkiffException UNAVAILABLE or TIMEOUT when memcached cannot answer
   */
  public Optional<String> getString(String key) {
    return get(key).map(b -> new String(b, StandardCharsets.UTF_8));
  }

  /**
   * Reads many values at once (one request per server).
   *
   * @param keys the keys
   * @return the values found, by key (misses are absent)
   * @throws SkiffException UNAVAILABLE or TIMEOUT when memcached cannot answer
   */
  public Map<String, byte[]> getMulti(Collection<String> keys) {
    keys.forEach(Memcached::checkKey);
    if (keys.isEmpty()) {
      return Map.of();
    }
    MemcachedClient c = client();
    Timer.Context t = getMultiTimer.time();
    try {
      Map<String, byte[]> found = c.get(keys, settings.timeout().toMillis());
      Map<String, byte[]> out = found == null ? Map.of() : new LinkedHashMap<>(found);
      hits.inc(out.size());
      misses.inc(new HashSet<>(keys).size() - out.size());
      return out;
    } catch (TimeoutException | InterruptedException | MemcachedException | RuntimeException e) {
      throw failure("get-multi", keys.size() + " keys", e);
    } finally {
      t.stop();
    }
  }

  /**
   * Stores a value with the default time to live ({@code default-ttl}).
   *
   * @param key the key
   * @param value the value
   * @throws SkiffException UNAVAILABLE or TIMEOUT when memcached cannot answer
   */
  public void set(String key, byte[] value) {
    set(key, value, settings.defaultTtl());
  }

  /**
   * Stores a value.
   *
   * @param key the key
   * @param value the value: with its key and {@link MemcachedSettings#ITEM_OVERHEAD} bytes, at most the
   *     servers' item size ({@code max-item-size}, 1 MiB by default)
   * @param ttl how long memcached keeps it: 1 s to 30 days, or zero for as long as it has room
   * @throws SkiffException UNAVAILABLE or TIMEOUT when memcached cannot answer, BAD_REQUEST when the value
   *     is too large (nothing is sent), INTERNAL when it refuses otherwise
   */
  public void set(String key, byte[] value, Duration ttl) {
    checkKey(key);
    Objects.requireNonNull(value, "value");
    int seconds = ttlSeconds(ttl);
    MemcachedClient c = client();
    String tooLargeBy = tooLarge(key, value);
    if (tooLargeBy != null) {
      tooLarge.inc();
      throw new SkiffException(ErrorCode.BAD_REQUEST, tooLargeBy);
    }
    boolean stored;
    Timer.Context t = setTimer.time();
    try {
      stored = c.set(key, seconds, value, settings.timeout().toMillis());
    } catch (TimeoutException | InterruptedException | MemcachedException | RuntimeException e) {
      throw failure("set", key, e);
    } finally {
      t.stop();
    }
    if (!stored) {
      errors.inc();
      throw new SkiffException(ErrorCode.INTERNAL, "memcached did not store '" + key + "' (" + value.length + " bytes)");
    }
  }

  /**
   * Stores a UTF-8 string value.
   *
   * @param key the key
   * @param value the value
   * @param ttl how long memcached keeps it (see {@link #set(String, byte[], Duration)})
   */
  public void setString(String key, String value, Duration ttl) {
    set(key, value.getBytes(StandardCharsets.UTF_8), ttl);
  }

  /**
   * Deletes a value.
   *
   * @param key the key
   * @return whether there was a value
   * @throws SkiffException UNAVAILABLE or TIMEOUT when memcached cannot answer
   */
  public boolean delete(String key) {
    checkKey(key);
    MemcachedClient c = client();
    Timer.Context t = deleteTimer.time();
    try {
      return c.delete(key, settings.timeout().toMillis());
    } catch (TimeoutException | InterruptedException | MemcachedException | RuntimeException e) {
      throw failure("delete", key, e);
    } finally {
      t.stop();
    }
  }

  /**
   * Reads through the cache: the cached value if there is one, else the loader's, which is then
   * cached. When memcached is down or slow the loader's value is returned and nothing is thrown for
   * memcached's sake (counted in {@code NAME.read-through.fallbacks}); a cached value the codec cannot
   * read counts as a miss; a loaded value too large for memcached ({@code max-item-size}) is returned and
   * not cached (counted in {@code NAME.read-through.too-large}, the first logged once). A null from the loader is returned and not cached. What the loader throws
   * reaches the caller.
   *
   * @param key the key
   * @param ttl how long to cache a loaded value
   * @param codec turns values into bytes and back
   * @param loader the source of truth
   * @param <T> the value type
   * @return the value
   */
  public <T> T readThrough(String key, Duration ttl, Codec<T> codec, Supplier<T> loader) {
    checkKey(key);
    int seconds = ttlSeconds(ttl);
    boolean cacheUp = true;
    try {
      Optional<byte[]> cached = get(key);
      if (cached.isPresent()) {
        try {
          return codec.decode(cached.get());
        } catch (RuntimeException e) {
          undecodable.inc();
          log.debug("memcached '{}': value of '{}' does not decode; loading it again", name, key, e);
        }
      }
    } catch (SkiffException e) {
      cacheUp = false;
      fallbacks.inc();
    }
    T value;
    Timer.Context t = loadTimer.time();
    try {
      value = loader.get();
    } finally {
      t.stop();
    }
    if (value != null && cacheUp) {
      byte[] bytes = codec.encode(value);
      String tooLargeBy = tooLarge(key, bytes);
      if (tooLargeBy != null) {
        readThroughTooLarge.inc();
        if (toldTooLarge.compareAndSet(false, true)) {
          log.warn("memcached '{}': read-through does not cache a value: {} (the loader's value is answered; such values are "
              + "counted in {}.read-through.too-large, and not logged again)", name, tooLargeBy, name);
        }
        return value;
      }
      try {
        set(key, bytes, Duration.ofSeconds(seconds));
      } catch (SkiffException e) {
        fallbacks.inc();
      }
    }
    return value;
  }

  /**
   * @return why the value cannot be stored under the key (it does not fit the item size with its key),
   *     or null when it fits
   */
  private String tooLarge(String key, byte[] value) {
    int max = settings.maxItemSize();
    long item = (long) value.length + key.getBytes(StandardCharsets.UTF_8).length + MemcachedSettings.ITEM_OVERHEAD;
    if (item <= max) {
      return null;
    }
    return "memcached takes items of at most " + max + " bytes (" + lifecycle.path() + ".max-item-size, memcached's -I): the value of '"
        + key + "' is " + value.length + " bytes, and with its key and " + MemcachedSettings.ITEM_OVERHEAD
        + " bytes of memcached's own, " + item + "; store less, or raise both -I and " + lifecycle.path() + ".max-item-size";
  }

  private SkiffException failure(String op, String key, Exception e) {
    errors.inc();
    if (e instanceof InterruptedException) {
      Thread.currentThread().interrupt();
      return new SkiffException(ErrorCode.UNAVAILABLE, "memcached " + op + " of '" + key + "' was interrupted", e);
    }
    if (e instanceof TimeoutException) {
      return new SkiffException(
          ErrorCode.TIMEOUT, "memcached " + op + " of '" + key + "' took over " + settings.timeout().toMillis() + " ms", e);
    }
    if (e instanceof IllegalArgumentException iae) {
      throw iae;
    }
    if (e instanceof MemcachedServerException && String.valueOf(e.getMessage()).contains("too large")) {
      tooLarge.inc();
      return new SkiffException(ErrorCode.BAD_REQUEST, "memcached " + op + " of '" + key + "': a server refused the value as too large ("
          + e.getMessage() + "): its item size (-I) is smaller than " + lifecycle.path() + ".max-item-size, "
          + settings.maxItemSize() + " bytes; set " + lifecycle.path() + ".max-item-size to the servers' -I", e);
    }
    return new SkiffException(
        ErrorCode.UNAVAILABLE, "memcached " + op + " of '" + key + "' failed (servers " + hostsText(settings) + "): " + e.getMessage(), e);
  }

  private static void checkKey(String key) {
    Objects.requireNonNull(key, "key");
    byte[] b = key.getBytes(StandardCharsets.UTF_8);
    boolean ok = b.length > 0 && b.length <= MAX_KEY_BYTES;
    for (int i = 0; ok && i < key.length(); i++) {
      char ch = key.charAt(i);
      ok = ch > ' ' && ch != 0x7f;
    }
    if (!ok) {
      throw new IllegalArgumentException(
          "not a memcached key: '" + key + "' (1 to 250 bytes of UTF-8, no spaces or control characters)");
    }
  }

  private static int ttlSeconds(Duration ttl) {
    Objects.requireNonNull(ttl, "ttl");
    if (ttl.isNegative() || ttl.compareTo(MemcachedSettings.MAX_TTL) > 0 || (!ttl.isZero() && ttl.getSeconds() == 0)) {
      throw new IllegalArgumentException("ttl must be zero (no expiry) or 1 s to 30 days: " + ttl);
    }
    return (int) ttl.getSeconds();
  }

  /** Disconnects and removes the health check and metrics. Idempotent. */
  @Override
  public synchronized void close() {
    lifecycle.close(started -> {
      if (!started) {
        return;
      }
      try {
        client.shutdown();
      } catch (IOException e) {
        log.warn("memcached client '{}' did not shut down cleanly: {}", name, e.toString());
      }
    });
  }

  /** Healthy when every configured server is connected and answers {@code version} in time. */
  private final class Health extends HealthCheck {
    @Override
    protected Result check() throws Exception {
      MemcachedSettings s = settings;
      MemcachedClient c = client;
      long rebuilt = stall.rebuilds();
      String rebuiltNote = rebuilt == 0 ? "" : "; client rebuilt " + rebuilt + " times";
      Set<InetSocketAddress> up = new HashSet<>(c.getAvailableServers());
      List<InetSocketAddress> down = s.hosts().stream().filter(a -> !up.contains(a)).toList();
      if (!down.isEmpty()) {
        return Result.unhealthy("memcached '" + name + "': " + down.size() + " of " + s.hosts().size() + " servers down: "
            + down.stream().map(Memcached::hostText).toList() + " (reconnecting: " + s.reconnectInterval().toMillis()
            + " ms times the tries so far between tries, and a new client within 2 s once they answer; their keys fail fast"
            + " with UNAVAILABLE)" + rebuiltNote);
      }
      Map<InetSocketAddress, String> versions;
      try {
        versions = c.getVersions(s.timeout().toMillis());
      } catch (TimeoutException e) {
        versions = Map.of();
      }
      Set<InetSocketAddress> answered = versions == null ? Set.of() : versions.keySet();
      if (!answered.containsAll(s.hosts())) {
        return Result.unhealthy("memcached '" + name + "': connected, but " + s.hosts().stream().filter(a -> !answered.contains(a))
            .map(Memcached::hostText).toList() + " did not answer 'version' within " + s.timeout().toMillis() + " ms" + rebuiltNote);
      }
      return Result.healthy(s.hosts().size() + " memcached servers up: " + versions + rebuiltNote);
    }
  }

  /** Values are stored as their bytes, flag 0: readable by any client, no Java serialization. */
  private static final class RawBytes implements Transcoder<byte[]> {
    @Override
    public CachedData encode(byte[] o) {
      // the size was checked against max-item-size before: xmemcached's own check knows only 1 MiB
      return new CachedData(0, o, Math.max(o.length, CachedData.MAX_SIZE), -1);
    }

    @Override
    public byte[] decode(CachedData d) {
      return d.getData();
    }

    @Override
    public void setPrimitiveAsString(boolean b) {}

    @Override
    public void setPackZeros(boolean b) {}

    @Override
    public void setCompressionThreshold(int t) {}

    @Override
    public boolean isPrimitiveAsString() {
      return false;
    }

    @Override
    public boolean isPackZeros() {
      return false;
    }

    @Override
    public void setCompressionMode(CompressionMode m) {}
  }

  /** Builds a {@link Memcached}. */
  public static final class Builder extends StoreClientBuilder<Memcached, Builder> {
    private Builder() {
      super("memcached", Memcached::new);
    }
  }

}
