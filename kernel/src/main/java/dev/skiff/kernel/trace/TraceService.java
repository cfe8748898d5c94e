package dev.skiff.kernel.trace;

import com.codahale.metrics.Counter;
import dev.skiff.kernel.Bound;
import dev.skiff.kernel.Guard;
import dev.skiff.kernel.KernelContext;
import dev.skiff.kernel.KernelServiceBase;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.config.EnvVars;
import dev.skiff.platform.config.LayeredConfig;
import dev.skiff.platform.internal.Release;
import dev.skiff.platform.pubsub.PubSub;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.server.ServerBuilder;
import dev.skiff.platform.trace.SpanSink;
import dev.skiff.proto.v1.GetTraceRequest;
import dev.skiff.proto.v1.ListTracesRequest;
import dev.skiff.proto.v1.Span;
import dev.skiff.proto.v1.SpanBatch;
import dev.skiff.proto.v1.Trace;
import dev.skiff.proto.v1.TraceList;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The trace kernel service: subscribes to every service's spans (topic {@code trace.spans.#}, in the
 * group {@code skiff.trace} so that copies of this service share them), stores them, and serves them:
 * over RPC as the service {@code skiff.trace} (endpoints {@code get} and {@code list}, used by
 * {@code skiff trace}), and on the kernel's web server under {@code /traces} (a list of recent traces,
 * each trace as a sequence diagram, the service graph, and Zipkin v2 JSON under {@code /traces/api/v2}).
 *
 * <p><b>Store.</b> {@link InMemoryTraceStore} unless {@code SKIFF_TRACE_STORE=cassandra}, which picks
 * {@link CassandraTraceStore}: spans kept in Cassandra for {@code SKIFF_TRACE_TTL}, reached with the
 * service layer's Cassandra settings ({@code SKIFF_CASSANDRA_HOSTS} and the rest, or the same keys as
 * {@code -Dskiff.cassandra.*}). While Cassandra cannot be reached the service runs on: spans are queued,
 * then dropped and counted, reads fail with UNAVAILABLE, and the store's health check ({@code
 * trace-store}, published with the service's health) is unhealthy and says why.
 *
 * <p><b>Graph colours.</b> The service graph colours each service by the monitoring service's view of
 * its health ({@link MonitoringHealth}): that of the monitoring service in the same kernel, else the
 * health reports services publish; by its error rate where that view knows nothing of it.
 *
 * <table>
 *   <caption>Environment variables</caption>
 *   <tr><th>variable</th><th>meaning</th><th>default</th></tr>
 *   <tr><td>SKIFF_TRACE_STORE</td><td>{@code memory} or {@code cassandra}</td><td>memory</td></tr>
 *   <tr><td>SKIFF_TRACE_MAX_TRACES</td><td>traces the in-memory store keeps</td><td>10000</td></tr>
 *   <tr><td>SKIFF_TRACE_MAX_SPANS</td><td>spans kept per trace</td><td>1000</td></tr>
 *   <tr><td>SKIFF_TRACE_MAX_BYTES</td><td>bytes of spans (serialized) the in-memory store keeps; the oldest
 *       traces are evicted to make room</td><td>67108864 (64 MiB)</td></tr>
 *   <tr><td>SKIFF_TRACE_TTL</td><td>(cassandra) how long spans are kept: {@code 168h}, {@code 30m}, {@code P7D}, ...</td><td>168h (7 days)</td></tr>
 *   <tr><td>SKIFF_TRACE_KEYSPACE</td><td>(cassandra) the keyspace, created if missing</td><td>skiff_trace</td></tr>
 *   <tr><td>SKIFF_TRACE_WRITE_QUEUE</td><td>(cassandra) spans waiting to be written; more are dropped and counted</td><td>10000</td></tr>
 *   <tr><td>SKIFF_CASSANDRA_HOSTS, SKIFF_CASSANDRA_DATACENTER, SKIFF_CASSANDRA_CONSISTENCY,
 *       SKIFF_CASSANDRA_REQUEST_TIMEOUT, SKIFF_CASSANDRA_REPLICATION_FACTOR, ...</td><td>(cassandra) the
 *       service layer's Cassandra settings ({@link dev.skiff.service.cassandra.CassandraSettings})</td>
 *       <td>127.0.0.1:9042, datacenter1, LOCAL_QUORUM, 5s, 1</td></tr>
 * </table>
 *
 * <p>Thread-safe. Started once; close is idempotent and closes the store.
 */
