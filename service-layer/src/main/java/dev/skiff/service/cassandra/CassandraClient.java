package dev.skiff.service.cassandra;

import dev.skiff.service.StoreClientBuilder;
import dev.skiff.service.StoreUnavailableAtStart;
import dev.skiff.service.internal.StallWatch;
import dev.skiff.service.internal.StoreLifecycle;
import com.codahale.metrics.Counter;
import com.codahale.metrics.Timer;
import com.codahale.metrics.health.HealthCheck;
import com.datastax.oss.driver.api.core.CqlSession;
import com.datastax.oss.driver.api.core.config.DefaultDriverOption;
import com.datastax.oss.driver.api.core.config.DriverConfigLoader;
import com.datastax.oss.driver.api.core.config.DriverOption;
import com.datastax.oss.driver.api.core.config.ProgrammaticDriverConfigLoaderBuilder;
import com.datastax.oss.driver.api.core.cql.AsyncResultSet;
import com.datastax.oss.driver.api.core.cql.BoundStatement;
import com.datastax.oss.driver.api.core.cql.PreparedStatement;
import com.datastax.oss.driver.api.core.cql.ResultSet;
import com.datastax.oss.driver.api.core.cql.Row;
import com.datastax.oss.driver.api.core.cql.SimpleStatement;
import com.datastax.oss.driver.api.core.metadata.Node;
import com.datastax.oss.driver.api.core.metadata.NodeState;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.config.Config;
import dev.skiff.platform.config.ConfigException;
import dev.skiff.platform.config.LayeredConfig;
import dev.skiff.platform.health.Priority;
import dev.skiff.service.health.Prioritized;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Cassandra client (Apache Cassandra Java driver 4) configured from the platform's config: one
 * session per keyspace, versioned schema {@link #migrate migrations} from CQL files, prepared
 * statements cached, consistency per query with a configured default, timeouts, a health check and a
 * timer per statement.
 *
 * <pre>{@code
 * try (CassandraClient cassandra = CassandraClient.builder()
 *     .config(layeredConfig)              // cassandra.hosts, cassandra.datacenter, ...; follows changes
 *     .metrics(metricRegistry)
 *     .healthChecks(healthCheckRegistry)
 *     .migrations("bookings", "cassandra/bookings")   // V1__create.cql, V2__... once each, on connecting
 *     .build()
 *     .start()) {
 *   CassandraSession s = cassandra.session("bookings");
 *   s.execute(INSERT, id, customer, pickup);
 * }
 * }</pre>
 *
 * <p><b>Lifecycle.</b> {@link #start()} connects (a control session without keyspace), runs the
 * builder's {@link Builder#migrations migrations}, and registers the health checks {@code NAME} (down:
 * no node answers) and {@code NAME.replicas} ({@link Prioritized} NOTIFY: a node of the ring is down, the
 * service is degraded), and
 * metrics {@code NAME.*} (NAME defaults to the config path, {@code cassandra}); every other operation
 * on a client not started (or closed) is refused with an IllegalStateException that says so. Sessions
 * of keyspaces open on first use. {@link #close()} closes every session and removes the health check
 * and metrics; idempotent.
 *
 * <p><b>Started while Cassandra is down.</b> {@link #start()} still succeeds: the client is unhealthy,
 * every query fails at once with UNAVAILABLE naming the hosts, and it tries to connect again every
 * 0.5 s to 5 s; on connecting it runs the builder's migrations, then serves. Unless told to require
 * Cassandra at start ({@link Builder#requiredAtStart} or {@code required-at-start}): then start waits
 * that long and, if no node answers, fails with {@link StoreUnavailableAtStart} (one line).
 *
 * <p><b>Failures.</b> When nodes go away, queries fail at once with UNAVAILABLE (or TIMEOUT) naming the
 * query, the health check turns unhealthy, and the driver reconnects by itself (every 0.5 s to 5 s unless
 * {@code driver.advanced.reconnection-policy.*} says otherwise): the same sessions work again when the
 * nodes are back. The client does not rely on that alone: every second it checks that each session
 * answers a query on {@code system.local}; when one does not while a node answers a plain CQL probe
 * (a fresh connection and a CQL OPTIONS request) for 10 s, longer than the driver's
 * reconnection takes, it rebuilds the sessions on the same settings (counted in {@code NAME.rebuilds};
 * a rebuild that does not help is tried again after 20 s, 40 s, ... up to 5 min, never more often; the
 * backoff starts again once every session answers).
 * <b>Bound:</b> the client is fully working again at most 15 s after a node answers again, however long
 * it was gone (usually 1 to 5 s: the driver's own reconnection).
 *
 * <p><b>Live changes.</b> Given a {@link LayeredConfig}: consistency and request timeout apply to the
 * next query; a change of hosts, datacenter, connect timeout or driver options opens new sessions on the
 * new settings and swaps them in (queries in flight on the old ones finish, then those close). A
 * keyspace missing on the new hosts does not stop the move: its queries answer NOT_FOUND until a
 * migration creates it. If the new hosts cannot be reached at all, the old sessions stay and the health
 * check says why. Threads: the driver's, named after the session, {@code skiff-NAME-KEYSPACE-io-N} and
 * so on, and {@code skiff-NAME-keeper}, which connects and checks. Thread-safe.
 */
public final class CassandraClient implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(CassandraClient.class);
  static final Pattern KEYSPACE = Pattern.compile("[A-Za-z0-9_]{1,48}");
  private static final String ADMIN = "";
  private static final String CHECK = "SELECT release_version FROM system.local";
  private static final Duration CHECK_TIMEOUT = Duration.ofSeconds(2);
  private static final Duration CONNECT_DELAY_MIN = Duration.ofMillis(500);
  private static final Duration CONNECT_DELAY_MAX = Duration.ofSeconds(5);
  /** How long a session may fail while a node answers before it counts as stalled: twice the driver's longest reconnection delay. */
  static final int STALL_GRACE_SECONDS = 10;
  private static final Duration STALL_GRACE = Duration.ofSeconds(STALL_GRACE_SECONDS);
  private static final Duration REBUILD_DELAY_MAX = Duration.ofMinutes(5);

  private final StoreLifecycle lifecycle;
  private final String name;
  private final Map<String, String> migrations;
  private final ClassLoader loader;
  private final Duration requiredAtStart;
  private final ConcurrentMap<String, CassandraSession> facades = new ConcurrentHashMap<>();
  private final ConcurrentMap<String, Timer> timers = new ConcurrentHashMap<>();
  private final Counter errors;
  private final Counter moves;
  private final StallWatch stall;
  private volatile CassandraSettings settings;
  private volatile Generation generation;
  private volatile String lastMoveError;
  /** Why the client is not connected (null once it is). */
  private volatile String notConnected;
  /** What the keeper saw last: a session failing while a node answers, or null. */
  private volatile String stallNote;
  // the keeper's own state (its thread only)
  private Duration connectDelay = CONNECT_DELAY_MIN;
  private volatile long nextConnectAt;
  private Generation watched;

  /** The sessions opened on one set of settings, and their prepared statements. */
  private static final class Generation {
    final CassandraSettings settings;
    /** True for the stand-in while not connected: every query fails at once. */
    final boolean offline;
    final ConcurrentMap<String, CqlSession> sessions = new ConcurrentHashMap<>();
    final ConcurrentMap<String, PreparedStatement> prepared = new ConcurrentHashMap<>();

    Generation(CassandraSettings settings, boolean offline) {
      this.settings = settings;
      this.offline = offline;
    }

    /**
     * Closes every session at once: each keeps its event loops for the driver's quiet period (2 s by
     * default) as it closes, so closing them one after another took that long per keyspace.
     *
     * @return completes when all are closed (exceptionally if one failed to)
     */
    CompletableFuture<Void> closeAsync() {
      return CompletableFuture.allOf(
          sessions.values().stream().map(s -> s.closeAsync().toCompletableFuture()).toArray(CompletableFuture[]::new));
    }
  }

  private CassandraClient(Builder b) {
    StoreClientBuilder.Setup setup = b.setup();
    this.lifecycle = new StoreLifecycle(CassandraClient.class, "Cassandra", setup, "skiff-" + setup.name() + "-keeper");
    this.name = setup.name();
    this.settings = CassandraSettings.from(setup.section());
    lifecycle.reportUnknownKeys(CassandraSettings.KEYS.unknownFromEnvironment(setup.section()));
    b.migrations.keySet().forEach(CassandraClient::checkKeyspace);
    this.migrations = Map.copyOf(b.migrations);
    this.loader = b.loader;
    this.requiredAtStart = setup.requiredAtStart(settings.requiredAtStart());
    this.errors = lifecycle.counter("errors");
    this.moves = lifecycle.counter("moves");
    this.stall = new StallWatch(STALL_GRACE, STALL_GRACE.multipliedBy(2), REBUILD_DELAY_MAX, lifecycle.counter("rebuilds"));
  }

  /** @return a builder */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Connects, runs the builder's migrations, and registers the health check and metrics. When no node
   * answers, the client starts anyway, unhealthy, and connects when one does, unless Cassandra is
   * required at start.
   *
   * @return this
   * @throws IllegalStateException if started before or closed
   * @throws StoreUnavailableAtStart when Cassandra is required at start and no node answered within the
   *     wait (the client stays unstarted: start may be called again)
   * @throws SkiffException what a migration throws (CONFLICT, INTERNAL) when the node answers (the
   *     client stays unstarted)
   */
  public synchronized CassandraClient start() {
    CassandraSettings s = settings;
    lifecycle.start(() -> generation = connectAtStart(s), new Health(), CassandraSettings::from, this::apply, this::keep);
    lifecycle.healthCheck("replicas", new Replicas());
    lifecycle.gauge("nodes.up", () -> upNodes(generation).size());
    lifecycle.gauge("prepared", () -> generation.prepared.size());
    if (generation.offline) {
      log.warn("Cassandra client '{}' started without Cassandra, connecting when {} answers: {}", name, s.hosts(), notConnected);
    } else {
      notConnected = null;
      log.info("Cassandra client '{}' connected to {} (datacenter {})", name, s.hosts(), s.datacenter());
    }
    return this;
  }

  /**
   * Connects as start does: tries until a node answers, for {@code requiredAtStart}; then, unless it is
   * zero, gives up; else returns the offline stand-in the keeper connects later.
   */
  private Generation connectAtStart(CassandraSettings s) {
    long deadline = System.nanoTime() + requiredAtStart.toNanos();
    Duration delay = CONNECT_DELAY_MIN;
    while (true) {
      try {
        return connect(s);
      } catch (SkiffException e) {
        if (!isOutage(e)) {
          throw e;
        }
        notConnected = oneLine(CassandraErrors.briefly(e));
        if (System.nanoTime() + delay.toNanos() >= deadline) {
          if (!requiredAtStart.isZero()) {
            throw new StoreUnavailableAtStart(
                "Cassandra '" + name + "' at " + s.hosts() + " (" + lifecycle.path() + ".hosts) is required at start and did not answer within "
                    + dev.skiff.platform.config.Durations.text(requiredAtStart) + ": " + notConnected);
          }
          nextConnectAt = System.nanoTime() + delay.toNanos();
          return new Generation(s, true);
        }
      }
      pause(delay);
      delay = longer(delay, CONNECT_DELAY_MAX);
    }
  }

  private static void pause(Duration d) {
    try {
      Thread.sleep(d.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new SkiffException(ErrorCode.UNAVAILABLE, "interrupted while waiting for Cassandra", e);
    }
  }

  private static Duration longer(Duration d, Duration max) {
    Duration twice = d.multipliedBy(2);
    return twice.compareTo(max) > 0 ? max : twice;
  }

  /** Whether a failure says Cassandra cannot be reached now (rather than that something is wrong). */
  private static boolean isOutage(SkiffException e) {
    return e.code() == ErrorCode.UNAVAILABLE || e.code() == ErrorCode.TIMEOUT;
  }

  private static String oneLine(String s) {
    String one = s.replaceAll("\\s+", " ").trim();
    return one.length() > 300 ? one.substring(0, 300) + "..." : one;
  }

  /** Opens the control session on these settings and runs the builder's migrations; closes what it opened if that fails. */
  private Generation connect(CassandraSettings s) {
    Generation g = new Generation(s, false);
    try {
      open(g, ADMIN);
      migrations.forEach((ks, folder) -> new Migrations(cql(g), s, ks, folder, loader).run());
      return g;
    } catch (RuntimeException e) {
      g.closeAsync();
      throw e;
    }
  }

  private Migrations.Cql cql(Generation g) {
    return (keyspace, cql, values) -> inKeyspace(g, keyspace, cql, values);
  }

  /** The keeper's tick: connects while not connected; otherwise checks the sessions and rebuilds stalled ones. */
  private void keep() {
    Generation g = generation;
    if (g.offline) {
      tryToConnect(g);
    } else {
      watch(g);
    }
  }

  private void tryToConnect(Generation offline) {
    if (System.nanoTime() < nextConnectAt) {
      return;
    }
    Generation g;
    try {
      g = connect(offline.settings);
    } catch (RuntimeException e) {
      notConnected = oneLine(e instanceof SkiffException se ? CassandraErrors.briefly(se) : e.toString());
      nextConnectAt = System.nanoTime() + connectDelay.toNanos();
      connectDelay = longer(connectDelay, CONNECT_DELAY_MAX);
      log.debug("Cassandra client '{}' still not connected: {}", name, notConnected);
      return;
    }
    synchronized (this) {
      if (!lifecycle.isStarted() || generation != offline) {
        g.closeAsync(); // closed meanwhile, or the settings changed: the next tick connects on the new ones
        return;
      }
      generation = g;
      notConnected = null;
      connectDelay = CONNECT_DELAY_MIN;
    }
    log.info("Cassandra client '{}' connected to {} (datacenter {})", name, g.settings.hosts(), g.settings.datacenter());
  }

  private void watch(Generation g) {
    if (g != watched) {
      watched = g; // new sessions (moved, rebuilt): how long the old ones failed does not count
      stall.forget();
    }
    List<String> failing = failures(g);
    if (failing.isEmpty()) {
      stall.clear();
      stallNote = null;
      return;
    }
    if (!CqlProbe.anyAnswers(g.settings.hosts(), g.settings.connectTimeout())) {
      stall.forget(); // Cassandra is away: reconnecting is the driver's work until it answers again
      stallNote = null;
      return;
    }
    long now = System.nanoTime();
    boolean rebuild = stall.stalled(now);
    stallNote = "Cassandra at " + g.settings.hosts() + " answers a plain probe but " + String.join("; ", failing)
        + " (for " + stall.stalledFor(now).toSeconds() + " s)";
    if (rebuild) {
      rebuild(g);
    }
  }

  /** @return what is wrong with each session that does not answer a query on system.local, if any */
  private static List<String> failures(Generation g) {
    List<String> failing = new ArrayList<>();
    for (Map.Entry<String, CqlSession> e : Map.copyOf(g.sessions).entrySet()) {
      try {
        e.getValue().execute(SimpleStatement.newInstance(CHECK).setTimeout(CHECK_TIMEOUT));
      } catch (RuntimeException x) {
        String which = e.getKey().isEmpty() ? "the control session" : "the session of keyspace " + e.getKey();
        failing.add(which + " does not answer: " + oneLine(String.valueOf(x.getMessage())));
      }
    }
    return failing;
  }

  /** Opens new sessions on the same settings for a generation whose sessions stalled, and swaps them in. */
  private synchronized void rebuild(Generation old) {
    if (!lifecycle.isStarted() || generation != old) {
      return;
    }
    log.warn("Cassandra client '{}' rebuilds its sessions: {}", name, stallNote);
    Generation g;
    try {
      g = openLike(old.settings, old.sessions.keySet());
    } catch (SkiffException e) {
      log.warn("Cassandra client '{}': the rebuild failed, the old sessions stay: {}", name, e.description());
      return;
    }
    generation = g;
    stall.rebuilt();
    stallNote = null;
    old.closeAsync();
  }

  /** A new generation on these settings with the control session and a session of each keyspace given that exists there. */
  private Generation openLike(CassandraSettings s, Set<String> keyspaces) {
    Generation g = new Generation(s, false);
    try {
      open(g, ADMIN);
      for (String ks : List.copyOf(keyspaces)) {
        try {
          open(g, ks);
        } catch (SkiffException e) {
          if (e.code() != ErrorCode.NOT_FOUND) {
            throw e;
          }
          // the keyspace is not there (yet): its queries say so until a migration creates it
          log.warn("Cassandra client '{}': keyspace '{}' does not exist on {}", name, ks, s.hosts());
        }
      }
      return g;
    } catch (SkiffException e) {
      g.closeAsync();
      throw e;
    }
  }

  private CqlSession open(Generation g, String keyspace) {
    CqlSession existing = g.sessions.get(keyspace);
    if (existing != null) {
      return existing;
    }
    if (g.offline) {
      throw new SkiffException(
          ErrorCode.UNAVAILABLE,
          "Cassandra '" + name + "' at " + g.settings.hosts() + " (" + lifecycle.path() + ".hosts) is not connected (trying again every 5 s at most): "
              + notConnected);
    }
    synchronized (g) {
      existing = g.sessions.get(keyspace);
      if (existing != null) {
        return existing;
      }
      CassandraSettings s = g.settings;
      ProgrammaticDriverConfigLoaderBuilder cfg =
          DriverConfigLoader.programmaticBuilder()
              .withString(DefaultDriverOption.SESSION_NAME, "skiff-" + name + (keyspace.isEmpty() ? "" : "-" + keyspace))
              .withDuration(DefaultDriverOption.REQUEST_TIMEOUT, s.requestTimeout())
              .withString(DefaultDriverOption.REQUEST_CONSISTENCY, s.consistency().name())
              .withDuration(DefaultDriverOption.CONNECTION_CONNECT_TIMEOUT, s.connectTimeout())
              .withDuration(DefaultDriverOption.CONNECTION_INIT_QUERY_TIMEOUT, s.connectTimeout())
              .withDuration(DefaultDriverOption.CONTROL_CONNECTION_TIMEOUT, s.connectTimeout())
              .withDuration(DefaultDriverOption.RECONNECTION_BASE_DELAY, Duration.ofMillis(500))
              .withDuration(DefaultDriverOption.RECONNECTION_MAX_DELAY, Duration.ofSeconds(5));
      for (Map.Entry<String, String> e : s.driver().entrySet()) {
        String optionPath = e.getKey();
        DriverOption option = () -> optionPath;
        cfg.withString(option, e.getValue());
      }
      var builder =
          CqlSession.builder()
              .withConfigLoader(cfg.build())
              .addContactPoints(s.hosts())
              .withLocalDatacenter(s.datacenter());
      if (!keyspace.isEmpty()) {
        builder.withKeyspace(keyspace);
      }
      String what = "Cassandra at " + s.hosts() + " (" + lifecycle.path() + ".hosts)"
          + (keyspace.isEmpty() ? "" : ", keyspace '" + keyspace + "'");
      CqlSession session;
      java.util.concurrent.CompletableFuture<CqlSession> opening = builder.buildAsync().toCompletableFuture();
      Duration limit = openLimit(s);
      try {
        session = opening.get(limit.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
      } catch (java.util.concurrent.TimeoutException e) {
        // the driver's start waits forever when a task of its own fails (a driver option it cannot use)
        errors.inc();
        opening.thenAccept(CqlSession::closeAsync);
        opening.cancel(true);
        throw new SkiffException(ErrorCode.UNAVAILABLE, what + " did not open within " + limit.toSeconds() + " s (the driver's"
            + " log says why: a " + lifecycle.path() + ".driver.* option it cannot use?)");
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        opening.thenAccept(CqlSession::closeAsync);
        throw new SkiffException(ErrorCode.UNAVAILABLE, what + ": interrupted while opening");
      } catch (java.util.concurrent.ExecutionException e) {
        errors.inc();
        Throwable cause = e.getCause();
        throw CassandraErrors.map(what + " cannot be opened", cause instanceof RuntimeException r ? r : new IllegalStateException(cause));
      }
      g.sessions.put(keyspace, session);
      return session;
    }
  }

  /**
   * How long opening a session may take before it is given up: the driver tries each contact point for at
   * most the connect timeout, then the control connection's queries take as long again; twice that, and
   * never less than 30 s.
   */
  private static Duration openLimit(CassandraSettings s) {
    Duration tries = s.connectTimeout().multipliedBy(2L * (s.hosts().size() + 1));
    return tries.compareTo(Duration.ofSeconds(30)) < 0 ? Duration.ofSeconds(30) : tries;
  }

  private synchronized void apply(CassandraSettings next) {
    if (!lifecycle.isStarted()) {
      return;
    }
    Generation old = generation;
    if (!old.settings.needsNewSessions(next)) {
      settings = next;
      lastMoveError = null; // back on what is in use (a failed move reverted): nothing is wrong any more
      return;
    }
    if (old.offline) {
      // not connected yet: the keeper's next attempt goes to the new hosts
      settings = next;
      generation = new Generation(next, true);
      nextConnectAt = 0;
      moves.inc();
      return;
    }
    log.info("Cassandra client '{}' moves from {} to {}", name, old.settings.hosts(), next.hosts());
    Generation g;
    try {
      g = openLike(next, old.sessions.keySet());
    } catch (SkiffException e) {
      lastMoveError = "the move to " + next.hosts() + " failed, still on " + old.settings.hosts() + ": " + e.description();
      log.warn("Cassandra client '{}': {}", name, lastMoveError);
      return;
    }
    settings = next;
    generation = g;
    lastMoveError = null;
    moves.inc();
    old.closeAsync();
  }
  /** @return the settings in force */
  public CassandraSettings settings() {
    return settings;
  }

  /**
   * The session of the configured default keyspace ({@code keyspace}).
   *
   * @return the session
   * @throws ConfigException when no keyspace is configured
   */
  public CassandraSession session() {
    return session(settings.keyspace().orElseThrow(() -> Config.empty().at(lifecycle.path()).invalid("keyspace", "is required for session()")));
  }

  /**
   * The session of a keyspace (opened on its first query; the keyspace must exist: see {@link #migrate}).
   *
   * @param keyspace the keyspace
   * @return the session
   */
  public CassandraSession session(String keyspace) {
    checkKeyspace(keyspace);
    lifecycle.checkStarted();
    return facades.computeIfAbsent(keyspace, ks -> new CassandraSession(this, ks));
  }

  /**
   * Brings a keyspace's schema up to date from CQL files on the classpath: creates the keyspace if it
   * is missing (replication {@code replication-factor} in the local datacenter), then applies, in
   * version order, each file {@code V<version>__<description>.cql} of {@code folder} not yet recorded
   * in the keyspace's {@code skiff_schema_migrations} table, and records it. Statements end with
   * {@code ;} at the end of a line; {@code --} starts a comment line. A file changed after it was
   * applied is refused (CONFLICT). Instances migrating at once take turns through a lightweight
   * transaction lock; write statements that are safe to repeat ({@code IF NOT EXISTS}).
   *
   * @param keyspace the keyspace
   * @param folder a classpath folder, e.g. {@code cassandra/bookings}
   * @return what was applied now and before
   * @throws SkiffException CONFLICT (a changed file), INTERNAL (a file that does not parse or run),
   *     UNAVAILABLE, TIMEOUT
   * @throws IllegalArgumentException when the folder or a file name is not as described
   */
  public MigrationReport migrate(String keyspace, String folder) {
    checkKeyspace(keyspace);
    lifecycle.checkStarted();
    Generation g = generation;
    return new Migrations(cql(g), g.settings, keyspace, folder, Thread.currentThread().getContextClassLoader()).run();
  }

  /** Runs CQL, unprepared, on a keyspace's session of a generation (or its control session for ""), for migrations. */
  private ResultSet inKeyspace(Generation g, String keyspace, String cql, Object... values) {
    CassandraSettings s = settings;
    SimpleStatement st =
        SimpleStatement.newInstance(cql, values).setTimeout(s.requestTimeout().multipliedBy(4)).setConsistencyLevel(
            s.consistency());
    try {
      return open(g, keyspace).execute(st);
    } catch (RuntimeException e) {
      errors.inc();
      throw CassandraErrors.map("Cassandra: " + abbreviate(cql), e);
    }
  }

  CqlSession driverSession(String keyspace) {
    lifecycle.checkStarted();
    return open(generation, keyspace);
  }

  private static void checkKeyspace(String keyspace) {
    if (keyspace == null || !KEYSPACE.matcher(keyspace).matches()) {
      throw new IllegalArgumentException("a keyspace name is 1 to 48 letters, digits or '_': '" + keyspace + "'");
    }
  }

  BoundStatement bind(String keyspace, Query q, Object... values) {
    Generation g = generation;
    CqlSession session = open(g, keyspace);
    PreparedStatement ps;
    try {
      ps = g.prepared.computeIfAbsent(keyspace + "\u0000" + q.cql(), k -> session.prepare(q.cql()));
    } catch (RuntimeException e) {
      errors.inc();
      throw CassandraErrors.map("query '" + q.name() + "' (" + abbreviate(q.cql()) + ") cannot be prepared", e);
    }
    CassandraSettings s = settings;
    try {
      return ps.bind(values)
          .setConsistencyLevel(q.consistency().orElse(s.consistencyOf(keyspace)))
          .setTimeout(q.timeout().orElse(s.requestTimeout()))
          .setIdempotent(q.isIdempotent());
    } catch (RuntimeException e) {
      errors.inc();
      throw CassandraErrors.map("query '" + q.name() + "' cannot take the values given", e);
    }
  }

  ResultSet execute(String keyspace, Query q, Object... values) {
    BoundStatement bound = bind(keyspace, q, values);
    Timer.Context t = timer(keyspace, q).time();
    try {
      return open(generation, keyspace).execute(bound);
    } catch (RuntimeException e) {
      errors.inc();
      throw CassandraErrors.map("query '" + q.name() + "' on " + keyspace, e);
    } finally {
      t.stop();
    }
  }

  CompletionStage<AsyncResultSet> executeAsync(String keyspace, Query q, BoundStatement bound) {
    Timer.Context t = timer(keyspace, q).time();
    return open(generation, keyspace)
        .executeAsync(bound)
        .handle(
            (rs, err) -> {
              t.stop();
              if (err != null) {
                errors.inc();
                Throwable cause = CassandraSession.unwrap(err);
                throw cause instanceof RuntimeException re
                    ? CassandraErrors.map("query '" + q.name() + "' on " + keyspace, re)
                    : new SkiffException(ErrorCode.INTERNAL, "query '" + q.name() + "': " + cause, cause);
              }
              return rs;
            });
  }

  private Timer timer(String keyspace, Query q) {
    return timers.computeIfAbsent(keyspace + "." + q.name(), lifecycle::timer);
  }

  static String abbreviate(String cql) {
    String one = cql.replaceAll("\\s+", " ").trim();
    return one.length() > 120 ? one.substring(0, 120) + "..." : one;
  }

  private static List<Node> upNodes(Generation g) {
    CqlSession admin = g == null ? null : g.sessions.get(ADMIN);
    if (admin == null) {
      return List.of();
    }
    Collection<Node> nodes = admin.getMetadata().getNodes().values();
    return nodes.stream().filter(n -> n.getState() == NodeState.UP).toList();
  }

  /**
   * Closes every session, all at once, and removes the health check and metrics; returns when they are
   * closed. Idempotent.
   */
  @Override
  public synchronized void close() {
    lifecycle.close(started -> {
      if (!started) {
        return;
      }
      try {
        generation.closeAsync().join();
      } catch (RuntimeException e) {
        log.debug("closing a Cassandra session: {}", e.toString());
      }
    });
  }

  /**
   * Healthy when connected, a node is up, and every session answers a query on system.local within
   * 2 s.
   */
  private final class Health extends HealthCheck {
    @Override
    protected Result check() {
      Generation g = generation;
      String moveNote = lastMoveError == null ? "" : "; " + lastMoveError;
      if (g.offline) {
        return Result.unhealthy(
            "not connected to Cassandra at " + g.settings.hosts() + " (" + lifecycle.path() + ".hosts), trying again every 5 s at most: "
                + notConnected + moveNote);
      }
      List<Node> up = upNodes(g);
      int known = g.sessions.get(ADMIN).getMetadata().getNodes().size();
      if (up.isEmpty()) {
        return Result.unhealthy("no Cassandra node is up (" + known + " known, contact points " + g.settings.hosts() + ")" + moveNote);
      }
      String version;
      try {
        Row r = g.sessions.get(ADMIN).execute(SimpleStatement.newInstance(CHECK).setTimeout(CHECK_TIMEOUT)).one();
        version = r == null ? "?" : r.getString(0);
      } catch (RuntimeException e) {
        return Result.unhealthy("Cassandra does not answer: " + e.getMessage() + moveNote);
      }
      List<String> failing = failures(g);
      if (!failing.isEmpty()) {
        String stall = stallNote;
        return Result.unhealthy(String.join("; ", failing) + (stall == null ? "" : "; " + stall + ": rebuilt after " + STALL_GRACE_SECONDS + " s") + moveNote);
      }
      String text = up.size() + "/" + known + " Cassandra nodes up, release " + version + moveNote;
      return lastMoveError == null ? Result.healthy(text) : Result.unhealthy(text);
    }
  }

  /**
   * The {@code NAME.replicas} check, of priority {@link Priority#NOTIFY}: healthy when every node of the
   * ring the driver knows is up; failing while some are down, which with the main check still healthy
   * (queries succeed) means degraded, not down: a replication factor and consistency that tolerate the
   * loss keep the service working (docs/operations.md).
   */
  private final class Replicas extends HealthCheck implements Prioritized {
    @Override
    protected Result check() {
      Generation g = generation;
      if (g.offline) {
        return Result.unhealthy("not connected to Cassandra at " + g.settings.hosts());
      }
      Collection<Node> nodes = g.sessions.get(ADMIN).getMetadata().getNodes().values();
      List<String> down = nodes.stream().filter(n -> n.getState() != NodeState.UP).map(n -> n.getEndPoint().toString()).sorted().toList();
      String text = (nodes.size() - down.size()) + "/" + nodes.size() + " Cassandra nodes up";
      return down.isEmpty() ? Result.healthy(text) : Result.unhealthy(text + "; down: " + String.join(", ", down));
    }

    @Override
    public Priority priority() {
      return Priority.NOTIFY;
    }
  }

  /** Builds a {@link CassandraClient}. */
  public static final class Builder extends StoreClientBuilder<CassandraClient, Builder> {
    private final Map<String, String> migrations = new LinkedHashMap<>();
    private ClassLoader loader;

    private Builder() {
      super("cassandra", CassandraClient::new);
    }

    /**
     * Migrations the client runs, as {@link CassandraClient#migrate} does, each time it connects: in
     * {@link CassandraClient#start()} when Cassandra answers then, or later when it appears. Until they
     * have run the client counts as not connected (its queries answer UNAVAILABLE). Files are read with
     * this thread's context class loader.
     *
     * @param keyspace the keyspace
     * @param folder a classpath folder of {@code V<version>__<description>.cql} files
     * @return this
     */
    public Builder migrations(String keyspace, String folder) {
      // checked by build(), after the settings: a keyspace taken from them is refused naming its key
      migrations.put(Objects.requireNonNull(keyspace, "keyspace"), Objects.requireNonNull(folder, "folder"));
      loader = Thread.currentThread().getContextClassLoader();
      return this;
    }
  }
}
