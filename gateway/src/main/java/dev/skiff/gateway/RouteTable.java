package dev.skiff.gateway;

import com.codahale.metrics.Counter;
import com.codahale.metrics.MetricRegistry;
import com.google.api.HttpRule;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Descriptors.DescriptorValidationException;
import com.google.protobuf.Descriptors.FileDescriptor;
import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.DescriptorProtos.FileDescriptorSet;
import com.google.protobuf.util.JsonFormat;
import dev.skiff.kernel.discovery.Registry;
import dev.skiff.platform.internal.Printable;
import dev.skiff.platform.security.ServiceIdentities;
import dev.skiff.proto.v1.EndpointInfo;
import dev.skiff.proto.v1.InstanceAnnouncement;
import dev.skiff.proto.v1.InstanceInfo;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gateway's routes, learnt from the services' announcements (docs/gateway.md, "Routes"): each endpoint
 * announced with a {@code google.api.http} rule, with the request and response types built from the proto
 * files the announcement carries. Follows a discovery {@link Registry}: a service's routes are rebuilt
 * whenever an instance of it comes or goes, from its newest instance's announcement; a service whose last
 * instance has gone keeps its routes, marked gone, so that they answer 503 rather than 404.
 *
 * <p>Announcements are hostile input: kernel services ({@value ServiceIdentities#KERNEL_PREFIX}*) are never
 * routed; proto files are bounded ({@link #MAX_FILES}, {@link #MAX_DESCRIPTOR_BYTES}), routes too
 * ({@link #MAX_ROUTES_PER_SERVICE}, {@link #MAX_ROUTES}); a file, template or rule that does not build is
 * left out and logged (escaped). Two services claiming one method and path: the one whose name sorts first
 * keeps it ({@code skiff.gateway.routes.conflicts}). Thread-safe: lookups read an immutable snapshot.
 */
final class RouteTable {
  /** The most proto files one announcement's descriptors may hold. */
  static final int MAX_FILES = 64;
  /** The most bytes of proto descriptors taken from one announcement. */
  static final int MAX_DESCRIPTOR_BYTES = 256 * 1024;
  /** The most routes taken from one service. */
  static final int MAX_ROUTES_PER_SERVICE = 256;
  /** The most routes the gateway holds; beyond it a service's routes are left out. */
  static final int MAX_ROUTES = 10_000;
  /** The most services remembered as gone (answering 503); the oldest are forgotten first. */
  static final int MAX_GONE_SERVICES = 1_000;

  private static final Logger log = LoggerFactory.getLogger(RouteTable.class);
  private static final Pattern CUSTOM_METHOD = Pattern.compile("[A-Z][A-Z0-9_-]{0,31}");
  /**
   * The first path segments of what the gateway serves itself (admin and sign-in routes, the OpenAPI
   * document, the explorer): a service's route there would never be reached, so it is refused.
   */
  private static final Set<String> OWN_SEGMENTS = ownSegments();
  private static final Set<String> RESERVED_METHODS = Set.of("OPTIONS", "CONNECT", "TRACE");

  /** The proto files every reader has: what announcements leave out. */
  private static final Map<String, FileDescriptor> KNOWN = known();

  private final Counter conflicts;
  private final Counter refused;
  /** Per service, its routes and whether it runs; guarded by {@code this}. */
  private final Map<String, ServiceRoutes> services = new LinkedHashMap<>();
  private volatile Snapshot snapshot = new Snapshot(Map.of(), Map.of());

  /** A service's routes. */
  private record ServiceRoutes(List<Route> routes, boolean live) {}

  /** What lookups read: routes by method, most specific first; and whether each service runs. */
  private record Snapshot(Map<String, List<Route>> byMethod, Map<String, Boolean> live) {}

  /**
   * A route that matched a request.
   *
   * @param route the route
   * @param pathValues its path variables' values, by field path
   * @param live whether its service has a running instance
   */
  record Match(Route route, Map<String, String> pathValues, boolean live) {}

  /** @param metrics where {@code skiff.gateway.routes.*} go */
  RouteTable(MetricRegistry metrics) {
    this.conflicts = metrics.counter("skiff.gateway.routes.conflicts");
    this.refused = metrics.counter("skiff.gateway.routes.refused");
    metrics.gauge("skiff.gateway.routes", () -> () -> snapshot.byMethod().values().stream().mapToInt(List::size).sum());
  }

  /**
   * Follows a registry: the routes of a service are rebuilt whenever its instances change.
   *
   * @param registry the registry (not owned)
   * @return this
   */
  RouteTable follow(Registry registry) {
    registry.onChange(service -> update(service, registry.list(service)));
    for (InstanceInfo i : registry.list("")) {
      update(i.getAnnouncement().getService(), registry.list(i.getAnnouncement().getService()));
    }
    return this;
  }

  /**
   * Rebuilds one service's routes.
   *
   * @param service the service
   * @param instances its running instances now (empty when it has none)
   */
  synchronized void update(String service, List<InstanceInfo> instances) {
    if (service.startsWith(ServiceIdentities.KERNEL_PREFIX)) {
      return;
    }
    Optional<InstanceAnnouncement> newest = instances.stream().map(InstanceInfo::getAnnouncement)
        .filter(a -> a.getService().equals(service))
        .max(Comparator.comparingLong(InstanceAnnouncement::getStartedMs));
    if (newest.isEmpty()) {
      ServiceRoutes before = services.remove(service);
      if (before != null && !before.routes().isEmpty()) {
        services.put(service, new ServiceRoutes(before.routes(), false));
        forgetOldGone();
      }
    } else {
      List<Route> routes = build(newest.get());
      services.remove(service);
      if (!routes.isEmpty()) {
        services.put(service, new ServiceRoutes(routes, true));
      }
    }
    publish();
  }

  private void forgetOldGone() {
    long gone = services.values().stream().filter(s -> !s.live()).count();
    var it = services.entrySet().iterator();
    while (gone > MAX_GONE_SERVICES && it.hasNext()) {
      if (!it.next().getValue().live()) {
        it.remove();
        gone--;
      }
    }
  }

  private void publish() {
    Map<String, Route> byKey = new HashMap<>();
    Map<String, Boolean> live = new HashMap<>();
    int total = 0;
    // live services first, then gone ones, each by name: a route two services claim goes to the live one
    // (a gone service's routes answer 503 only where no running service serves them)
    List<Map.Entry<String, ServiceRoutes>> ordered = new ArrayList<>(new TreeMap<>(services).entrySet());
    ordered.sort(Comparator.comparing((Map.Entry<String, ServiceRoutes> e) -> !e.getValue().live()));
    for (Map.Entry<String, ServiceRoutes> s : ordered) {
      if (total + s.getValue().routes().size() > MAX_ROUTES) {
        refused.inc();
        log.warn("the gateway holds {} routes; the {} of {} are left out", MAX_ROUTES, s.getValue().routes().size(), s.getKey());
        continue;
      }
      live.put(s.getKey(), s.getValue().live());
      for (Route r : s.getValue().routes()) {
        Route had = byKey.putIfAbsent(r.key(), r);
        if (had != null) {
          conflicts.inc();
          log.warn("{} is claimed by {} and {}: {} keeps it", r.key(), had.service(), r.service(), had.service());
        } else {
          total++;
        }
      }
    }
    Map<String, List<Route>> byMethod = new HashMap<>();
    for (Route r : byKey.values()) {
      byMethod.computeIfAbsent(r.method(), m -> new ArrayList<>()).add(r);
    }
    byMethod.replaceAll((m, rs) -> rs.stream()
        .sorted(Comparator.comparingInt((Route r) -> -r.template().literals()).thenComparing(r -> r.template().toString()))
        .toList());
    snapshot = new Snapshot(Map.copyOf(byMethod), Map.copyOf(live));
  }

  /**
   * @param method the request's method
   * @param rawPath its path, still percent-encoded
   * @return the most specific route that matches
   * @throws IllegalArgumentException when the matching path is malformed (a bad percent-encoding)
   */
  Optional<Match> find(String method, String rawPath) {
    Snapshot s = snapshot;
    for (Route r : s.byMethod().getOrDefault(method, List.of())) {
      Optional<Map<String, String>> values = r.template().match(rawPath);
      if (values.isPresent()) {
        return Optional.of(new Match(r, values.get(), s.live().getOrDefault(r.service(), false)));
      }
    }
    return Optional.empty();
  }

  /**
   * @param rawPath a request's path
   * @return the methods that have a route for it (for 405 and CORS preflights)
   */
  Set<String> methodsFor(String rawPath) {
    Set<String> methods = new HashSet<>();
    snapshot.byMethod().forEach((m, rs) -> {
      for (Route r : rs) {
        try {
          if (r.template().match(rawPath).isPresent()) {
            methods.add(m);
            return;
          }
        } catch (IllegalArgumentException e) {
          return;
        }
      }
    });
    return methods;
  }

  /** @return every route, sorted by path then method */
  List<Route> all() {
    return snapshot.byMethod().values().stream().flatMap(List::stream)
        .sorted(Comparator.comparing((Route r) -> r.template().toString()).thenComparing(Route::method)).toList();
  }

  /** Builds the routes one announcement declares. */
  private List<Route> build(InstanceAnnouncement a) {
    List<EndpointInfo> http = a.getEndpointsList().stream().filter(EndpointInfo::hasHttp).toList();
    if (http.isEmpty()) {
      return List.of();
    }
    Map<String, Descriptor> types;
    try {
      types = types(a.getDescriptors());
    } catch (DescriptorValidationException | RuntimeException e) {
      refused.inc();
      log.warn("{}: its announced proto files are refused: {}", Printable.of(a.getService()), Printable.of(e.getMessage(), 200));
      return List.of();
    }
    RouteJson json = RouteJson.of(JsonFormat.TypeRegistry.newBuilder().add(types.values()).build());
    List<Route> routes = new ArrayList<>();
    for (EndpointInfo e : http) {
      Descriptor request = types.get(e.getRequestType());
      Descriptor response = types.get(e.getResponseType());
      if (request == null || response == null) {
        refused.inc();
        log.warn("{}/{}: its request or response type is not in the announced proto files", Printable.of(a.getService()), Printable.of(e.getName()));
        continue;
      }
      List<HttpRule> rules = new ArrayList<>();
      rules.add(e.getHttp());
      rules.addAll(e.getHttp().getAdditionalBindingsList());
      for (int binding = 0; binding < rules.size(); binding++) {
        HttpRule rule = rules.get(binding);
        if (routes.size() >= MAX_ROUTES_PER_SERVICE) {
          refused.inc();
          log.warn("{}: more than {} routes; the rest are left out", Printable.of(a.getService()), MAX_ROUTES_PER_SERVICE);
          return routes;
        }
        try {
          routes.add(route(a, e, rule, binding, request, response, json));
        } catch (IllegalArgumentException x) {
          refused.inc();
          log.warn("{}/{}: its http rule is refused: {}", Printable.of(a.getService()), Printable.of(e.getName()), Printable.of(x.getMessage(), 200));
        }
      }
    }
    return routes;
  }

  private static Route route(InstanceAnnouncement a, EndpointInfo e, HttpRule rule, int binding, Descriptor request, Descriptor response,
      RouteJson json) {
    String method;
    String path;
    switch (rule.getPatternCase()) {
      case GET -> { method = "GET"; path = rule.getGet(); }
      case PUT -> { method = "PUT"; path = rule.getPut(); }
      case POST -> { method = "POST"; path = rule.getPost(); }
      case DELETE -> { method = "DELETE"; path = rule.getDelete(); }
      case PATCH -> { method = "PATCH"; path = rule.getPatch(); }
      case CUSTOM -> { method = customMethod(rule.getCustom().getKind()); path = rule.getCustom().getPath(); }
      default -> throw new IllegalArgumentException("the rule names no method and path");
    }
    FieldDescriptor responseBody = null;
    if (!rule.getResponseBody().isEmpty()) {
      responseBody = response.findFieldByName(rule.getResponseBody());
      if (responseBody == null) {
        throw new IllegalArgumentException("response_body: no field " + Printable.of(rule.getResponseBody()) + " in " + response.getFullName());
      }
    }
    PathTemplate template = PathTemplate.parse(path);
    if (template.firstLiteral().filter(OWN_SEGMENTS::contains).isPresent()) {
      throw new IllegalArgumentException(Printable.of(path, 80) + " is under a path the gateway serves itself");
    }
    String body = rule.getBody().isEmpty() ? null : rule.getBody();
    Duration timeout = e.getTimeoutMs() > 0 ? Duration.ofMillis(Math.min(e.getTimeoutMs(), Gateway.MAX_TIMEOUT.toMillis())) : Gateway.DEFAULT_TIMEOUT;
    return new Route(method, template, body, a.getService(), e.getName(), request, response, timeout, responseBody, json, binding);
  }

  private static Set<String> ownSegments() {
    Set<String> own = new HashSet<>();
    for (String path : List.of(AdminRoutes.PREFIX, SignInRoutes.PREFIX, OpenApi.PATH, Readiness.LIVE_PATH, Readiness.READY_PATH)) {
      own.add(path.split("/")[1]);
    }
    ExplorerPage.paths().forEach(p -> own.add(p.substring(1)));
    return Set.copyOf(own);
  }

  /**
   * @param kind a {@code custom} rule's method (untrusted)
   * @return it, when it is an HTTP method a route may claim: upper-case letters, digits, {@code -} and
   *     {@code _}, at most 32; not {@code OPTIONS} (the gateway answers CORS preflights), {@code CONNECT} or
   *     {@code TRACE} (a proxy's and a diagnostic's, never a service's)
   */
  static String customMethod(String kind) {
    if (!CUSTOM_METHOD.matcher(kind).matches() || RESERVED_METHODS.contains(kind)) {
      throw new IllegalArgumentException("custom kind " + Printable.of(kind, 40)
          + " is not a method a route may claim (upper-case letters, digits, - and _; not OPTIONS, CONNECT or TRACE)");
    }
    return kind;
  }

  /** Builds the announced files and returns every message type in them, by full name. */
  private static Map<String, Descriptor> types(FileDescriptorSet set) throws DescriptorValidationException {
    if (set.getFileCount() > MAX_FILES || set.getSerializedSize() > MAX_DESCRIPTOR_BYTES) {
      throw new IllegalArgumentException("more than " + MAX_FILES + " files or " + MAX_DESCRIPTOR_BYTES + " bytes");
    }
    Map<String, FileDescriptorProto> protos = new HashMap<>();
    for (FileDescriptorProto f : set.getFileList()) {
      if (!KNOWN.containsKey(f.getName())) {
        protos.put(f.getName(), f);
      }
    }
    Map<String, FileDescriptor> built = new HashMap<>(KNOWN);
    for (String name : protos.keySet()) {
      build(name, protos, built, new HashSet<>());
    }
    Map<String, Descriptor> types = new HashMap<>();
    for (String name : protos.keySet()) {
      addTypes(built.get(name).getMessageTypes(), types);
    }
    return types;
  }

  private static FileDescriptor build(String name, Map<String, FileDescriptorProto> protos, Map<String, FileDescriptor> built,
      Set<String> building) throws DescriptorValidationException {
    FileDescriptor done = built.get(name);
    if (done != null) {
      return done;
    }
    FileDescriptorProto p = protos.get(name);
    if (p == null) {
      throw new IllegalArgumentException("an imported file is missing: " + Printable.of(name));
    }
    if (!building.add(name)) {
      throw new IllegalArgumentException("files import each other in a cycle: " + Printable.of(name));
    }
    List<FileDescriptor> deps = new ArrayList<>();
    for (String d : p.getDependencyList()) {
      deps.add(build(d, protos, built, building));
    }
    FileDescriptor f = FileDescriptor.buildFrom(p, deps.toArray(FileDescriptor[]::new));
    built.put(name, f);
    return f;
  }

  private static void addTypes(List<Descriptor> messages, Map<String, Descriptor> into) {
    for (Descriptor d : messages) {
      into.put(d.getFullName(), d);
      addTypes(d.getNestedTypes(), into);
    }
  }

  private static Map<String, FileDescriptor> known() {
    Map<String, FileDescriptor> m = new HashMap<>();
    for (FileDescriptor f : List.of(
        com.google.protobuf.DescriptorProtos.getDescriptor(), com.google.protobuf.AnyProto.getDescriptor(),
        com.google.protobuf.TimestampProto.getDescriptor(), com.google.protobuf.DurationProto.getDescriptor(),
        com.google.protobuf.StructProto.getDescriptor(), com.google.protobuf.WrappersProto.getDescriptor(),
        com.google.protobuf.EmptyProto.getDescriptor(), com.google.protobuf.FieldMaskProto.getDescriptor(),
        com.google.api.AnnotationsProto.getDescriptor(), com.google.api.HttpProto.getDescriptor(),
        com.google.api.FieldBehaviorProto.getDescriptor(), com.google.api.ResourceProto.getDescriptor(),
        com.google.api.ClientProto.getDescriptor())) {
      m.put(f.getName(), f);
      for (FileDescriptor d : f.getDependencies()) {
        m.putIfAbsent(d.getName(), d);
      }
    }
    return Map.copyOf(m);
  }
}
