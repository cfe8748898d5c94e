package dev.skiff.service.cassandra;

import dev.skiff.service.StoreClientBuilder;
import com.codahale.metrics.Counter;
import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.Timer;
import com.codahale.metrics.health.HealthCheck;
import com.codahale.metrics.health.HealthCheckRegistry;
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
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicReference;
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
 *     .build()
 *     .start()) {
 *   cassandra.migrate("bookings", "cassandra/bookings");   // V1__create.cql, V2__... once each
 *   CassandraSession s = cassandra.session("bookings");
 *   s.execute(INSERT, id, customer, pickup);
 * }
 * }</pre>
 *
 * <p><b>Lifecycle.</b> {@link #start()} connects (a control session without keyspace) and registers
 * the health check {@code NAME} and metrics {@code NAME.*} (NAME defaults to the config path,
 * {@code cassandra}); every other operation on a client not started (or closed) is refused with an
 * IllegalStateException that says so. Sessions of keyspaces open on first use. {@link #close()} closes every session and removes
 * the health check and metrics; idempotent.
 *
 * <p><b>Failures.</b> When nodes go away, queries fail with UNAVAILABLE or TIMEOUT naming the query,
 * the health check turns unhealthy, and the driver reconnects by itself (every 0.5 s to 5 s unless
 * {@code driver.advanced.reconnection-policy.*} says otherwise): the same sessions work again when the
 * nodes are back.
 *
 * <p><b>Live changes.</b> Given a {@link LayeredConfig}: consistency and request timeout apply to the
 * next query; a change of hosts, datacenter, connect timeout or driver options opens new sessions on the
 * new settings and swaps them in (queries in flight on the old ones finish, then those close). A
 * keyspace missing on the new hosts does not stop the move: its queries answer NOT_FOUND until a
 * migration creates it. If the new hosts cannot be reached at all, the old sessions stay and the health
 * check says why. Threads: the driver's, named after
 * the session, {@code skiff-NAME-KEYSPACE-io-N} and so on. Thread-safe.
 */
public final class CassandraClient implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(CassandraClient.class);
  static final Pattern KEYSPACE = Pattern.compile("[A-Za-z0-9_]{1,48}");
  private static final String ADMIN = "";

  private enum State { NEW, STARTED, CLOSED }

  private final StoreClientBuilder.Setup setup;
  private final String name;
  private final MetricRegistry metrics;
  private final HealthCheckRegistry healthChecks;
  private final AtomicReference<State> state = new AtomicReference<>(State.NEW);
  private final List<LayeredConfig.Subscription> subscriptions = new ArrayList<>();
  private final ConcurrentMap<String, CassandraSession> facades = new ConcurrentHashMap<>();
  private final ConcurrentMap<String, Timer> timers = new ConcurrentHashMap<>();
  private final Counter errors;
  private final Counter moves;
  private volatile CassandraSettings settings;
  private volatile Generation generation;
  private volatile String lastMoveError;

  /** The sessions opened on one set of settings, and their prepared statements. */
  private static final class Generation {
    final CassandraSettings settings;
    final ConcurrentMap<String, CqlSession> sessions = new ConcurrentHashMap<>();
    final ConcurrentMap<String, PreparedStatement> prepared = new ConcurrentHashMap<>();

    Generation(CassandraSettings settings) {
      this.settings = settings;
    }

    void closeAsync() {
      sessions.values().forEach(CqlSession::closeAsync);
    }
  }

  private CassandraClient(Builder b) {
    StoreClientBuilder.Setup setup = b.setup();
    this.setup = setup;
    this.name = setup.name();
    this.metrics = setup.metrics();
    this.healthChecks = setup.healthChecks();
    this.settings = CassandraSettings.from(setup.section());
    this.errors = metrics.counter(name + ".errors");
    this.moves = metrics.counter(name + ".moves");
  }

  /** @return a builder */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Connects and registers the health check and metrics.
   *
   * @return this
   * @throws IllegalStateException if started before or closed
   * @throws SkiffException UNAVAILABLE, naming the hosts, when no node can be reached (the client stays
   *     unstarted: start may be called again)
   */
  public synchronized CassandraClient start() {
    if (state.get() != State.NEW) {
      throw new IllegalStateException("Cassandra client '" + name + "' was already started");
    }
    Generation g = new Generation(settings);
    open(g, ADMIN);
    generation = g;
    state.set(State.STARTED);
    metrics.gauge(name + ".nodes.up", () -> () -> upNodes(generation).size());
    metrics.gauge(name + ".prepared", () -> () -> generation.prepared.size());
    healthChecks.register(name, new Health());
    subscriptions.addAll(setup.follow(CassandraSettings::from, this::apply));
    log.info("Cassandra client '{}' connected to {} (datacenter {})", name, settings.hosts(), settings.datacenter());
    return this;
  }

  private void ensureStarted() {
    State s = state.get();
    if (s != State.STARTED) {
      throw new IllegalStateException(
          "Cassandra client '" + name + "' is " + (s == State.NEW ? "not started: call start() first" : "closed"));
    }
  }

  private CqlSession open(Generation g, String keyspace) {
    CqlSession existing = g.sessions.get(keyspace);
    if (existing != null) {
      return existing;
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
      CqlSession session;
      try {
        session = builder.build();
      } catch (RuntimeException e) {
        errors.inc();
        throw CassandraErrors.map(
            "Cassandra at " + s.hosts() + " (" + setup.path() + ".hosts)"
                + (keyspace.isEmpty() ? "" : ", keyspace '" + keyspace + "'") + " cannot be opened",
            e);
      }
      g.sessions.put(keyspace, session);
      return session;
    }
  }

  private synchronized void apply(CassandraSettings next) {
    if (state.get() != State.STARTED) {
      return;
    }
    Generation old = generation;
    if (!old.settings.needsNewSessions(next)) {
      settings = next;
      return;
    }
    log.info("Cassandra client '{}' moves from {} to {}", name, old.settings.hosts(), next.hosts());
    Generation g = new Generation(next);
    try {
      open(g, ADMIN);
      for (String ks : List.copyOf(old.sessions.keySet())) {
        try {
          open(g, ks);
        } catch (SkiffException e) {
          if (e.code() != ErrorCode.NOT_FOUND) {
            throw e;
          }
          // the keyspace is not there (yet): its queries say so until a migration creates it
          log.warn("Cassandra client '{}': keyspace '{}' does not exist on {}", name, ks, next.hosts());
        }
      }
    } catch (SkiffException e) {
      g.closeAsync();
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
    return session(settings.keyspace().orElseThrow(() -> Config.empty().at(setup.path()).invalid("keyspace", "is required for session()")));
  }

  /**
   * The session of a keyspace (opened on its first query; the keyspace must exist: see {@link #migrate}).
   *
   * @param keyspace the keyspace
   * @return the session
   */
  public CassandraSession session(String keyspace) {
    checkKeyspace(keyspace);
    ensureStarted();
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
    ensureStarted();
    return new Migrations(this, keyspace, folder, Thread.currentThread().getContextClassLoader()).run();
  }

  /** Runs CQL on the control session (no keyspace), for migrations. */
  ResultSet admin(String cql, Object... values) {
    return inKeyspace(ADMIN, cql, values);
  }

  /** Runs CQL, unprepared, on a keyspace's session (or the control session for ""), for migrations. */
  ResultSet inKeyspace(String keyspace, String cql, Object... values) {
    CassandraSettings s = settings;
    SimpleStatement st =
        SimpleStatement.newInstance(cql, values).setTimeout(s.requestTimeout().multipliedBy(4)).setConsistencyLevel(
            s.consistency());
    try {
      return open(generation, keyspace).execute(st);
    } catch (RuntimeException e) {
      errors.inc();
      throw CassandraErrors.map("Cassandra: " + abbreviate(cql), e);
    }
  }

  CqlSession driverSession(String keyspace) {
    ensureStarted();
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
    return timers.computeIfAbsent(keyspace + "." + q.name(), k -> metrics.timer(name + "." + k));
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

  /** Closes every session and removes the health check and metrics. Idempotent. */
  @Override
  public synchronized void close() {
    State was = state.getAndSet(State.CLOSED);
    if (was == State.CLOSED) {
      return;
    }
    subscriptions.forEach(LayeredConfig.Subscription::close);
    if (was == State.STARTED) {
      healthChecks.unregister(name);
      Generation g = generation;
      for (CqlSession s : g.sessions.values()) {
        try {
          s.close();
        } catch (RuntimeException e) {
          log.debug("closing a Cassandra session: {}", e.toString());
        }
      }
    }
    metrics.removeMatching((n, m) -> n.startsWith(name + "."));
  }

  /** Healthy when a node is up and answers a query on system.local within 2 s. */
  private final class Health extends HealthCheck {
    @Override
    protected Result check() {
      Generation g = generation;
      String moveNote = lastMoveError == null ? "" : "; " + lastMoveError;
      List<Node> up = upNodes(g);
      int known = g.sessions.get(ADMIN).getMetadata().getNodes().size();
      if (up.isEmpty()) {
        return Result.unhealthy("no Cassandra node is up (" + known + " known, contact points " + g.settings.hosts() + ")" + moveNote);
      }
      try {
        Row r =
            g.sessions.get(ADMIN)
                .execute(SimpleStatement.newInstance("SELECT release_version FROM system.local").setTimeout(Duration.ofSeconds(2)))
                .one();
        String version = r == null ? "?" : r.getString(0);
        String text = up.size() + "/" + known + " Cassandra nodes up, release " + version + moveNote;
        return lastMoveError == null ? Result.healthy(text) : Result.unhealthy(text);
      } catch (RuntimeException e) {
        return Result.unhealthy("Cassandra does not answer: " + e.getMessage() + moveNote);
      }
    }
  }

  /** Builds a {@link CassandraClient}. */
  public static final class Builder extends StoreClientBuilder<CassandraClient, Builder> {
    private Builder() {
      super("cassandra", CassandraClient::new);
    }
  }

}
