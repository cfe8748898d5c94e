package dev.skiff.gateway;

import com.codahale.metrics.Counter;
import com.codahale.metrics.MetricRegistry;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.Parser;
import dev.skiff.kernel.WebServer;
import dev.skiff.kernel.binding.BindingService;
import dev.skiff.kernel.config.ConfigService;
import dev.skiff.kernel.discovery.DiscoveryService;
import dev.skiff.kernel.login.LoginService;
import dev.skiff.kernel.monitoring.MonitoringService;
import dev.skiff.kernel.trace.TraceService;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.Names;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.security.Role;
import dev.skiff.platform.security.UserIdentity;
import dev.skiff.proto.v1.AddUserRequest;
import dev.skiff.proto.v1.ChangePasswordRequest;
import dev.skiff.proto.v1.ConfigView;
import dev.skiff.proto.v1.GetConfigRequest;
import dev.skiff.proto.v1.GetRouteRequest;
import dev.skiff.proto.v1.GetTraceRequest;
import dev.skiff.proto.v1.HealthOverview;
import dev.skiff.proto.v1.HealthQuery;
import dev.skiff.proto.v1.ListServicesRequest;
import dev.skiff.proto.v1.ListServicesResponse;
import dev.skiff.proto.v1.ListTracesRequest;
import dev.skiff.proto.v1.ListUsersRequest;
import dev.skiff.proto.v1.RouteStatus;
import dev.skiff.proto.v1.SetRolesRequest;
import dev.skiff.proto.v1.SetRouteRequest;
import dev.skiff.proto.v1.Trace;
import dev.skiff.proto.v1.TraceList;
import dev.skiff.proto.v1.UnlockUserRequest;
import dev.skiff.proto.v1.UserList;
import dev.skiff.proto.v1.UserResponse;
import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The only way from outside to the kernel services (docs/gateway.md, "Admin routes"): a fixed set of routes
 * under {@value #PREFIX}, each made to one kernel endpoint, for a signed-in person holding the role the
 * route needs (docs/security.md): {@code ADMIN.PAGES} to read (services, health, routing rules,
 * configuration, traces), {@code ADMIN.ROUTES:SERVICE} to change a service's routing rule,
 * {@code ADMIN.USERS} to list, add and change people. Without a token 401, without the role 403, both
 * counted in {@value #REFUSED} and never sent on. The call is made with the person's token, so the kernel
 * service checks them again. Immutable, thread-safe.
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

  /** What a route needs of the person calling it. */
  private sealed interface Needs {}

  /** The same role for every request. */
  private record Fixed(Role role) implements Needs {}

  /** A role that depends on the request (known once its body is read). */
  private record PerRequest<T extends Message>(Parser<T> parser, Function<T, Role> role) implements Needs {
    /** @return the role the request needs; BAD_REQUEST when it does not say enough to tell */
    Role of(Message request) {
      try {
        return role.apply(parser.parseFrom(request.toByteString()));
      } catch (InvalidProtocolBufferException e) {
        throw new SkiffException(ErrorCode.BAD_REQUEST, "the request cannot be read");
      }
    }
  }

  /** The routes, each with what it needs. */
  private final Map<Route, Needs> routes;
  /** The routes whose request must name a service ({@code ?service=S}). */
  private final Set<Route> needService;
  /** The routes whose service, when given, must be a valid service name (the config service checks its own). */
  private final Set<Route> checkService;
  private final FixedRoutes table;
  private final Counter refused;

  /** @param metrics where {@value #REFUSED} goes */
  AdminRoutes(MetricRegistry metrics) {
    Map<Route, Needs> m = new LinkedHashMap<>();
    Needs read = new Fixed(READ_ROLE);
    Needs users = new Fixed(LoginService.USERS_ADMIN);
    Route services = route("GET", "services", null, DiscoveryService.SERVICE, "list", ListServicesRequest.getDescriptor(),
        ListServicesResponse.getDescriptor());
    m.put(services, read);
    Route health = route("GET", "health", null, MonitoringService.SERVICE, MonitoringService.ENDPOINT, HealthQuery.getDescriptor(),
        HealthOverview.getDescriptor());
    m.put(health, read);
    Route getRoute = route("GET", "routes", null, BindingService.SERVICE, "get_route", GetRouteRequest.getDescriptor(),
        RouteStatus.getDescriptor());
    m.put(getRoute, read);
    m.put(route("PUT", "routes", "*", BindingService.SERVICE, "set_route", SetRouteRequest.getDescriptor(),
        RouteStatus.getDescriptor()), new PerRequest<>(SetRouteRequest.parser(), AdminRoutes::routesAdmin));
    m.put(route("GET", "config", null, ConfigService.SERVICE, "get", GetConfigRequest.getDescriptor(), ConfigView.getDescriptor()), read);
    Route traces = route("GET", "traces", null, TraceService.SERVICE, "list", ListTracesRequest.getDescriptor(), TraceList.getDescriptor());
    m.put(traces, read);
    m.put(route("GET", "traces/{trace_id}", null, TraceService.SERVICE, "get", GetTraceRequest.getDescriptor(), Trace.getDescriptor()), read);
    m.put(route("GET", "users", null, LoginService.SERVICE, "users.list", ListUsersRequest.getDescriptor(), UserList.getDescriptor()), users);
    m.put(route("POST", "users", "*", LoginService.SERVICE, "users.add", AddUserRequest.getDescriptor(), UserResponse.getDescriptor()), users);
    m.put(route("PUT", "users/{user}/roles", "*", LoginService.SERVICE, "users.roles", SetRolesRequest.getDescriptor(),
        UserResponse.getDescriptor()), users);
    m.put(route("PUT", "users/{user}/password", "*", LoginService.SERVICE, "users.passwd", ChangePasswordRequest.getDescriptor(),
        UserResponse.getDescriptor()), users);
    m.put(route("POST", "users/{user}/unlock", "*", LoginService.SERVICE, "users.unlock", UnlockUserRequest.getDescriptor(),
        UserResponse.getDescriptor()), users);
    this.routes = Collections.unmodifiableMap(m);
    this.needService = Set.of(getRoute);
    this.checkService = Set.of(getRoute, services, health, traces);
    this.table = new FixedRoutes(PREFIX, List.copyOf(m.keySet()));
    this.refused = metrics.counter(REFUSED);
  }

  private static Route route(String method, String path, String body, String service, String endpoint, Descriptor request,
      Descriptor response) {
    return new Route(method, PathTemplate.parse(PREFIX + path), body, service, endpoint, request, response, TIMEOUT);
  }

  /** @return the routes, under {@value #PREFIX} */
  FixedRoutes routes() {
    return table;
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
    Needs needs = routes.get(route);
    Role needed;
    if (needs instanceof Fixed f) {
      needed = f.role();
    } else if (request == null) {
      return;
    } else {
      needed = ((PerRequest<?>) needs).of(request);
    }
    if (!person.hasRole(needed)) {
      refused.inc();
      audit.warn("denied service=skiff.gateway what={} {} code=FORBIDDEN user={} reason=\"needs role {}\"", route.method(),
          route.template(), person.user(), needed);
      throw new SkiffException(ErrorCode.FORBIDDEN, person.user() + " does not hold role " + needed + " (or a role covering it)");
    }
  }

  /**
   * Checks the service a request names, before it is sent on: a route that reads one service's view
   * ({@code GET routes}) needs {@code ?service=S}; on the others ({@code services}, {@code health},
   * {@code traces}; {@code config}'s global layer) it may be left out, but when given it must be a valid
   * service name ({@code config}'s is checked by the config service, whose layer names are its own).
   *
   * @param route an admin route
   * @param request its request message
   * @throws SkiffException BAD_REQUEST naming the parameter
   */
  void checkRequest(Route route, Message request) {
    FieldDescriptor field = request.getDescriptorForType().findFieldByName("service");
    if (!checkService.contains(route) || field == null || field.getJavaType() != FieldDescriptor.JavaType.STRING || field.isRepeated()) {
      return;
    }
    String service = (String) request.getField(field);
    if (service.isEmpty()) {
      if (needService.contains(route)) {
        throw new SkiffException(ErrorCode.BAD_REQUEST, "the query parameter 'service' is required: " + route.method() + " "
            + route.template() + "?service=NAME");
      }
      return;
    }
    if (!Names.isService(service)) {
      throw new SkiffException(ErrorCode.BAD_REQUEST, "the query parameter 'service' is not a valid service name: use dot-separated "
          + "lower-case parts of letters, digits, '_' and '-' (at most " + Names.MAX_SERVICE + " characters), e.g. com.example.greeter");
    }
  }

  /** The role a routing rule's change needs: that of administering the routes of the rule's service. */
  private static Role routesAdmin(SetRouteRequest request) {
    String service = request.getRule().getService();
    if (service.isEmpty()) {
      throw new SkiffException(ErrorCode.BAD_REQUEST, "rule.service is required");
    }
    return BindingService.ROUTES_ADMIN.scopedTo(service);
  }
}
