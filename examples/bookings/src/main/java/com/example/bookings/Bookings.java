package com.example.bookings;

import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.health.HealthCheckRegistry;
import com.datastax.oss.driver.api.core.cql.Row;
import com.example.bookings.proto.Booking;
import com.example.bookings.proto.CreateBookingRequest;
import com.example.bookings.proto.CreateBookingResponse;
import com.example.bookings.proto.GetBookingRequest;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.ExitCodes;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.config.Config;
import dev.skiff.platform.config.LayeredConfig;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.server.ServerBuilder;
import dev.skiff.platform.server.SkiffService;
import dev.skiff.service.StoreUnavailableAtStart;
import dev.skiff.service.cassandra.CassandraClient;
import dev.skiff.service.cassandra.CassandraSession;
import dev.skiff.service.cassandra.Query;
import dev.skiff.service.health.PlatformHealth;
import dev.skiff.service.memcached.Codec;
import dev.skiff.service.memcached.Memcached;
import dev.skiff.service.memcached.MemcachedSettings;
import dev.skiff.service.zookeeper.LeaderElection;
import dev.skiff.service.zookeeper.ZooKeeperClient;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Bookings on the service layer: {@code create} stores a booking in Cassandra, {@code get} reads it
 * through memcached, and the instance that ZooKeeper elects leader refreshes a summary every
 * {@code bookings.summary-interval}.
 *
 * <p>Every host comes from config: {@code SKIFF_CASSANDRA_HOSTS}, {@code SKIFF_MEMCACHED_HOSTS},
 * {@code SKIFF_ZOOKEEPER_HOSTS} (or a config file named by {@code SKIFF_CONFIG_FILE}, watched for
 * changes), beside the usual {@code SKIFF_AMQP_URI}. Run it with
 * {@code java -jar examples/bookings/target/bookings.jar}.
 *
 * <p>Started while Cassandra is down, it starts anyway: its health check {@code cassandra} is
 * unhealthy and {@code create} and {@code get} answer UNAVAILABLE naming Cassandra until a node
 * answers; then the client brings the schema up to date and the service works, without a restart. To
 * require Cassandra at start instead, set {@code SKIFF_CASSANDRA_REQUIRED_AT_START} to how long to wait
 * for it (e.g. {@code 30s}): if it does not answer by then, main prints one line to stderr and exits
 * with {@link ExitCodes#DEPENDENCY_UNAVAILABLE} (75).
 *
 * <p>Its own keys are validated ({@link #checkSettings}): {@code bookings.cache-ttl} (default 5m) is zero
 * (no expiry) or 1 s to 30 days, as memcached takes it, and {@code bookings.summary-interval} (default 30s,
 * read at start) at least 100 ms. A bad value stops the start with one line naming it (exit 78); a bad
 * live edit ({@code SKIFF_CONFIG_FILE}, {@code skiff config set}) is refused and the last good value stays.
 *
 * <p>It checks what callers send: {@code customer} (at most {@value #MAX_CUSTOMER} characters) and
 * {@code pickup} (at most {@value #MAX_PICKUP}) must have a visible character and no control character
 * or lone surrogate, so that a booking always fits the cache and the store; {@code get} takes only an id as
 * {@code create} returns it. Anything else is BAD_REQUEST, the caller's fault, never INTERNAL.
 */
public final class Bookings extends SkiffService implements AutoCloseable {
  public static final String NAME = "com.example.bookings";
  private static final Logger log = LoggerFactory.getLogger(Bookings.class);

  static final Query INSERT =
      Query.of("insert-booking", "INSERT INTO bookings (id, customer, pickup, created_at) VALUES (?, ?, ?, ?)");
  static final Query GET =
      Query.of("get-booking", "SELECT id, customer, pickup, created_at FROM bookings WHERE id = ?").idempotent();
  static final Query COUNT = Query.of("count-bookings", "SELECT COUNT(*) FROM bookings").idempotent();
  static final Query WRITE_STATS =
      Query.of("write-stats", "INSERT INTO booking_stats (name, value, updated_at, updated_by) VALUES ('total', ?, ?, ?)");
  /** The longest customer name taken, in characters (code points). */
  static final int MAX_CUSTOMER = 200;
  /** The longest pickup taken, in characters (code points). */
  static final int MAX_PICKUP = 500;
  /** The cache's TTL when {@code bookings.cache-ttl} is not set. */
  static final Duration CACHE_TTL = Duration.ofMinutes(5);
  /** The summary job's interval when {@code bookings.summary-interval} is not set. */
  static final Duration SUMMARY_INTERVAL = Duration.ofSeconds(30);
  /** An id as create returns it: a UUID in its canonical 36-character form. */
  private static final Pattern BOOKING_ID =
      Pattern.compile("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");
  /** How much of a bad id an error shows. */
  private static final int SHOWN = 40;
  static final Codec<Booking> BOOKING =
      Codec.of(Booking::toByteArray, bytes -> {
        try {
          return Booking.parseFrom(bytes);
        } catch (InvalidProtocolBufferException e) {
          throw new IllegalArgumentException("not a cached booking", e);
        }
      });

  private final MetricRegistry metrics;
  private final HealthCheckRegistry health;
  private final String instance = "bookings-" + UUID.randomUUID().toString().substring(0, 8);
  private final ScheduledExecutorService jobs;
  private volatile LayeredConfig config;
  private volatile String keyspace;
  private volatile CassandraClient cassandra;
  private volatile Memcached cache;
  private volatile ZooKeeperClient zookeeper;
  private volatile CassandraSession db;
  private volatile LeaderElection election;

  /**
   * The service as {@link #main} runs it: its stores are opened from its configuration as it starts
   * ({@link #prepare}): the config service's view (so {@code skiff config set memcached.hosts ...} moves
   * its cache client), over its defaults and {@code SKIFF_CONFIG_FILE}, under the environment.
   */
  public Bookings() {
    this(new MetricRegistry(), new HealthCheckRegistry());
  }

  /**
   * The service on a configuration of the caller's (a test's), not yet connected to its stores: call
   * {@link #open()}.
   *
   * @param config the configuration ({@code cassandra.*}, {@code memcached.*}, {@code zookeeper.*},
   *     {@code bookings.*})
   * @param metrics where the stores' metrics go
   * @param health where the stores' health checks go
   */
  public Bookings(LayeredConfig config, MetricRegistry metrics, HealthCheckRegistry health) {
    this(metrics, health);
    // the service's own configuration gets the validator in register(); the caller's gets it here
    config.addValidator(Bookings::checkSettings);
    stores(config);
  }

  /**
   * The validator of the service's own keys: every configuration must pass it to come into force.
   *
   * @param c a configuration
   * @throws dev.skiff.platform.config.ConfigException naming the key, its value and where it came from
   */
  static void checkSettings(Config c) {
    Duration ttl = c.getDuration("bookings.cache-ttl", CACHE_TTL);
    if (ttl.compareTo(MemcachedSettings.MAX_TTL) > 0 || (!ttl.isZero() && ttl.getSeconds() == 0)) {
      throw c.invalid("bookings.cache-ttl", "must be 0s (no expiry) or 1s to 30 days (720h), as memcached keeps values");
    }
    if (c.getDuration("bookings.summary-interval", SUMMARY_INTERVAL).compareTo(Duration.ofMillis(100)) < 0) {
      throw c.invalid("bookings.summary-interval", "must be at least 100ms");
    }
  }

  private Bookings(MetricRegistry metrics, HealthCheckRegistry health) {
    super(NAME, "1.0.0", "Stores and finds taxi bookings");
    this.metrics = metrics;
    this.health = health;
    this.jobs =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "bookings-summary-" + instance);
              t.setDaemon(true);
              return t;
            });
  }

  /** Makes the stores' clients from a configuration, which they follow. */
  private void stores(LayeredConfig config) {
    this.config = config;
    this.keyspace = config.current().getString("cassandra.keyspace", "bookings");
    this.cassandra =
        CassandraClient.builder().config(config).metrics(metrics).healthChecks(health).migrations(keyspace, "cassandra/bookings").build();
    this.cache = Memcached.builder().config(config).metrics(metrics).healthChecks(health).build();
    this.zookeeper = ZooKeeperClient.builder().config(config).metrics(metrics).healthChecks(health).build();
  }

  /** Its own layers: the stores' defaults and, when {@code SKIFF_CONFIG_FILE} names one, a file, watched. */
  @Override
  protected LayeredConfig.Builder configLayers() {
    // required-at-start is listed so that SKIFF_CASSANDRA_REQUIRED_AT_START sets it
    LayeredConfig.Builder b = LayeredConfig.builder().defaults(Map.of("cassandra.keyspace", "bookings", "cassandra.required-at-start", "0s"));
    String file = System.getenv("SKIFF_CONFIG_FILE");
    if (file != null && !file.isBlank()) {
      b.watchedFile(Path.of(file), Duration.ofSeconds(1));
    }
    return b;
  }

  /**
   * As it starts, before its first request: opens the stores from its configuration, unless a caller
   * gave it one of its own and opened them ({@link #Bookings(LayeredConfig, MetricRegistry, HealthCheckRegistry)}).
   */
  @Override
  protected void prepare(LayeredConfig serviceConfig) {
    if (cassandra != null) {
      return;
    }
    stores(serviceConfig);
    open();
  }

  /**
   * Connects to the stores (Cassandra's client brings the schema up to date when it connects, now or
   * when Cassandra appears), joins the leader election and schedules the summary job.
   *
   * @return this
   * @throws StoreUnavailableAtStart when Cassandra is required at start ({@code cassandra.required-at-start})
   *     and did not answer in time
   */
  public Bookings open() {
    cassandra.start();
    db = cassandra.session(keyspace);
    cache.start();
    zookeeper.start();
    election =
        zookeeper.leaderElection("bookings-summary", instance, leading -> log.info("{} {} the summary job", instance, leading ? "now runs" : "no longer runs")).start();
    Duration every = config.current().getDuration("bookings.summary-interval", SUMMARY_INTERVAL);
    jobs.scheduleWithFixedDelay(this::summarise, every.toMillis(), every.toMillis(), TimeUnit.MILLISECONDS);
    return this;
  }

  /** @return this instance's id in the leader election */
  public String instance() {
    return instance;
  }

  /** @return whether this instance runs the summary job now */
  public boolean isLeader() {
    return election != null && election.isLeader();
  }

  /** The leader's periodic job: counts the bookings and records who counted. Runs on the leader only. */
  void summarise() {
    if (!isLeader()) {
      return;
    }
    try {
      long total = db.one(COUNT).map(r -> r.getLong(0)).orElse(0L);
      db.execute(WRITE_STATS, total, Instant.now(), instance);
    } catch (SkiffException e) {
      log.warn("summary job failed, next run in {}: {}", config.current().getString("bookings.summary-interval", "30s"), e.getMessage());
    }
  }

  @Override
  protected void register(ServerBuilder service) {
    // the stores' checks, those of the clients prepare() makes as the server starts included, run and
    // are published with the service's own, and show on the dashboard
    PlatformHealth.include(health, service);
    // a bad bookings.* value is refused at start and on every change: the last good one stays
    service.configValidator(Bookings::checkSettings);
    service.endpoint("create", CreateBookingRequest.class, CreateBookingResponse.class, (req, ctx) -> {
      checkText("customer", req.getCustomer(), MAX_CUSTOMER);
      checkText("pickup", req.getPickup(), MAX_PICKUP);
      UUID id = UUID.randomUUID();
      db.execute(INSERT, id, req.getCustomer(), req.getPickup(), Instant.now());
      return CreateBookingResponse.newBuilder().setId(id.toString()).build();
    });
    service.endpoint("get", GetBookingRequest.class, Booking.class, (req, ctx) -> {
      UUID id = bookingId(req.getId());
      Duration ttl = config.current().getDuration("bookings.cache-ttl", CACHE_TTL);
      return cache.readThrough("booking:" + id, ttl, BOOKING, () -> load(id));
    });
  }

  /**
   * Refuses, as the caller's fault, a text field the store and the cache should not take: one with no
   * visible character, longer than {@code max} characters, or with a control character or a lone
   * surrogate (which is no text: Cassandra's UTF-8 codec cannot write it).
   *
   * @throws SkiffException BAD_REQUEST naming the field and the limit
   */
  static void checkText(String field, String value, int max) {
    int length = value.codePointCount(0, value.length());
    if (length > max) {
      throw new SkiffException(ErrorCode.BAD_REQUEST, field + " is " + length + " characters long: at most " + max + " are taken");
    }
    boolean visible = false;
    for (int i = 0; i < value.length(); ) {
      int cp = value.codePointAt(i);
      int type = Character.getType(cp);
      if (type == Character.SURROGATE) {
        throw new SkiffException(ErrorCode.BAD_REQUEST, field + " holds a lone surrogate (U+" + hex(cp) + ") at position " + i + ": not text");
      }
      if (type == Character.CONTROL) {
        throw new SkiffException(ErrorCode.BAD_REQUEST, field + " holds a control character (U+" + hex(cp) + ") at position " + i);
      }
      visible |= !Character.isWhitespace(cp) && !Character.isSpaceChar(cp) && type != Character.FORMAT;
      i += Character.charCount(cp);
    }
    if (!visible) {
      throw new SkiffException(ErrorCode.BAD_REQUEST, "customer and pickup are required: " + field + " has no visible character");
    }
  }

  private static String hex(int cp) {
    return String.format(java.util.Locale.ROOT, "%04X", cp);
  }

  /**
   * An id as {@code create} returns it (the canonical 36-character form of a UUID, either case), or
   * BAD_REQUEST showing at most {@value #SHOWN} characters of what was sent.
   */
  static UUID bookingId(String id) {
    if (!BOOKING_ID.matcher(id).matches()) {
      String shown = id.length() <= SHOWN ? id : id.substring(0, SHOWN) + "..." + " (" + id.length() + " characters)";
      throw new SkiffException(ErrorCode.BAD_REQUEST,
          "id must be a booking id as create returned it (36 characters, e.g. 5b1e0c8a-0d4e-4a6e-9f1a-2a7c3e9d4b10), not '" + shown + "'");
    }
    return UUID.fromString(id);
  }

  private Booking load(UUID id) {
    Row r = db.one(GET, id).orElseThrow(() -> new SkiffException(ErrorCode.NOT_FOUND, "no booking " + id));
    return Booking.newBuilder()
        .setId(id.toString())
        .setCustomer(r.getString("customer"))
        .setPickup(r.getString("pickup"))
        .setCreatedAt(String.valueOf(r.getInstant("created_at")))
        .build();
  }

  /** Stops the job, leaves the election and closes the stores. Idempotent. */
  @Override
  public void close() {
    jobs.shutdownNow();
    if (cassandra == null) {
      return; // never opened
    }
    zookeeper.close();
    cache.close();
    cassandra.close();
  }

  /**
   * Runs the service until SIGTERM or SIGINT. A store required at start that does not answer ends it
   * with one line on stderr and exit code {@link ExitCodes#DEPENDENCY_UNAVAILABLE}; a setting it cannot use
   * ends it with one line naming it and {@link ExitCodes#CONFIGURATION} ({@link #run()}).
   *
   * @param args unused
   * @throws InterruptedException if interrupted while serving
   */
  public static void main(String[] args) throws InterruptedException {
    try (Bookings bookings = new Bookings()) {
      bookings.run();
    } catch (StoreUnavailableAtStart e) {
      System.err.println(NAME + ": " + e.getMessage());
      System.exit(ExitCodes.DEPENDENCY_UNAVAILABLE);
    }
  }
}