public final class TraceService extends KernelServiceBase {
  /** The RPC service name. */
  public static final String SERVICE = "skiff.trace";

  private static final Logger log = LoggerFactory.getLogger(TraceService.class);
  private static final Pattern TRACE_ID = Pattern.compile("[0-9a-f]{32}");
  /** The counter of spans refused as malformed: ids, names or codes Skiff never writes. */
  public static final String INVALID_SPANS = "skiff.trace.refused.invalid-span";

  private final TraceStore store;
  private final Clock clock;
  private final HealthSource givenHealth;
  private volatile HealthSource health = HealthSource.NONE;
  private MonitoringHealth monitoringHealth;
  private final ServiceGraph graph;
  private final AtomicLong spansReceived = new AtomicLong();
  private final AtomicLong droppedUpstream = new AtomicLong();
  /** The bound of {@link #droppedByInstance}: 10,000 instances; keys are at most 256 characters. */
  static final Bound.Limits DROP_REPORT_LIMITS = new Bound.Limits(10_000, 10_000L * 2 * 256);
  private final Bound dropReports = new Bound("trace-drop-reports", DROP_REPORT_LIMITS, true);
  /** The last figure of spans dropped each instance reported, the least recently heard first (guarded by itself). */
  private final Map<String, Long> droppedByInstance = new java.util.LinkedHashMap<>(16, 0.75f, true);
  private long dropReportBytes;
  /** Spans refused as malformed ({@link SpanCheck}): the kernel's {@value #INVALID_SPANS} once started. */
  private volatile Counter invalidSpans = new Counter();

  /**
   * A trace service with the store the environment configures (see the table above; it connects when
   * the service starts), colouring its graph by the monitoring service's view of health; what
   * {@code skiff kernel} runs.
   *
   * @throws IllegalArgumentException naming a variable whose value is invalid
   */
  public TraceService() {
    this(storeFromEnvironment(System.getenv()), Clock.systemUTC());
  }

  /**
   * @param store where traces are kept (owned: closed with the service)
   * @param health the monitoring service's view of health, or {@link HealthSource#NONE}
   * @param clock the time source of the service graph's window
   */
  public TraceService(TraceStore store, HealthSource health, Clock clock) {
    this(store, Optional.of(Objects.requireNonNull(health, "health")), clock);
  }

  /**
   * A trace service that colours its graph by the monitoring service's view of health: that of the
   * monitoring service in the same kernel when there is one, else the health reports services publish
   * (see {@link MonitoringHealth}).
   *
   * @param store where traces are kept (owned: closed with the service)
   * @param clock the time source of the service graph's window and of health staleness
   */
  TraceService(TraceStore store, Clock clock) {
    this(store, Optional.empty(), clock);
  }

  private TraceService(TraceStore store, Optional<HealthSource> health, Clock clock) {
    super("trace");
    this.store = Objects.requireNonNull(store, "store");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.givenHealth = health.orElse(null);
    this.graph = new ServiceGraph(clock, Duration.ofMinutes(15));
  }

  /**
   * @param env environment variables
   * @return the store SKIFF_TRACE_STORE names (not started)
   * @throws IllegalArgumentException naming a variable whose value is invalid
   */
  static TraceStore storeFromEnvironment(Map<String, String> env) {
    String kind = env.getOrDefault("SKIFF_TRACE_STORE", "");
    switch (kind.trim().toLowerCase(Locale.ROOT)) {
      case "", "memory":
        return inMemoryFromEnvironment(env);
      case "cassandra":
        try (LayeredConfig config = LayeredConfig.builder().environment(env).build()) {
          return new CassandraTraceStore(config.current());
        }
      default:
        throw new IllegalArgumentException("SKIFF_TRACE_STORE must be 'memory' or 'cassandra', not '" + kind + "'");
    }
  }

