package dev.skiff.kernel.trace;

import com.codahale.metrics.health.HealthCheckRegistry;
import com.datastax.oss.driver.api.core.cql.AsyncResultSet;
import com.datastax.oss.driver.api.core.cql.Row;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.config.Config;
import dev.skiff.platform.health.HealthCheck;
import dev.skiff.proto.v1.Span;
import dev.skiff.proto.v1.TraceSummary;
import dev.skiff.service.cassandra.CassandraClient;
import dev.skiff.service.cassandra.CassandraSession;
import dev.skiff.service.cassandra.Query;
import dev.skiff.platform.internal.Threads;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Traces in Cassandra, through the service layer's {@link CassandraClient}, kept for a TTL.
 *
 * <p><b>Schema</b> (keyspace {@code trace.keyspace}, created with its tables by a service-layer
 * migration, {@code dev/skiff/kernel/trace/cassandra/V1__trace_tables.cql}, when the store connects;
 * idempotent): {@code spans}, one partition per trace id, clustered by start time and span id, each
 * span as its protobuf bytes; {@code recent_traces}, partitioned by (hour received, service), clustered
 * newest first, one row per trace, hour and service that recorded a span in it (and service {@code ''}
 * for all), with the time it was received. Every row is written {@code USING TTL} {@code trace.ttl}: traces expire without a cleanup
 * job. Writes are idempotent (a redelivered span rewrites the same cells), so copies of the trace
 * service sharing the spans of their group all see whole traces.
 *
 * <p><b>Never in the way of span intake.</b> {@link #add} only offers spans to a bounded queue
 * ({@code trace.write-queue}); when it is full the span is dropped and counted. One thread of its own
 * ({@code skiff-trace-cassandra}) connects (retrying with backoff while Cassandra cannot be reached),
 * migrates the schema, and writes asynchronously with at most {@value #MAX_IN_FLIGHT} writes in flight.
 * A write that fails is counted and logged (a warning a minute at most); the store keeps going, and the
 * {@link #healthCheck() health check} says what is wrong. Reads ({@link #trace}, {@link #recent}) run on
 * the caller's thread and fail with UNAVAILABLE or TIMEOUT, naming the problem, while Cassandra is out
 * of reach.
 *
 * <p><b>Bounds.</b> At most {@code trace.max-spans} spans per trace are written by this copy (more are
 * dropped and counted; the count is kept for the last {@value #TRACKED_TRACES} traces) and read back.
 *
 * <table>
 *   <caption>Configuration (environment variable in brackets)</caption>
 *   <tr><th>key</th><th>meaning</th><th>default</th></tr>
 *   <tr><td>trace.keyspace (SKIFF_TRACE_KEYSPACE)</td><td>the keyspace</td><td>skiff_trace</td></tr>
 *   <tr><td>trace.ttl (SKIFF_TRACE_TTL)</td><td>how long spans are kept ({@code 168h}, {@code P7D}, ...)</td><td>168h (7 days)</td></tr>
 *   <tr><td>trace.max-spans (SKIFF_TRACE_MAX_SPANS)</td><td>spans kept per trace</td><td>1000</td></tr>
 *   <tr><td>trace.write-queue (SKIFF_TRACE_WRITE_QUEUE)</td><td>spans waiting to be written</td><td>10000</td></tr>
 *   <tr><td>cassandra.* (SKIFF_CASSANDRA_*)</td><td>the service layer's Cassandra settings: hosts,
 *       datacenter, consistency, request-timeout, replication-factor, ... (see
 *       {@link dev.skiff.service.cassandra.CassandraSettings})</td><td>127.0.0.1:9042, ...</td></tr>
 * </table>
 *
 * <p>Thread-safe. Lifecycle: {@link #start()} once, {@link #close()} (idempotent; writes what is queued
 * for up to a few seconds, then closes the client).
 */
public final class CassandraTraceStore implements TraceStore {
  /** The classpath folder of the schema migrations. */
  static final String SCHEMA = "dev/skiff/kernel/trace/cassandra";
  /** Writes in flight at most. */
  static final int MAX_IN_FLIGHT = 256;
  /** Traces whose span count and index rows this copy remembers. */
  static final int TRACKED_TRACES = 100_000;
  /** Hour buckets of recent_traces read at once. */
  private static final int HOURS_AT_ONCE = 24;
  private static final long HOUR_MILLIS = 3_600_000;
  private static final long MAX_TTL_SECONDS = 630_720_000; // Cassandra's limit: 20 years
  private static final Logger log = LoggerFactory.getLogger(CassandraTraceStore.class);

  private static final Query INSERT_SPAN = Query.of("insert-span",
      "INSERT INTO spans (trace_id, start_micros, span_id, service, span) VALUES (?, ?, ?, ?, ?) USING TTL ?").idempotent();
  private static final Query INSERT_RECENT = Query.of("insert-recent",
      "INSERT INTO recent_traces (hour, service, start_micros, trace_id, received) VALUES (?, ?, ?, ?, ?) USING TTL ?").idempotent();
  private static final Query GET_TRACE = Query.of("get-trace",
      "SELECT span FROM spans WHERE trace_id = ? LIMIT ?").idempotent();
  private static final Query RECENT = Query.of("recent",
      "SELECT trace_id FROM recent_traces WHERE hour = ? AND service = ? LIMIT ?").idempotent();

  private final CassandraClient client;
  private final HealthCheckRegistry clientHealth = new HealthCheckRegistry();
  private final String clientName = "trace-store";
  private final String keyspace;
  private final Duration ttl;
  private final int ttlSeconds;
  private final int maxSpansPerTrace;
  private final Clock clock;
  private final BlockingQueue<Span> queue;
  private final Semaphore inFlight = new Semaphore(MAX_IN_FLIGHT);
  private final Map<String, TraceState> tracked = new LinkedHashMap<>(1024, 0.75f, false) {
    private static final long serialVersionUID = 1L;

    @Override
    protected boolean removeEldestEntry(Map.Entry<String, TraceState> eldest) {
      return size() > TRACKED_TRACES;
    }
  };
  private final AtomicLong written = new AtomicLong();
  private final AtomicLong failed = new AtomicLong();
  private final AtomicLong dropped = new AtomicLong();
  private final AtomicLong overLimit = new AtomicLong();
  /**
   * The spans not kept of the last {@value #TRACKED_TRACES} traces that went over the limit, for readers
   * ({@link #spansNotKept}); written on the writer thread, read on any (guarded by itself).
   */
  private final Map<String, Long> notKept = new LinkedHashMap<>(16, 0.75f, false) {
    private static final long serialVersionUID = 1L;

    @Override
    protected boolean removeEldestEntry(Map.Entry<String, Long> eldest) {
      return size() > TRACKED_TRACES;
    }
  };
  private final AtomicLong traces = new AtomicLong();
  private volatile CassandraSession session;
  private volatile String connectError = "not started";
  private volatile String lastWriteError = "";
  private volatile long lastFailureMillis = Long.MIN_VALUE / 2;
  private volatile long lastDropMillis = Long.MIN_VALUE / 2;
  private volatile long lastWarnMillis = Long.MIN_VALUE / 2;
  private volatile boolean closed;
  private Thread writer;
  private boolean clientStarted;

  private static final class TraceState {
    int spans;
    final Set<String> indexed = new HashSet<>(4);
  }

  /**
   * Reads the settings (see the table above) and builds the Cassandra client; does not connect.
   *
   * @param config the configuration (the {@code trace} and {@code cassandra} subtrees are read)
   * @throws dev.skiff.platform.config.ConfigException naming the key when a setting is invalid
   */
  public CassandraTraceStore(Config config) {
    this(config, Clock.systemUTC());
  }

  CassandraTraceStore(Config config, Clock clock) {
    Config t = config.at("trace");
    this.keyspace = t.getString("keyspace", "skiff_trace");
    if (!keyspace.matches("[A-Za-z0-9_]{1,48}")) {
      throw t.invalid("keyspace", "must be 1 to 48 letters, digits or '_'");
    }
    this.ttl = t.getDuration("ttl", Duration.ofDays(7));
    if (ttl.toSeconds() < 1 || ttl.toSeconds() > MAX_TTL_SECONDS) {
      throw t.invalid("ttl", "must be from 1s to 20 years (Cassandra's limit)");
    }
    this.ttlSeconds = (int) ttl.toSeconds();
    this.maxSpansPerTrace = t.getInt("max-spans", 1_000, 1, 1_000_000);
    this.queue = new ArrayBlockingQueue<>(t.getInt("write-queue", 10_000, 1, 10_000_000));
    this.clock = clock;
    this.client = CassandraClient.builder().config(config).name(clientName).healthChecks(clientHealth).build();
  }

  /** Starts the writer thread, which connects (and keeps trying until it can) and migrates the schema. */
  @Override
  public synchronized void start() {
    if (writer != null || closed) {
      throw new IllegalStateException("the Cassandra trace store was already started" + (closed ? " and closed" : ""));
    }
    connectError = "connecting to Cassandra at " + hosts();
    writer = Threads.start("skiff-trace-cassandra", this::run);
  }

  private String hosts() {
    return client.settings().hosts().toString();
  }

  private void run() {
    long backoff = 500;
    while (!closed) {
      if (session == null) {
        try {
          connect();
          backoff = 500;
        } catch (RuntimeException e) {
          String why = e instanceof SkiffException s ? s.code() + ": " + s.description() : e.toString();
          if (!why.equals(connectError)) {
            log.warn("trace store: cannot use Cassandra at {} (retrying every few seconds; spans wait in a queue of {}, then are dropped): {}",
                hosts(), queue.remainingCapacity() + queue.size(), why);
          }
          connectError = why;
          sleep(backoff);
          backoff = Math.min(backoff * 2, 10_000);
        }
        continue;
      }
      try {
        Span s = queue.poll(100, TimeUnit.MILLISECONDS);
        if (s != null) {
          write(s);
        }
      } catch (InterruptedException e) {
        // closing: the loop condition decides
      }
    }
    drain();
  }

  /** On the writer thread only. CassandraClient.start() may be called again after it failed. */
  private void connect() {
    if (!clientStarted) {
      client.start();
      clientStarted = true;
    }
    client.migrate(keyspace, SCHEMA);
    session = client.session(keyspace);
    connectError = "";
    log.info("trace store: writing spans to Cassandra at {}, keyspace {}, TTL {}", hosts(), keyspace, ttl);
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      // closing
    }
  }

  /** Writes what is queued (for up to 5 s) and waits for writes in flight, when closing. */
  private void drain() {
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    if (session != null) {
      Span s;
      while (System.nanoTime() < until && (s = queue.poll()) != null) {
        write(s);
      }
    }
    try {
      if (inFlight.tryAcquire(MAX_IN_FLIGHT, Math.max(0, until - System.nanoTime()), TimeUnit.NANOSECONDS)) {
        inFlight.release(MAX_IN_FLIGHT);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    int left = queue.size();
    if (left > 0) {
      dropped.addAndGet(left);
      queue.clear();
      log.warn("trace store: {} spans were not written before closing", left);
    }
  }

  /** On the writer thread only. */
  private void write(Span s) {
    TraceState st = tracked.get(s.getTraceId());
    if (st == null) {
      st = new TraceState();
      tracked.put(s.getTraceId(), st);
      traces.incrementAndGet();
    }
    if (st.spans >= maxSpansPerTrace) {
      overLimit.incrementAndGet();
      synchronized (notKept) {
        notKept.merge(s.getTraceId(), 1L, Long::sum);
      }
      return;
    }
    st.spans++;
    send(INSERT_SPAN, true, s.getTraceId(), s.getStartMicros(), s.getSpanId(), s.getService(), ByteBuffer.wrap(s.toByteArray()),
        ttlSeconds);
    Instant now = clock.instant();
    long hour = now.toEpochMilli() / HOUR_MILLIS;
    for (String service : List.of("", s.getService())) {
      if (st.indexed.add(hour + "/" + service)) {
        send(INSERT_RECENT, false, hour, service, s.getStartMicros(), s.getTraceId(), now, ttlSeconds);
      }
    }
  }

  private void send(Query q, boolean span, Object... values) {
    try {
      inFlight.acquire();
    } catch (InterruptedException e) {
      // closing: write it anyway, drain() bounds the wait
      inFlight.acquireUninterruptibly();
    }
    CompletionStage<AsyncResultSet> f;
    try {
      f = session.executeAsync(q, values);
    } catch (RuntimeException e) {
      inFlight.release();
      failed(e);
      return;
    }
    f.whenComplete((rs, err) -> {
      inFlight.release();
      if (err != null) {
        failed(err);
      } else if (span) {
        written.incrementAndGet();
      }
    });
  }

  private void failed(Throwable err) {
    Throwable e = err instanceof CompletionException && err.getCause() != null ? err.getCause() : err;
    failed.incrementAndGet();
    lastWriteError = e instanceof SkiffException s ? s.code() + ": " + s.description() : e.toString();
    long now = clock.millis();
    lastFailureMillis = now;
    if (now - lastWarnMillis >= 60_000) {
      lastWarnMillis = now;
      log.warn("trace store: writes to Cassandra fail ({} so far; spans are lost, intake goes on): {}", failed.get(), lastWriteError);
    }
  }

  @Override
  public void add(List<Span> spans) {
    for (Span s : spans) {
      if (closed || !queue.offer(s)) {
        dropped.incrementAndGet();
        lastDropMillis = clock.millis();
      }
    }
  }

  private CassandraSession session() {
    CassandraSession s = session;
    if (s == null) {
      throw new SkiffException(ErrorCode.UNAVAILABLE, "the trace store cannot use Cassandra at " + hosts()
          + " (SKIFF_CASSANDRA_HOSTS): " + connectError);
    }
    return s;
  }

  @Override
  public Optional<List<Span>> trace(String traceId) {
    List<Span> spans = new ArrayList<>();
    for (Row r : session().execute(GET_TRACE, traceId, maxSpansPerTrace)) {
      spans.add(parse(r));
    }
    return spans.isEmpty() ? Optional.empty() : Optional.of(distinct(spans));
  }

  private static Span parse(Row r) {
    try {
      return Span.parseFrom(r.getByteBuffer(0));
    } catch (InvalidProtocolBufferException e) {
      throw new SkiffException(ErrorCode.INTERNAL, "a span stored in Cassandra does not parse: " + e.getMessage(), e);
    }
  }

  /** In start order, one span per span id (a span rewritten with another start time is there twice). */
  private static List<Span> distinct(List<Span> spans) {
    Map<String, Span> byId = new LinkedHashMap<>();
    for (Span s : spans) {
      byId.putIfAbsent(s.getSpanId(), s);
    }
    List<Span> out = new ArrayList<>(byId.values());
    out.sort(Comparator.comparingLong(Span::getStartMicros));
    return out;
  }

  @Override
  public List<TraceSummary> recent(int limit, String service) {
    CassandraSession s = session();
    long hour = clock.millis() / HOUR_MILLIS;
    long oldest = hour - (ttlSeconds + 3599L) / 3600 - 1;
    LinkedHashSet<String> ids = new LinkedHashSet<>();
    for (long h = hour; h >= oldest && ids.size() < limit; h -= HOURS_AT_ONCE) {
      List<CompletionStage<AsyncResultSet>> pages = new ArrayList<>();
      for (long b = h; b > h - HOURS_AT_ONCE && b >= oldest; b--) {
        pages.add(s.executeAsync(RECENT, b, service, limit));
      }
      for (CompletionStage<AsyncResultSet> p : pages) {
        for (Row r : join(p).currentPage()) {
          if (ids.size() < limit) {
            ids.add(r.getString(0));
          }
        }
      }
    }
    List<CompletableFuture<AsyncResultSet>> reads = new ArrayList<>();
    for (String id : ids) {
      reads.add(s.executeAsync(GET_TRACE, id, maxSpansPerTrace).toCompletableFuture());
    }
    List<TraceSummary> out = new ArrayList<>();
    for (CompletableFuture<AsyncResultSet> f : reads) {
      List<Span> spans = new ArrayList<>();
      join(f).currentPage().forEach(r -> spans.add(parse(r)));
      if (!spans.isEmpty()) {
        out.add(InMemoryTraceStore.summary(distinct(spans)));
      }
    }
    out.sort(Comparator.comparingLong(TraceSummary::getStartMicros).reversed());
    return out;
  }

  private static AsyncResultSet join(CompletionStage<AsyncResultSet> f) {
    try {
      return f.toCompletableFuture().join();
    } catch (CompletionException e) {
      throw e.getCause() instanceof SkiffException s ? s : new SkiffException(ErrorCode.INTERNAL, String.valueOf(e.getCause()), e.getCause());
    }
  }

  /** @return traces this store began writing since it started (Cassandra cannot count its traces cheaply) */
  @Override
  public int size() {
    return (int) Math.min(Integer.MAX_VALUE, traces.get());
  }

  /** @return spans written */
  public long writtenSpans() {
    return written.get();
  }

  /** @return writes (of spans or of the recent-traces index) that failed */
  public long failedWrites() {
    return failed.get();
  }

  @Override
  public long spansNotKept() {
    return overLimit.get() + dropped.get();
  }

  @Override
  public long spansNotKept(String traceId) {
    synchronized (notKept) {
      return notKept.getOrDefault(traceId, 0L);
    }
  }

  /** @return spans dropped because the write queue was full (Cassandra slow or out of reach) or the store closed */
  public long droppedSpans() {
    return dropped.get();
  }

  /** @return spans not written because their trace already had {@code trace.max-spans} */
  public long spansOverLimit() {
    return overLimit.get();
  }

  /** @return spans waiting to be written */
  int queued() {
    return queue.size();
  }

  /** @return the keyspace */
  String keyspace() {
    return keyspace;
  }

  /**
   * Healthy when connected, Cassandra answers (the service layer's client check), and no write failed
   * and no span was dropped in the last minute; else unhealthy, saying which and with the counts.
   */
  @Override
  public Optional<HealthCheck> healthCheck() {
    return Optional.of(new HealthCheck() {
      @Override
      protected Result check() {
        String counts = String.format(Locale.ROOT, "%d spans written, %d writes failed, %d spans dropped, %d over the limit of %d a trace",
            written.get(), failed.get(), dropped.get(), overLimit.get(), maxSpansPerTrace);
        if (closed) {
          return Result.unhealthy("the trace store is closed; " + counts);
        }
        if (session == null) {
          return Result.unhealthy("not connected to Cassandra at " + hosts() + ": " + connectError + "; " + queue.size()
              + " spans waiting; " + counts);
        }
        com.codahale.metrics.health.HealthCheck.Result c = clientHealth.runHealthCheck(clientName);
        if (!c.isHealthy()) {
          return Result.unhealthy("Cassandra: " + c.getMessage() + "; " + counts);
        }
        long now = clock.millis();
        if (now - lastFailureMillis < 60_000) {
          return Result.unhealthy("span writes failed in the last minute (" + lastWriteError + "); " + counts);
        }
        if (now - lastDropMillis < 60_000) {
          return Result.unhealthy("spans were dropped in the last minute: the write queue (" + (queue.size() + queue.remainingCapacity())
              + ") was full; " + counts);
        }
        return Result.healthy("keyspace " + keyspace + " on " + hosts() + ", TTL " + ttl + "; " + counts);
      }
    });
  }

  @Override
  public void close() {
    Thread w;
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
      w = writer;
    }
    if (w != null) {
      w.interrupt();
      try {
        w.join(client.settings().connectTimeout().toMillis() + 7_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    client.close();
  }
}
