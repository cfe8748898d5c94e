package dev.skiff.kernel.discovery;

import dev.skiff.kernel.Guard;
import com.google.protobuf.util.JsonFormat;
import dev.skiff.kernel.Bound;
import dev.skiff.kernel.KernelContext;
import dev.skiff.kernel.KernelServiceBase;
import dev.skiff.kernel.ServiceNameRefusal;
import dev.skiff.kernel.WebServer;
import dev.skiff.platform.internal.Release;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.Server;
import dev.skiff.proto.v1.ListServicesRequest;
import dev.skiff.proto.v1.ListServicesResponse;
import java.time.Clock;

/**
 * The discovery kernel service: keeps the registry of running instances from their announcements and
 * answers queries as the Skiff service {@value #SERVICE} (endpoint {@code list}) and on the kernel's
 * web server at {@code /discovery} (JSON). Several copies may run: each keeps the whole registry, so any
 * of them answers. See docs/routing.md.
 */
public final class DiscoveryService extends KernelServiceBase {
  /** The service name queries go to. */
  public static final String SERVICE = "skiff.discovery";

  /** The name of the registry's bound: its metrics are {@code skiff.kernel.bound.discovery-registry.*}. */
  public static final String BOUND = "discovery-registry";

  private final Clock clock;
  private final Bound.Limits limits;
  private Registry registry;

  /**
   * For {@link java.util.ServiceLoader}: the system clock, the registry bounded as the environment says
   * ({@link Registry#limitsFromEnvironment}).
   *
   * @throws IllegalArgumentException naming a variable whose value is invalid
   */
  public DiscoveryService() {
    this(Clock.systemUTC(), Registry.limitsFromEnvironment(System.getenv()));
  }

  /** @param clock the time source; the registry bounded by {@link Registry#DEFAULT_LIMITS} */
  public DiscoveryService(Clock clock) {
    this(clock, Registry.DEFAULT_LIMITS);
  }

  /**
   * @param clock the time source
   * @param limits how many instances and bytes the registry holds at most
   */
  public DiscoveryService(Clock clock, Bound.Limits limits) {
    super("discovery");
    this.clock = clock;
    this.limits = limits;
  }


  @Override
  protected void begin(KernelContext context) {
    Bound bound = new Bound(BOUND, limits, false).register(context.metrics());
    registry = closeAtEnd(new Registry(clock, bound).start(context.transport(), context.guard()));
    closeAtEnd(
        Server.builder(SERVICE)
            .description("The registry of running service instances")
            .version(Release.version())
            .transport(context.transport())
            .metrics(context.metrics())
            .identities(context.guard().identities())
            .healthCheck("bounds", Bound.healthCheck(java.util.List.of(bound)))
            .endpoint(Endpoint.of("list", ListServicesRequest.class, ListServicesResponse.class, (req, ctx) -> list(req))
                .withAccess(Guard.READ_VIEWS).asIdempotent())
            .build()
            .start());
    context.web().mount("/discovery", "Discovery: running instances", ex -> {
      if (!ex.getRequestMethod().equals("GET") && !ex.getRequestMethod().equals("HEAD")) {
        WebServer.methodNotAllowed(ex, "GET, HEAD");
        return;
      }
      String service = WebServer.query(ex).getOrDefault("service", "");
      String path = ex.getRequestURI().getPath();
      ListServicesResponse found;
      try {
        found = list(ListServicesRequest.newBuilder().setService(service).build());
      } catch (dev.skiff.platform.SkiffException e) {
        if (WebServer.isApi(path)) {
          WebServer.sendError(ex, 400, e.code().name(), e.description());
        } else {
          // a page keeps an HTML error page (docs/observability.md, "Errors of the JSON APIs")
          WebServer.send(ex, 400, "text/html; charset=utf-8", WebServer.page("Discovery: refused", "<p class=\"err\" id=\"error\">"
              + WebServer.escape(e.code() + ": " + e.description()) + "</p><p><a href=\"/discovery\">Every service</a></p>"));
        }
        return;
      }
      if (path.equals("/discovery/api/services")) {
        WebServer.send(ex, 200, "application/json", JsonFormat.printer().print(found));
      } else if (path.equals("/discovery") || path.equals("/discovery/")) {
        WebServer.send(ex, 200, "text/html; charset=utf-8", DiscoveryPage.render(found, service));
      } else {
        WebServer.notFound(ex, "not found (the page is /discovery, the JSON /discovery/api/services)");
      }
    });
  }

  private ListServicesResponse list(ListServicesRequest req) {
    if (!req.getService().isEmpty() && !dev.skiff.platform.Names.isService(req.getService())) {
      throw new dev.skiff.platform.SkiffException(dev.skiff.platform.ErrorCode.BAD_REQUEST,
          ServiceNameRefusal.of(req.getService()) + "; leave it empty for every service");
    }
    return ListServicesResponse.newBuilder()
        .addAllInstances(registry.list(req.getService()))
        .setNowMs(clock.millis())
        .build();
  }

  /** @return the registry this copy keeps */
  public Registry registry() {
    return registry;
  }
}