  /**
   * @param env environment variables
   * @return an in-memory store bounded by SKIFF_TRACE_MAX_TRACES and SKIFF_TRACE_MAX_SPANS
   * @throws IllegalArgumentException naming a variable whose value is not a positive number
   */
  public static InMemoryTraceStore inMemoryFromEnvironment(Map<String, String> env) {
    return new InMemoryTraceStore(EnvVars.positiveInt(env, "SKIFF_TRACE_MAX_TRACES", 10_000), EnvVars.positiveInt(env, "SKIFF_TRACE_MAX_SPANS", 1_000),
        EnvVars.positiveLong(env, "SKIFF_TRACE_MAX_BYTES", InMemoryTraceStore.DEFAULT_MAX_BYTES));
  }

  @Override
  protected void begin(KernelContext context) {
    if (givenHealth != null) {
      health = givenHealth;
    } else {
      monitoringHealth = closeAtEnd(MonitoringHealth.start(context, clock));
      health = monitoringHealth;
    }
    closeAtEnd(store).start();
    invalidSpans = context.metrics().counter(INVALID_SPANS);
    PubSub events = new PubSub(context.transport());
    Guard guard = context.guard();
    closeAtEnd(events.subscribeWithSender(SpanSink.ALL_TOPICS, SERVICE, SpanBatch.class,
        (topic, batch, sender) -> accept(admitted(guard, batch, sender))));
    ServerBuilder b =
        Server.builder(SERVICE).version(Release.version())
            .description("traces: get one by id, list recent ones")
            .transport(context.transport())
            .metrics(context.metrics())
            .identities(context.guard().identities())
            .endpoint(Endpoint.of("get", GetTraceRequest.class, Trace.class, (req, ctx) -> get(req.getTraceId())).withAccess(Guard.READ_VIEWS).asIdempotent())
            .endpoint(Endpoint.of("list", ListTracesRequest.class, TraceList.class, (req, ctx) -> list(req)).withAccess(Guard.READ_VIEWS).asIdempotent());
    store.healthCheck().ifPresent(check -> b.healthCheck("trace-store", check));
    List<Bound> bounds = new java.util.ArrayList<>(store.bounds());
    bounds.add(graph.bound());
    bounds.add(dropReports);
    if (monitoringHealth != null) {
      monitoringHealth.bound().ifPresent(bounds::add);
    }
    bounds.forEach(bound -> bound.register(context.metrics()));
    b.healthCheck("bounds", Bound.healthCheck(bounds));
    closeAtEnd(b.build().start());
    context.web().mount("/traces", "Traces: sequence diagrams and the service graph", new TracePages(this));
    log.info("trace service: storing spans from {} in {}; graph coloured by {}", SpanSink.ALL_TOPICS,
        store.getClass().getSimpleName(), givenHealth != null ? "the health source given" : monitoringHealth);
  }

  /**
   * The part of a batch its sender may report: spans of services it may act as; the others are refused
   * and counted ({@link Guard#SPAN}, per span).
   */
  static SpanBatch admitted(Guard guard, SpanBatch batch, String sender) {
    List<Span> mine = new java.util.ArrayList<>(batch.getSpansCount());
    for (Span s : batch.getSpansList()) {
      if (guard.mayActAs(Guard.SPAN, sender, s.getService().isEmpty() ? batch.getService() : s.getService())) {
        mine.add(s);
      }
    }
    // the batch's own figure (spans dropped) is the sender's word about its service
    boolean own = guard.identities().mayActAs(sender, batch.getService());
    if (own && mine.size() == batch.getSpansCount()) {
      return batch;
    }
    return batch.toBuilder().clearSpans().addAllSpans(mine).setDroppedTotal(own ? batch.getDroppedTotal() : 0).build();
  }

  /**
   * Takes a batch of spans (what arrives over the broker).
   *
   * @param batch the batch
   */
  public void accept(SpanBatch batch) {
    List<Span> valid = new java.util.ArrayList<>(batch.getSpansCount());
    for (Span s : batch.getSpansList()) {
      String problem = SpanCheck.problem(s);
      if (problem == null) {
        valid.add(s);
      } else {
        invalidSpans.inc();
        log.debug("refused a span from {}: {}", batch.getService(), problem);
      }
    }
    store.add(valid);
    graph.add(valid);
    spansReceived.addAndGet(valid.size());
    if (batch.getDroppedTotal() > 0 && batch.getService().length() + batch.getInstance().length() < 256) {
      noteDropped(batch.getService() + "/" + batch.getInstance(), batch.getDroppedTotal());
    }
  }

