package dev.skiff.kernel.monitoring;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import com.sun.net.httpserver.HttpExchange;
import dev.skiff.kernel.Bound;
import dev.skiff.kernel.Guard;
import dev.skiff.kernel.KernelContext;
import dev.skiff.kernel.KernelServiceBase;
import dev.skiff.kernel.ServiceNameRefusal;
import dev.skiff.kernel.WebServer;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.Names;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.health.ServiceMonitor;
import dev.skiff.platform.internal.Release;
import dev.skiff.platform.pubsub.PubSub;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.Server;
import dev.skiff.proto.v1.HealthOverview;
import dev.skiff.proto.v1.HealthQuery;
import dev.skiff.proto.v1.HealthReport;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.Optional;

/**
 * The monitoring kernel service: collects the health reports every service instance publishes (topic
 * {@code health.SERVICE}), keeps the latest of each and a short history ({@link HealthStore}), and
 * serves them as
 *
 * <ul>
 *   <li>a dashboard at {@value #PATH}/ (one panel per service, generated from what it publishes);
 *   <li>JSON at {@value #PATH}/api/services and {@value #PATH}/api/services/NAME;
 *   <li>the RPC endpoint {@value #SERVICE}/{@value #ENDPOINT} (a {@link HealthQuery} answered with a
 *       {@link HealthOverview}), which {@code skiff health [NAME]} calls.
 * </ul>
 *
 * <p>Every copy subscribes to every report, so several copies agree, and a restarted one catches up
 * within one publish interval. Lifecycle: {@code start() -> close()}.
 */
public final class MonitoringService extends KernelServiceBase {
  /** Where the dashboard and its JSON API are mounted. */
  public static final String PATH = "/monitoring";
  /** The service name the monitoring service answers RPCs as. */
  public static final String SERVICE = "skiff.monitoring";
  /** The endpoint that answers a {@link HealthQuery}. */
  public static final String ENDPOINT = "health";
  /** How many points of history are kept per endpoint and instance. */
  public static final int HISTORY = 120;

  private final Clock clock;
  private final HealthStore store;

  /** The name of the store's bound: its metrics are {@code skiff.kernel.bound.health-store.*}. */
  public static final String BOUND = "health-store";

  /**
   * A monitoring service on the system clock, its store bounded as the environment says ({@link
   * HealthStore#limitsFromEnvironment}): what {@link java.util.ServiceLoader} creates.
   *
   * @throws IllegalArgumentException naming a variable whose value is invalid
   */
  public MonitoringService() {
    this(Clock.systemUTC(), HealthStore.limitsFromEnvironment(System.getenv()));
  }

  /** @param clock the clock staleness is judged by; the store bounded by {@link HealthStore#DEFAULT_LIMITS} */
  public MonitoringService(Clock clock) {
    this(clock, HealthStore.DEFAULT_LIMITS);
  }

  /**
   * @param clock the clock staleness is judged by
   * @param limits how many instances and bytes the store holds at most
   */
  public MonitoringService(Clock clock, Bound.Limits limits) {
    super("monitoring");
    this.clock = clock;
    this.store = new HealthStore(clock, HISTORY, new Bound(BOUND, limits, false));
  }


  @Override
  protected void begin(KernelContext context) {
    store.bound().register(context.metrics());
    closeAtEnd(new PubSub(context.transport())
        .subscribeWithSender(ServiceMonitor.TOPIC_PREFIX + "#", null, HealthReport.class, (topic, report, sender) -> {
          if (context.guard().mayActAs(Guard.HEALTH_REPORT, sender, report.getService())) {
            store.accept(report);
          }
        }));
    closeAtEnd(Server.builder(SERVICE).version(Release.version())
        .description("Collects every service's health and metrics; serves the dashboard and skiff health")
        .transport(context.transport())
        .metrics(context.metrics())
        .identities(context.guard().identities())
        .settings(context.settings())
        .healthCheck("bounds", Bound.healthCheck(java.util.List.of(store.bound())))
        .endpoint(Endpoint.of(ENDPOINT, HealthQuery.class, HealthOverview.class, (q, ctx) -> query(q)).withAccess(Guard.READ_VIEWS).asIdempotent())
        .build()
        .start());
    context.web().mount(PATH, "Monitoring: the health of every service", this::http);
  }

  /**
   * What this copy has heard of every service, for kernel services running beside it in the same
   * process (the trace service colours its service graph by it). Empty until started.
   *
   * @return the state (live: it changes as reports arrive)
   */
  public HealthStore store() {
    return store;
  }

  private HealthOverview query(HealthQuery q) {
    if (q.getService().isEmpty()) {
      return store.overview();
    }
    if (!Names.isService(q.getService())) {
      throw new SkiffException(ErrorCode.BAD_REQUEST, ServiceNameRefusal.of(q.getService()));
    }
    return store.service(q.getService())
        .map(s -> HealthOverview.newBuilder().setEpochMillis(clock.millis()).addServices(s).build())
        .orElseThrow(() -> new SkiffException(ErrorCode.NOT_FOUND, unknown(q.getService())));
  }

  private String unknown(String name) {
    return "no service '" + name + "' has published its health lately (known: "
        + (store.names().isEmpty() ? "none yet" : String.join(", ", store.names())) + ")";
  }

  private void http(HttpExchange ex) throws IOException {
    String path = ex.getRequestURI().getPath();
    if (!"GET".equals(ex.getRequestMethod()) && !"HEAD".equals(ex.getRequestMethod())) {
      WebServer.methodNotAllowed(ex, "GET, HEAD");
      return;
    }
    if (path.equals(PATH) || path.equals(PATH + "/")) {
      WebServer.send(ex, 200, "text/html; charset=utf-8", resource("dashboard.html"));
    } else if (path.equals(PATH + "/dashboard.js")) {
      // a served file, not an inline script: the pages' Content-Security-Policy runs no inline script
      WebServer.send(ex, 200, "text/javascript; charset=utf-8", resource("dashboard.js"));
    } else if (path.equals(PATH + "/api/services")) {
      WebServer.send(ex, 200, "application/json", json(store.overview()));
    } else if (path.startsWith(PATH + "/api/services/")) {
      String name = path.substring((PATH + "/api/services/").length()); // getPath() has decoded it
      if (!Names.isService(name)) {
        WebServer.sendError(ex, 400, ErrorCode.BAD_REQUEST.name(), ServiceNameRefusal.of(name));
        return;
      }
      Optional<dev.skiff.proto.v1.ServiceStatus> s = store.service(name);
      if (s.isPresent()) {
        WebServer.send(ex, 200, "application/json", json(s.get()));
      } else {
        WebServer.sendError(ex, 404, ErrorCode.NOT_FOUND.name(), unknown(name));
      }
    } else {
      WebServer.notFound(ex, "not found: " + path + " (the dashboard is at " + PATH + "/, the JSON at " + PATH + "/api/services)");
    }
  }

  private static String json(MessageOrBuilder m) {
    try {
      return JsonFormat.printer().print(m);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("cannot print " + m.getClass().getSimpleName() + " as JSON", e);
    }
  }

  private static String resource(String name) {
    try (InputStream in = MonitoringService.class.getResourceAsStream(name)) {
      if (in == null) {
        throw new IllegalStateException(name + " is missing from the classpath");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
