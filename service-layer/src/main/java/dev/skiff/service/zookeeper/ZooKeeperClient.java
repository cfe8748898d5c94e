package dev.skiff.service.zookeeper;

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
import dev.skiff.platform.internal.Threads;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.apache.curator.RetryPolicy;
import org.apache.curator.RetrySleeper;
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
 *     .start()) {                            // waits up to zookeeper.connection-timeout for a connection
 *   try (DistributedLock.Lease lease = zk.lock("report").acquire(Duration.ofSeconds(5))) { ... }
 * }
 * }</pre>
 *
 * <p><b>Lifecycle.</b> {@link #start()} starts connecting, registers the health check {@code NAME} and
 * metrics {@code NAME.*} (NAME defaults to the config path, {@code zookeeper}), and waits up to
 * {@code connection-timeout} for a first connection; it returns either way. Started while ZooKeeper is
 * down, the client is unhealthy, its operations fail fast, and it connects when ZooKeeper appears.
 * A service that cannot run without ZooKeeper says so with {@link Builder#requiredAtStart} (or
 * {@code required-at-start}): start then waits that long and throws {@link StoreUnavailableAtStart}, one
 * line, if no server answered. The recipes need a started client. {@link #close()} closes every recipe
 * made from this client, then the connection; idempotent.
 *
 * <p><b>Health.</b> Healthy while connected; unhealthy while not, in a sentence saying for how long and
 * whether the session was lost (then locks and leadership held here were released).
 *
 * <p><b>Outages.</b> While ZooKeeper cannot be reached, a lock's acquire and a watched value's set fail
 * at once with UNAVAILABLE naming ZooKeeper and its hosts; one running when the connection drops ends
 * within its budget (a lock: its timeout plus {@code connection-timeout}; a set: {@code connection-timeout})
 * with UNAVAILABLE. ZooKeeper's client reconnects by itself; after an outage longer than the session
 * timeout Curator starts a new session, and leader elections, watched values and
 * {@code ZooKeeperConfigSource}s re-establish themselves on it (a lease taken before reports
 * {@code isValid() == false}). The client does not rely on that alone: every second a watchdog looks
 * at the connection, and when ZooKeeper answers a plain probe ({@code srvr}, in ZooKeeper's default
 * four-letter-word whitelist) for 5 s while the client stays disconnected (ZooKeeper's own connection
 * attempt can sit for a whole session timeout on a server that accepted it while starting), it makes a
 * new connection, a new session, counted in {@code NAME.rebuilds}; a rebuild that did not help is tried
 * again after 10 s, doubling up to 5 min. <b>Bound:</b> fully working at most 10 s after ZooKeeper
 * answers again, however long it was gone (usually 1 to 3 s).
 *
 * <p><b>Live changes.</b> Given a {@link LayeredConfig}, a change of {@code hosts} moves the client to
 * a new session on the new ensemble without a restart (ephemeral nodes, so locks and leadership, do not
 * move with it: recipes re-acquire as after a session loss). Threads: Curator's, named
 * {@code skiff-zookeeper-NAME-N}, ZooKeeper's own I/O threads, {@code skiff-zookeeper-watchdog-NAME},
 * {@code skiff-zookeeper-notify-NAME-1} (Curator's notifications to recipes), and
 * {@code skiff-zookeeper-deadlines-NAME-1}, which ends operations at their budget; all end with
 * {@link #close()}.
 */
public final class ZooKeeperClient implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ZooKeeperClient.class);
  /** Set while a caller's operation runs on its thread (see {@link #failFast}). */
  private static final ThreadLocal<Boolean> FOREGROUND = new ThreadLocal<>();
  /** How long the ensemble must answer a probe while the client stays disconnected before a rebuild. */
  static final Duration STALL = Duration.ofSeconds(5);
  private static final Duration FIRST_BACKOFF = Duration.ofSeconds(10);
  private static final Duration MAX_BACKOFF = Duration.ofMinutes(5);

  private final StoreLifecycle lifecycle;
  private final String name;
  private final ZooKeeperSettings settings;
  private final LiveEnsemble ensemble;
  private final CuratorFramework curator;
  private final ExecutorService listenerExecutor;
  /** Curator's "run safe" notifications (recipes' listeners): Curator's own executor for them is never shut down. */
  private final ExecutorService runSafe;
  private final ScheduledThreadPoolExecutor deadlines;
  private final Duration requiredAtStart;
  private final AtomicReference<ConnectionState> connection = new AtomicReference<>(ConnectionState.LOST);
  private final AtomicReference<Instant> connectionSince = new AtomicReference<>(Instant.now());
  private final AtomicLong lossEpoch = new AtomicLong();
  private volatile boolean everConnected;
  private final List<AutoCloseable> recipes = new ArrayList<>();
  private final Counter suspended;
  private final Counter lost;
  private final Counter reconnected;
  private final StallWatch stall;
  private final Timer lockAcquire;
  private final LockNodes lockNodes;

  private ZooKeeperClient(Builder b) {
    StoreClientBuilder.Setup setup = b.setup();
    this.lifecycle = new StoreLifecycle(ZooKeeperClient.class, "ZooKeeper", setup, "skiff-zookeeper-watchdog-" + setup.name());
    this.name = setup.name();
    this.settings = ZooKeeperSettings.from(setup.section());
    lifecycle.reportUnknownKeys(ZooKeeperSettings.KEYS.unknownFromEnvironment(setup.section()));
    this.requiredAtStart = setup.requiredAtStart(settings.requiredAtStart());
    this.ensemble = new LiveEnsemble(settings.connectString());
    this.runSafe = Executors.newSingleThreadExecutor(Threads.named("skiff-zookeeper-notify-" + name));
    CuratorFrameworkFactory.Builder cb =
        CuratorFrameworkFactory.builder()
            .ensembleProvider(ensemble)
            .sessionTimeoutMs((int) settings.sessionTimeout().toMillis())
            .connectionTimeoutMs((int) settings.connectionTimeout().toMillis())
            .retryPolicy(new FailFast(new ExponentialBackoffRetry((int) settings.retryBase().toMillis(), settings.retries(), 5_000)))
            .threadFactory(Threads.named("skiff-zookeeper-" + name))
            .runSafeService(runSafe);
    if (!settings.namespace().isEmpty()) {
      cb.namespace(settings.namespace());
    }
    this.curator = cb.build();
    this.listenerExecutor =
        Executors.newSingleThreadExecutor(Threads.named("skiff-zookeeper-listeners-" + name));
    this.deadlines = new ScheduledThreadPoolExecutor(1, Threads.named("skiff-zookeeper-deadlines-" + name));
    deadlines.setRemoveOnCancelPolicy(true);
    this.suspended = lifecycle.counter("connection.suspended");
    this.lost = lifecycle.counter("connection.lost");
    this.reconnected = lifecycle.counter("connection.reconnected");
    this.stall = new StallWatch(STALL, FIRST_BACKOFF, MAX_BACKOFF, lifecycle.counter("rebuilds"));
    this.lockAcquire = lifecycle.timer("lock.acquire");
    this.lockNodes = new LockNodes(curator, this::failFastOnce, lifecycle.counter("lock.orphans"));
  }

  /** @return a builder */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Starts connecting and registers the health check and metrics. Waits up to {@code connection-timeout}
   * for a first connection, then returns whether or not ZooKeeper answered: a client started while
   * ZooKeeper is down is unhealthy, fails its operations fast with UNAVAILABLE, and connects when
   * ZooKeeper appears. Unless ZooKeeper is {@link Builder#requiredAtStart required at start}: then
   * start waits that long instead and, if no server answered, closes the client and throws.
   *
   * @return this
   * @throws IllegalStateException if started before or closed
   * @throws StoreUnavailableAtStart when ZooKeeper is required at start and did not answer in time (a
   *     one-line message naming the hosts)
   */
  public synchronized ZooKeeperClient start() {
    lifecycle.start(() -> {
      curator.getConnectionStateListenable().addListener((c, s) -> onState(s), listenerExecutor);
      curator.start();
    }, new Health(), ZooKeeperSettings::from, this::moveTo, this::watch);
    lifecycle.gauge("connected", () -> isConnected() ? 1 : 0);
    Duration wait = requiredAtStart.isZero() ? settings.connectionTimeout() : requiredAtStart;
    boolean connected;
    try {
      connected = curator.blockUntilConnected((int) wait.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      connected = false;
    }
    if (connected) {
      connection.compareAndSet(ConnectionState.LOST, ConnectionState.CONNECTED);
      everConnected = true;
      log.info("ZooKeeper client '{}' connected to {} (namespace '{}')", name, settings.connectString(), settings.namespace());
    } else if (!requiredAtStart.isZero()) {
      close();
      throw lifecycle.unavailableAtStart(settings.connectString(), wait);
    } else {
      log.warn("ZooKeeper client '{}': no answer from {} ({}.hosts) within {}; started anyway, unhealthy, and connects when it answers",
          name, settings.connectString(), lifecycle.path(), wait);
    }
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
      case RECONNECTED -> {
        reconnected.inc();
        everConnected = true;
        lockNodes.reconnected();
      }
      case CONNECTED -> everConnected = true;
      default -> {}
    }
    if (s != ConnectionState.CONNECTED) {
      log.info("ZooKeeper client '{}': connection {}", name, s);
    }
  }

  /**
   * The watchdog, every second: when the ensemble answers a plain probe ({@code srvr}) for {@link #STALL}
   * while the client stays disconnected, ZooKeeper's own reconnection has stalled; the client then
   * makes a new connection (a new session), counted in {@code NAME.rebuilds}; a rebuild that did not
   * help is tried again after 10 s, doubling up to 5 min (the backoff starts again once connected or
   * once the ensemble no longer answers).
   */
  private void watch() throws Exception {
    if (curator.getZookeeperClient().isConnected() || !ensembleAnswers()) {
      stall.clear();
      return;
    }
    long now = System.nanoTime();
    if (!stall.stalled(now)) {
      return;
    }
    log.warn("ZooKeeper client '{}': {} answers, but the client has not reconnected in {} s; rebuilding its connection (a new session)",
        name, connectString(), stall.stalledFor(now).toSeconds());
    stall.rebuilt();
    lossEpoch.incrementAndGet();
    curator.getZookeeperClient().reset();
  }

  /** @return whether a server of the ensemble answers {@code srvr} as serving, on a connection of its own */
  private boolean ensembleAnswers() {
    for (String hostPort : connectString().split(",")) {
      int colon = hostPort.lastIndexOf(':');
      try (Socket socket = new Socket()) {
        socket.connect(new InetSocketAddress(hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1))), 1000);
        socket.setSoTimeout(1000);
        OutputStream out = socket.getOutputStream();
        out.write("srvr".getBytes(StandardCharsets.US_ASCII));
        out.flush();
        InputStream in = socket.getInputStream();
        if (new String(in.readNBytes(17), StandardCharsets.US_ASCII).equals("Zookeeper version")) {
          return true;
        }
      } catch (IOException | RuntimeException e) {
        // this one does not answer: try the next
      }
    }
    return false;
  }

  /**
   * Fails fast when ZooKeeper cannot be reached now, rather than waiting for it.
   *
   * @param what what could not be done, e.g. {@code could not take lock 'x'}
   * @throws SkiffException UNAVAILABLE naming ZooKeeper and how long it has been unreachable
   */
  void checkAvailable(String what) {
    lifecycle.checkStarted();
    if (!curator.getZookeeperClient().isConnected()) {
      throw new SkiffException(ErrorCode.UNAVAILABLE, what + ": " + unavailable());
    }
  }

  private String unavailable() {
    ConnectionState s = connection.get();
    long seconds = Duration.between(connectionSince.get(), Instant.now()).toSeconds();
    String why = !everConnected ? "not connected since start; connecting" : switch (s) {
      case LOST -> "its session was lost (what it held, locks and leadership, was released); reconnecting";
      case SUSPENDED -> "connection suspended; reconnecting";
      default -> "not connected; reconnecting";
    };
    // the time it began, not only how long: a health report is read a while after the check ran
    return "ZooKeeper '" + name + "' at " + connectString() + " is unreachable since "
        + connectionSince.get().truncatedTo(java.time.temporal.ChronoUnit.SECONDS) + " (" + seconds + " s at this check; " + why + ")";
  }

  private void moveTo(ZooKeeperSettings next) {
    String cs = next.connectString();
    if (cs.equals(ensemble.getConnectionString()) || !lifecycle.isStarted()) {
      return;
    }
    log.info("ZooKeeper client '{}' moves from {} to {}", name, ensemble.getConnectionString(), cs);
    ensemble.setConnectionString(cs);
    // A new session on the new ensemble (the old one is closed): what it held is gone, leadership included
    // (LeaderElection.isLeader), and its time unreachable counts from now.
    lossEpoch.incrementAndGet();
    connectionSince.set(Instant.now());
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

  /** @return how long an operation waits for the connection ({@code connection-timeout}) */
  Duration connectionTimeout() {
    return settings.connectionTimeout();
  }

  /** @return whether the connection is up now */
  public boolean isConnected() {
    return lifecycle.isStarted() && curator.getZookeeperClient().isConnected();
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

  /** @throws IllegalStateException unless this client is started and not closed, saying which */
  void checkStarted() {
    lifecycle.checkStarted();
  }

  /**
   * @param what what is written, for the message
   * @param znode the path under the namespace
   * @param data the data
   * @throws IllegalArgumentException naming the limit when a request with them would not fit (see {@link Znodes})
   */
  void checkFits(String what, String znode, byte[] data) {
    Znodes.checkFits(what, settings.namespace(), znode, data);
  }

  /**
   * A distributed lock (under {@code /locks/NAME} in the namespace).
   *
   * @param lockName the lock's name: letters, digits, {@code .}, {@code _} or {@code -}, not {@code .} or {@code ..}
   * @return the lock
   * @throws IllegalArgumentException for a name that is not that
   */
  public DistributedLock lock(String lockName) {
    lifecycle.checkStarted();
    Znodes.checkName("lock name", lockName);
    checkFits("the lock name '" + lockName + "'", "/locks/" + lockName, new byte[0]);
    return new DistributedLock(this, lockName, lockAcquire, lockNodes);
  }

  /**
   * A participant in a leader election (under {@code /leaders/NAME}); call {@code start()} on it.
   *
   * @param electionName the election's name: letters, digits, {@code .}, {@code _} or {@code -}, not {@code .} or {@code ..}
   * @param participantId this participant's id, e.g. the instance id (stored in ZooKeeper: it must fit a
   *     request, see {@link WatchedValue#set})
   * @param listener told {@code true} on becoming leader and {@code false} on losing leadership
   * @return the participant, not started; closed with this client
   * @throws IllegalArgumentException for a name that is not that, or an id too large for ZooKeeper
   */
  public synchronized LeaderElection leaderElection(String electionName, String participantId, Consumer<Boolean> listener) {
    lifecycle.checkStarted();
    Znodes.checkName("election name", electionName);
    checkFits("the participant id of election '" + electionName + "'", "/leaders/" + electionName,
        Objects.requireNonNull(participantId, "participantId").getBytes(StandardCharsets.UTF_8));
    LeaderElection e = new LeaderElection(this, electionName, participantId, listener, listenerExecutor);
    recipes.add(e);
    return e;
  }

  /**
   * A string value at a path, kept up to date locally.
   *
   * @param znode an absolute path under the namespace, e.g. {@code /settings/banner}: no empty, {@code .}
   *     or {@code ..} parts
   * @return the watched value; closed with this client
   * @throws IllegalArgumentException for a path that is not that
   */
  public synchronized WatchedValue watch(String znode) {
    lifecycle.checkStarted();
    Znodes.checkPath(znode);
    WatchedValue v = new WatchedValue(this, znode, listenerExecutor);
    recipes.add(v);
    return v;
  }

  /** Closes the recipes made from this client, then the connection; removes health check and metrics. Idempotent. */
  @Override
  public synchronized void close() {
    lifecycle.close(started -> {
      for (int i = recipes.size() - 1; i >= 0; i--) {
        try {
          recipes.get(i).close();
        } catch (Exception e) {
          log.debug("closing a ZooKeeper recipe: {}", e.toString());
        }
      }
      deadlines.shutdownNow();
      if (started) {
        curator.close();
      }
      listenerExecutor.shutdown();
      runSafe.shutdown();
    });
  }

  /** Healthy while the connection is up. */
  private final class Health extends HealthCheck {
    @Override
    protected Result check() {
      long rebuilt = stall.rebuilds();
      String rebuiltNote = rebuilt == 0 ? "" : "; connection rebuilt " + rebuilt + " times";
      if (isConnected()) {
        return Result.healthy("connected to " + connectString() + " (session 0x" + Long.toHexString(sessionId()) + ")" + rebuiltNote);
      }
      return Result.unhealthy(unavailable() + rebuiltNote);
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

  /**
   * Runs an operation of a caller (a lock, a set): at once UNAVAILABLE when ZooKeeper is known to be
   * unreachable; else retried only while the connection is up, and ended at {@code budget} (its thread
   * is interrupted then) with UNAVAILABLE, however Curator waits inside.
   *
   * @param what what could not be done, e.g. {@code could not take lock 'x'}
   * @param budget how long it may take at most
   * @param op the operation
   * @param <T> its result
   * @return its result
   * @throws SkiffException UNAVAILABLE when ZooKeeper is unreachable or did not answer within the budget
   * @throws Exception what the operation throws otherwise
   */
  <T> T failFast(String what, Duration budget, Callable<T> op) throws Exception {
    checkAvailable(what);
    Thread caller = Thread.currentThread();
    Deadline deadline = new Deadline();
    ScheduledFuture<?> timer = deadlines.schedule(() -> deadline.fire(caller), budget.toMillis(), TimeUnit.MILLISECONDS);
    FOREGROUND.set(Boolean.TRUE);
    try {
      return op.call();
    } catch (Exception e) {
      if (deadline.fired()) {
        throw new SkiffException(ErrorCode.UNAVAILABLE, what + ": ZooKeeper '" + name + "' at " + connectString()
            + " did not answer within " + budget.toMillis() + " ms (" + connection.get().name().toLowerCase(java.util.Locale.ROOT) + ")", e);
      }
      throw e;
    } finally {
      FOREGROUND.remove();
      timer.cancel(false);
      deadline.end();
    }
  }

  /** One operation of a lock sweep: {@link #failFast} with {@code connection-timeout} as its budget. */
  private <T> T failFastOnce(String what, Callable<T> op) throws Exception {
    return failFast(what, settings.connectionTimeout(), op);
  }

  /** The end of a caller's operation: interrupts its thread once, unless it ended first. */
  private static final class Deadline {
    private boolean ended;
    private boolean fired;

    synchronized void fire(Thread caller) {
      if (!ended) {
        fired = true;
        caller.interrupt();
      }
    }

    synchronized boolean fired() {
      return fired;
    }

    /** Called on the caller's thread when the operation ended: clears the interrupt if it was ours. */
    synchronized void end() {
      ended = true;
      if (fired) {
        Thread.interrupted();
      }
    }
  }

  /**
   * The retry policy: operations that callers wait for ({@link #failFast}) are not retried while the
   * connection is down; Curator's own background operations (recipes) retry as configured, as they
   * must (some re-queue themselves until they succeed, and rely on the retries' waits).
   */
  private final class FailFast implements RetryPolicy {
    private final RetryPolicy retries;

    FailFast(RetryPolicy retries) {
      this.retries = retries;
    }

    @Override
    public boolean allowRetry(int retryCount, long elapsedTimeMs, RetrySleeper sleeper) {
      return (FOREGROUND.get() == null || curator.getZookeeperClient().isConnected())
          && retries.allowRetry(retryCount, elapsedTimeMs, sleeper);
    }

    @Override
    public boolean allowRetry(Throwable exception) {
      return retries.allowRetry(exception);
    }
  }

  /** Builds a {@link ZooKeeperClient}. */
  public static final class Builder extends StoreClientBuilder<ZooKeeperClient, Builder> {
    private Builder() {
      super("zookeeper", ZooKeeperClient::new);
    }
  }

}