  /** Adds what an instance dropped since its last report; forgets the instance heard from least recently past the bound. */
  private void noteDropped(String key, long total) {
    synchronized (droppedByInstance) {
      Long before = droppedByInstance.put(key, total);
      droppedUpstream.addAndGet(total - (before == null ? 0 : before));
      if (before == null) {
        dropReportBytes += 2L * key.length();
      }
      var it = droppedByInstance.keySet().iterator();
      while (!dropReports.fits(droppedByInstance.size(), dropReportBytes) && it.hasNext()) {
        String eldest = it.next();
        it.remove();
        dropReportBytes -= 2L * eldest.length();
        dropReports.hit("the spans-dropped figure of the instance heard from least recently was forgotten");
      }
      dropReports.holds(droppedByInstance.size(), dropReportBytes);
    }
  }

  /**
   * @param traceId a trace id (32 hex characters)
   * @return the trace
   * @throws SkiffException BAD_REQUEST for a malformed id, NOT_FOUND for an unknown one
   */
  public Trace get(String traceId) {
    String id = normalise(traceId);
    List<Span> spans = store.trace(id).orElseThrow(() ->
        new SkiffException(ErrorCode.NOT_FOUND, "no trace " + id + " is stored (it was not sampled, its spans have not "
            + "arrived yet, or it is older than the store keeps)"));
    return Trace.newBuilder().setTraceId(id).addAllSpans(withCallerInstances(spans)).setSpansNotKept(store.spansNotKept(id)).build();
  }

  /**
   * Fills in the instance of client spans made by a handler (their tracing may not know its server's
   * instance id): the instance of the server span they were made from.
   */
  static List<Span> withCallerInstances(List<Span> spans) {
    Map<String, Span> servers = new java.util.HashMap<>();
    for (Span s : spans) {
      if (s.getKind() == dev.skiff.proto.v1.SpanKind.SPAN_KIND_SERVER) {
        servers.put(s.getSpanId(), s);
      }
    }
    List<Span> out = new java.util.ArrayList<>(spans.size());
    for (Span s : spans) {
      Span parent = s.getInstance().isEmpty() ? servers.get(s.getParentSpanId()) : null;
      out.add(parent != null && parent.getService().equals(s.getService()) ? s.toBuilder().setInstance(parent.getInstance()).build() : s);
    }
    return out;
  }

  /**
   * @param traceId a trace id as a user typed it
   * @return it in lower case
   * @throws SkiffException BAD_REQUEST when it is not 32 hex characters
   */
  static String normalise(String traceId) {
    String id = traceId == null ? "" : traceId.trim().toLowerCase(Locale.ROOT);
    if (!TRACE_ID.matcher(id).matches()) {
      throw new SkiffException(ErrorCode.BAD_REQUEST, "'" + traceId + "' is not a trace id: a trace id is 32 hex characters "
          + "(what skiff call --trace prints)");
    }
    return id;
  }

  /**
   * @param req the limit and service filter
   * @return the most recent traces
   */
  public TraceList list(ListTracesRequest req) {
    int limit = req.getLimit() <= 0 ? 20 : Math.min(req.getLimit(), 1000);
    return TraceList.newBuilder().addAllTraces(store.recent(limit, req.getService())).build();
  }

  /** @return the store */
  public TraceStore store() {
    return store;
  }

  /** @return where the graph's health colours come from (NONE before start) */
  HealthSource healthSource() {
    return health;
  }

  /** @return the service graph now */
  public ServiceGraph.Snapshot graph() {
    return graph.snapshot(health);
  }

  /** @return spans received */
  public long spansReceived() {
    return spansReceived.get();
  }

  /** @return spans that services reported dropping because their trace buffer was full */
  public long spansDroppedUpstream() {
    return droppedUpstream.get();
  }
}
