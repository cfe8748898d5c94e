package dev.skiff.service.zookeeper;

import dev.skiff.service.StoreClientBuilder;
import com.codahale.metrics.Counter;
import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.Timer;
import com.codahale.metrics.health.HealthCheck;
import com.codahale.metrics.health.HealthCheckRegistry;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.config.ConfigException;
import dev.skiff.platform.config.LayeredConfig;
import dev.skiff.platform.internal.Threads;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import org.apache.curator.ensemble.EnsembleProvider;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A ZooKeeper client (Apache Curator) configured from the platform's config, with the recipes services
 * need: {@link #lock distributed locks} with timeouts, {@link #leaderElection leader election}, and
 * {@link #watch watched values}.
 *
 * <pre>{@code
 * try (ZooKeeperClient zk = ZooKeeperClient.builder()
 *     .config(layeredConfig)                 // zookeeper.hosts, zookeeper.namespace, ...; follows changes
 *     .metrics(metricRegistry)
 *     .healthChecks(healthCheckRegistry)
 *     .build()
 *     .start()) {                            // waits until connected (zookeeper.connection-timeout)
 *   try (DistributedLock.Lease lease = zk.lock("report").acquire(Duration.ofSeconds(5))) { ... }
 * }
 * }</pre>
 *
 * <p><b>Lifecycle.</b> {@link #start()} connects, waiting up to {@code connection-timeout}, and
 * registers the health check {@code NAME} and metrics {@code NAME.*} (NAME defaults to the config path,
 * {@code zookeeper}). The recipes need a started client. {@link #close()} closes every recipe made
 * from this client, then the connection; idempotent.
 *
 * <p><b>Health.</b> Healthy while connected; unhealthy, saying since when, while the connection is
 * suspended (ZooKeeper cannot be reached: locks and leadership cannot be trusted) or the session lost.
 *
 * <p><b>Live changes.</b> Given a {@link LayeredConfig}, a change of {@code hosts} moves the client to
 * a new session on the new ensemble without a restart (ephemeral nodes, so locks and leadership, do not
 * move with it: recipes re-acquire as after a session loss). Threads: Curator's, named
 * {@code skiff-zookeeper-NAME-N}, and ZooKeeper's own I/O threads.
 */
public final class ZooKeeperClient implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ZooKeeperClient.class);
  private static final Pattern RECIPE_NAME = Pattern.compile("[A-Za-z0-9_.-]+");

  private enum State { NEW, STARTED, CLOSED }

  private final StoreClientBuilder.Setup setup;
  private final String name;
  private final MetricRegistry metrics;
  private final HealthCheckRegistry healthChecks;
  private final ZooKeeperSettings settings;
  private final LiveEnsemble ensemble;
  private final CuratorFramework curator;
  private final ExecutorService listenerExecutor;
  private final AtomicReference<State> state = new AtomicReference<>(State.NEW);
  private final AtomicReference<ConnectionState> connection = new AtomicReference<>(ConnectionState.LOST);
  private final AtomicReference<Instant> connectionSince = new AtomicReference<>(Instant.now());
  private final AtomicLong lossEpoch = new AtomicLong();
  private final List<AutoCloseable> recipes = new ArrayList<>();
  private final List<LayeredConfig.Subscription> subscriptions = new ArrayList<>();
  private final Counter suspended;
  private final Counter lost;
  private final Counter reconnected;
  private final Timer lockAcquire;

  private ZooKeeperClient(Builder b) {
    StoreClientBuilder.Setup setup = b.setup();
    this.setup = setup;
    this.name = setup.name();
    this.metrics = setup.metrics();
    this.healthChecks = setup.healthChecks();
    this.settings = ZooKeeperSettings.from(setup.section());
    this.ensemble = new LiveEnsemble(settings.connectString());
    CuratorFrameworkFactory.Builder cb =
        CuratorFrameworkFactory.builder()
            .ensembleProvider(ensemble)
            .sessionTimeoutMs((int) settings.sessionTimeout().toMillis())
            .connectionTimeoutMs((int) settings.connectionTimeout().toMillis())
            .retryPolicy(new ExponentialBackoffRetry((int) settings.retryBase().toMillis(), settings.retries(), 5_000))
            .threadFactory(Threads.named("skiff-zookeeper-" + name));
    if (!settings.namespace().isEmpty()) {
      cb.namespace(settings.namespace());
    }
    this.curator = cb.build();
    this.listenerExecutor =
        Executors.newSingleThreadExecutor(Threads.named("skiff-zookeeper-listeners-" + name));
    this.suspended = metrics.counter(name + ".connection.suspended");
    this.lost = metrics.counter(name + ".connection.lost");
    this.reconnected = metrics.counter(name + ".connection.reconnected");
    this.lockAcquire = metrics.timer(name + ".lock.acquire");
  }

  /** @return a builder */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Connects, waiting up to {@code connection-timeout}, and registers the health check and metrics.
   *
   * @return this
   * @throws IllegalStateException if started before or closed
   * @throws SkiffException UNAVAILABLE, naming the hosts, when no server answered in time (the client
   *     is then closed)
   */
  public synchronized ZooKeeperClient start() {
    if (!state.compareAndSet(State.NEW, State.STARTED)) {
      throw new IllegalStateException("ZooKeeper client '" + name + "' was already started");
    }
    curator.getConnectionStateListenable().addListener((c, s) -> onState(s), listenerExecutor);
    curator.start();
    boolean connected;
    try {
      connected = curator.blockUntilConnected((int) settings.connectionTimeout().toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      connected = false;
    }
    if (!connected) {
      close();
      throw new SkiffException(
          ErrorCode.UNAVAILABLE,
          "ZooKeeper at " + settings.connectString() + " (" + setup.path() + ".hosts) did not answer within "
              + settings.connectionTimeout());
    }
    connection.set(ConnectionState.CONNECTED);
    connectionSince.set(Instant.now());
    metrics.gauge(name + ".connected", () -> () -> isConnected() ? 1 : 0);
    healthChecks.register(name, new Health());
    subscriptions.addAll(setup.follow(ZooKeeperSettings::from, this::moveTo));
    log.info("ZooKeeper client '{}' connected to {} (namespace '{}')", name, settings.connectString(), settings.namespace());
    return this;
  }

  private void onState(ConnectionState s) {
    connection.set(s);
    connectionSince.set(Instant.now());
    switch (s) {
      case SUSPENDED -> suspended.inc();
      case LOST -> {
        lost.inc();
        lossEpoch.incrementAndGet();
      }
      case RECONNECTED -> reconnected.inc();
      default -> {}
    }
    if (s != ConnectionState.CONNECTED) {
      log.info("ZooKeeper client '{}': connection {}", name, s);
    }
  }

  private void moveTo(ZooKeeperSettings next) {
    String cs = next.connectString();
    if (cs.equals(ensemble.getConnectionString()) || state.get() != State.STARTED) {
      return;
    }
    log.info("ZooKeeper client '{}' moves from {} to {}", name, ensemble.getConnectionString(), cs);
    ensemble.setConnectionString(cs);
    // A new session on the new ensemble (the old one is closed): what it held is gone.
    lossEpoch.incrementAndGet();
    try {
      curator.getZookeeperClient().reset();
    } catch (Exception e) {
      log.warn("ZooKeeper client '{}': could not move to {}: {} (it retries on its next connection)", name, cs, e.toString());
    }
  }

  /** @return the ensemble this client uses now */
  public String connectString() {
    return ensemble.getConnectionString();
  }

  String describe() {
    return connectString() + " (" + connection.get() + ")";
  }

  /** @return whether the connection is up now */
  public boolean isConnected() {
    return state.get() == State.STARTED && curator.getZookeeperClient().isConnected();
  }

  /** Incremented each time the session was (or must be presumed) lost: what it held is gone. */
  long lossEpoch() {
    return lossEpoch.get();
  }

  /**
   * The Curator client, for what the recipes here do not cover. Paths are under the namespace.
   *
   * @return the client (owned by this object: do not close it)
   */
  public CuratorFramework curator() {
    return curator;
  }

  private void checkStarted() {
    if (state.get() != State.STARTED) {
      throw new IllegalStateException(
          "ZooKeeper client '" + name + "' is " + (state.get() == State.NEW ? "not started: call start() first" : "closed"));
    }
  }

  private static String checkName(String what, String n) {
    Objects.requireNonNull(n, what);
    if (!RECIPE_NAME.matcher(n).matches()) {
      throw new IllegalArgumentException(what + " must be letters, digits, '.', '_' or '-': '" + n + "'");
    }
    return n;
  }

  /**
   * A distributed lock (under {@code /locks/NAME} in the namespace).
   *
   * @param lockName the lock's name
   * @return the lock
   */
  public DistributedLock lock(String lockName) {
    checkStarted();
    return new DistributedLock(this, checkName("lock name", lockName), lockAcquire);
  }

  /**
   * A participant in a leader election (under {@code /leaders/NAME}); call {@code start()} on it.
   *
   * @param electionName the election's name
   * @param participantId this participant's id, e.g. the instance id
   * @param listener told {@code true} on becoming leader and {@code false} on losing leadership
   * @return the participant, not started; closed with this client
   */
  public synchronized LeaderElection leaderElection(String electionName, String participantId, Consumer<Boolean> listener) {
    checkStarted();
    LeaderElection e =
        new LeaderElection(this, checkName("election name", electionName), Objects.requireNonNull(participantId, "participantId"), listener, listenerExecutor);
    recipes.add(e);
    return e;
  }

  /**
   * A string value at a path, kept up to date locally.
   *
   * @param znode an absolute path under the namespace, e.g. {@code /settings/banner}
   * @return the watched value; closed with this client
   */
  public synchronized WatchedValue watch(String znode) {
    checkStarted();
    if (znode == null || !znode.startsWith("/") || znode.endsWith("/") || znode.contains("//")) {
      throw new IllegalArgumentException("a ZooKeeper path starts with '/' and has no empty parts: '" + znode + "'");
    }
    WatchedValue v = new WatchedValue(curator, znode, listenerExecutor);
    recipes.add(v);
    return v;
  }

  /** Closes the recipes made from this client, then the connection; removes health check and metrics. Idempotent. */
  @Override
  public synchronized void close() {
    State was = state.getAndSet(State.CLOSED);
    if (was == State.CLOSED) {
      return;
    }
    subscriptions.forEach(LayeredConfig.Subscription::close);
    for (int i = recipes.size() - 1; i >= 0; i--) {
      try {
        recipes.get(i).close();
      } catch (Exception e) {
        log.debug("closing a ZooKeeper recipe: {}", e.toString());
      }
    }
    healthChecks.unregister(name);
    if (was == State.STARTED) {
      curator.close();
    }
    listenerExecutor.shutdown();
    metrics.removeMatching((n, m) -> n.startsWith(name + "."));
  }

  /** Healthy while the connection is up. */
  private final class Health extends HealthCheck {
    @Override
    protected Result check() {
      ConnectionState s = connection.get();
      Duration since = Duration.between(connectionSince.get(), Instant.now());
      if (isConnected() && (s == ConnectionState.CONNECTED || s == ConnectionState.RECONNECTED)) {
        return Result.healthy("connected to " + connectString() + " (session 0x"
            + Long.toHexString(sessionId()) + ")");
      }
      return Result.unhealthy("ZooKeeper connection " + s.name().toLowerCase(java.util.Locale.ROOT) + " for "
          + since.toMillis() + " ms (ensemble " + connectString() + ")");
    }
  }

  private long sessionId() {
    try {
      return curator.getZookeeperClient().getZooKeeper().getSessionId();
    } catch (Exception e) {
      return 0;
    }
  }

  /** The ensemble as the configuration has it now; Curator asks it on each (re)connection. */
  private static final class LiveEnsemble implements EnsembleProvider {
    private volatile String connectString;

    LiveEnsemble(String connectString) {
      this.connectString = connectString;
    }

    @Override
    public void start() {}

    @Override
    public String getConnectionString() {
      return connectString;
    }

    @Override
    public void close() {}

    @Override
    public void setConnectionString(String connectString) {
      this.connectString = connectString;
    }

    @Override
    public boolean updateServerListEnabled() {
      return false;
    }
  }

  /** Builds a {@link ZooKeeperClient}. */
  public static final class Builder extends StoreClientBuilder<ZooKeeperClient, Builder> {
    private Builder() {
      super("zookeeper", ZooKeeperClient::new);
    }
  }

}
