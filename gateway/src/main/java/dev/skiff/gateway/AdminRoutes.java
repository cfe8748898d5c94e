package dev.skiff.gateway;

import com.codahale.metrics.Counter;
import com.codahale.metrics.MetricRegistry;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import dev.skiff.kernel.WebServer;
import dev.skiff.kernel.binding.BindingService;
import dev.skiff.kernel.config.ConfigService;
import dev.skiff.kernel.discovery.DiscoveryService;
import dev.skiff.kernel.monitoring.MonitoringService;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.security.Role;
import dev.skiff.platform.security.UserIdentity;
import dev.skiff.proto.v1.ConfigView;
import dev.skiff.proto.v1.GetConfigRequest;
import dev.skiff.proto.v1.GetRouteRequest;
import dev.skiff.proto.v1.HealthOverview;
import dev.skiff.proto.v1.HealthQuery;
import dev.skiff.proto.v1.ListServicesRequest;
import dev.skiff.proto.v1.ListServicesResponse;
import dev.skiff.proto.v1.RouteStatus;
import dev.skiff.proto.v1.SetRouteRequest;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The only way from outside to the kernel services (docs/gateway.md, "Admin routes"): a fixed set of routes
 * under {@value #PREFIX}, each made to one kernel endpoint, for a signed-in person holding the role the
 * route needs (docs/security.md): {@code ADMIN.PAGES} to read (services, health, routing rules,
 * configuration), {@code ADMIN.ROUTES:SERVICE} to change a service's routing rule. Without a token 401,
 * without the role 403, both counted in {@value #REFUSED} and never sent on. The call is made with the
 * person's token, so the kernel service checks them again. Immutable, thread-safe.
 */
final class AdminRoutes {
  /** The path prefix of every admin route. */
  static final String PREFIX = "/admin/v1/";
  /** Counts requests to admin routes refused for want of a session (401) or a role (403). */
  static final String REFUSED = "skiff.gateway.admin.refused";
  /** The role that reading through the admin routes needs, as for the kernel's pages. */
  static final Role READ_ROLE = WebServer.PAGES_ROLE;

  private static final Logger audit = LoggerFactory.getLogger("skiff.audit");
  private static final Duration TIMEOUT = Duration.ofSeconds(10);

  private final List<Route> routes;
  private final Counter refused;

  /** @param metrics where {@value #REFUSED} goes */
  AdminRoutes(MetricRegistry metrics) {
    this.routes = List.of(
        route("GET", "services", DiscoveryService.SERVICE, "list", ListServicesRequest.getDescriptor(), ListServicesResponse.getDescriptor()),
        route("GET", "health", MonitoringService.SERVICE, MonitoringService.ENDPOINT, HealthQuery.getDescriptor(), HealthOverview.getDescriptor()),
        route("GET", "routes", BindingService.SERVICE, "get_route", GetRouteRequest.getDescriptor(), RouteStatus.getDescriptor()),
        new Route("PUT", PathTemplate.parse(PREFIX + "routes"), "*", BindingService.SERVICE, "set_route",
            SetRouteRequest.getDescriptor(), RouteStatus.getDescriptor(), TIMEOUT),
        route("GET", "config", ConfigService.SERVICE, "get", GetConfigRequest.getDescriptor(), ConfigView.getDescriptor()));
    this.refused = metrics.counter(REFUSED);
  }

  private static Route route(String method, String path, String service, String endpoint, Descriptor request, Descriptor response) {
    return new Route(method, PathTemplate.parse(PREFIX + path), null, service, endpoint, request, response, TIMEOUT);
  }

  /** @return whether the path is under {@value #PREFIX} (such a path never reaches a service's route) */
  static boolean covers(String path) {
    return path.startsWith(PREFIX) || path.equals(PREFIX.substring(0, PREFIX.length() - 1));
  }

  /** @return the admin route for the method and path */
  Optional<RouteTable.Match> find(String method, String path) {
    for (Route r : routes) {
      if (r.method().equals(method)) {
        Optional<Map<String, String>> values = r.template().match(path);
        if (values.isPresent()) {
          return Optional.of(new RouteTable.Match(r, values.get(), true));
        }
      }
    }
    return Optional.empty();
  }

  /** @return the methods served at the path */
  Set<String> methodsFor(String path) {
    Set<String> methods = new TreeSet<>();
    for (Route r : routes) {
      if (r.template().match(path).isPresent()) {
        methods.add(r.method());
      }
    }
    return methods;
  }

  /**
   * Checks that the person may use the route: signed in, and holding its role.
   *
   * @param route an admin route
   * @param person the verified person, or null without a token
   * @param request the request message, or null while it is not read yet (only the session is checked then
   *     for a route whose role depends on the request)
   * @throws SkiffException UNAUTHORIZED without a person, FORBIDDEN without the role (counted and audited)
   */
  void check(Route route, UserIdentity person, Message request) {
    if (person == null) {
      refused.inc();
      throw new SkiffException(ErrorCode.UNAUTHORIZED, "the admin routes need a session: send Authorization: Bearer TOKEN");
    }
    Role needed;
    if (route.endpoint().equals("set_route")) {
      if (request == null) {
        return;
      }
      String service = ruleService(request);
      if (service.isEmpty()) {
        throw new SkiffException(ErrorCode.BAD_REQUEST, "rule.service is required");
      }
      needed = BindingService.ROUTES_ADMIN.scopedTo(service);
    } else {
      needed = READ_ROLE;
    }
    if (!person.hasRole(needed)) {
      refused.inc();
      audit.warn("denied service=skiff.gateway what={} {} code=FORBIDDEN user={} reason=\"needs role {}\"", route.method(),
          route.template(), person.user(), needed);
      throw new SkiffException(ErrorCode.FORBIDDEN, person.user() + " does not hold role " + needed + " (or a role covering it)");
    }
  }

  private static String ruleService(Message request) {
    FieldDescriptor rule = request.getDescriptorForType().findFieldByName("rule");
    Message r = (Message) request.getField(rule);
    return (String) r.getField(r.getDescriptorForType().findFieldByName("service"));
  }
}
