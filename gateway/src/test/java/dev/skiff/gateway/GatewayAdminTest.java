package dev.skiff.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.skiff.kernel.binding.BindingService;
import dev.skiff.kernel.config.ConfigService;
import dev.skiff.kernel.discovery.DiscoveryService;
import dev.skiff.kernel.login.LoginService;
import dev.skiff.kernel.monitoring.MonitoringService;
import dev.skiff.kernel.trace.HealthSource;
import dev.skiff.kernel.trace.InMemoryTraceStore;
import dev.skiff.kernel.trace.TraceService;
import dev.skiff.platform.client.CallScope;
import dev.skiff.platform.client.Client;
import dev.skiff.proto.v1.LoginRequest;
import dev.skiff.proto.v1.Session;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The admin routes ({@code /admin/v1/...}) against real kernel services in-process (login, discovery,
 * monitoring, binding, config, trace): 401 without a session, 403 without the role (counted in
 * {@code skiff.gateway.admin.refused}, never sent on), the kernel's answers as JSON with it; a routing
 * rule changed through the gateway is the binding service's rule.
 */
class GatewayAdminTest {
  @RegisterExtension static final GatewayExtension gw = new GatewayExtension(GatewayOptions.defaults().withRates(1000, 1000))
      .withKernel(() -> List.of(new DiscoveryService(), new MonitoringService(),
          new BindingService(Clock.systemUTC(), Duration.ofMillis(200)), new ConfigService(Map.of()),
          new TraceService(new InMemoryTraceStore(100, 100), HealthSource.NONE, Clock.systemUTC())));
  static String admin;
  static String viewer;
  static String router;
  static String nobody;

  @BeforeAll
  static void signIn() {
    admin = gw.adminToken();
    viewer = gw.user("viewer", "ADMIN.PAGES");
    router = gw.user("router", "ADMIN.ROUTES:" + gw.f().service);
    nobody = gw.user("nobody", null);
  }

  private static HttpResponse<String> get(String path, String token) throws Exception {
    HttpRequest.Builder b = gw.f().request(path).GET();
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    return gw.f().send(b);
  }

  private static HttpResponse<String> putRule(String service, String token) throws Exception {
    HttpRequest.Builder b = gw.f().request("/admin/v1/routes").header("Content-Type", "application/json")
        .PUT(HttpRequest.BodyPublishers.ofString("{\"rule\":{\"service\":\"" + service + "\",\"weights\":{\"9.9.9\":100}},\"force\":true}"));
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    return gw.f().send(b);
  }

  private static HttpResponse<String> send(String method, String path, String json, String token) throws Exception {
    HttpRequest.Builder b = gw.f().request(path).header("Content-Type", "application/json")
        .method(method, HttpRequest.BodyPublishers.ofString(json));
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    return gw.f().send(b);
  }

  private static long refused() {
    return gw.f().gateway.metrics().counter(AdminRoutes.REFUSED).getCount();
  }

  @Test
  void withoutASessionEveryAdminRouteIs401() throws Exception {
    long before = refused();
    for (String path : List.of("/admin/v1/services", "/admin/v1/health", "/admin/v1/routes?service=" + gw.f().service, "/admin/v1/config",
        "/admin/v1/traces", "/admin/v1/traces/" + "ab".repeat(16), "/admin/v1/users")) {
      HttpResponse<String> r = get(path, null);
      assertThat(r.statusCode()).as(path).isEqualTo(401);
      assertThat(r.headers().firstValue("WWW-Authenticate")).isPresent();
      assertThat(r.body()).contains("\"code\":\"UNAUTHORIZED\"");
    }
    assertThat(putRule(gw.f().service, null).statusCode()).isEqualTo(401);
    assertThat(get("/admin/v1/services", "not-a-token").statusCode()).isEqualTo(401);
    assertThat(refused() - before).isGreaterThanOrEqualTo(5);
  }

  @Test
  void withoutTheRoleItIs403AndNothingChanges() throws Exception {
    long before = refused();
    HttpResponse<String> r = get("/admin/v1/services", nobody);
    assertThat(r.statusCode()).isEqualTo(403);
    assertThat(r.body()).contains("\"code\":\"FORBIDDEN\"", "ADMIN.PAGES");
    assertThat(get("/admin/v1/config", router).statusCode()).as("a route admin may not read").isEqualTo(403);
    assertThat(putRule(gw.f().service, viewer).statusCode()).as("a reader may not change rules").isEqualTo(403);
    HttpResponse<String> other = putRule("gwtest.someone-else", router);
    assertThat(other.statusCode()).as("a route admin of one service may not change another's").isEqualTo(403);
    assertThat(other.body()).contains("ADMIN.ROUTES:gwtest.someone-else");
    assertThat(refused() - before).isGreaterThanOrEqualTo(4);
    assertThat(get("/admin/v1/routes?service=gwtest.someone-else", viewer).body()).doesNotContain("9.9.9");
  }

  @Test
  void withTheRoleTheKernelsViewsAreServedAsJson() throws Exception {
    HttpResponse<String> services = await().atMost(Duration.ofSeconds(15)).ignoreExceptions()
        .until(() -> get("/admin/v1/services", viewer), r -> r.statusCode() == 200 && r.body().contains(gw.f().service));
    assertThat(services.headers().firstValue("Content-Type")).hasValue("application/json");
    assertThat(services.body()).contains("\"instances\":[");
    HttpResponse<String> one = get("/admin/v1/services?service=" + gw.f().service, viewer);
    assertThat(one.statusCode()).isEqualTo(200);
    assertThat(one.body()).contains(gw.f().service).doesNotContain(LoginService.SERVICE);
    HttpResponse<String> health = await().atMost(Duration.ofSeconds(30)).ignoreExceptions()
        .until(() -> get("/admin/v1/health?service=" + gw.f().service, admin), r -> r.statusCode() == 200 && r.body().contains(gw.f().service));
    assertThat(health.body()).contains("\"services\":[");
    HttpResponse<String> config = get("/admin/v1/config?service=" + gw.f().service, viewer);
    assertThat(config.statusCode()).as(config.body()).isEqualTo(200);
    assertThat(config.body()).contains("\"version\"");
    assertThat(get("/admin/v1/config?nonsense=1", viewer).statusCode()).isEqualTo(400);
  }

  @Test
  void aRouteAdminChangesTheirServicesRuleThroughTheGateway() throws Exception {
    HttpResponse<String> put = await().atMost(Duration.ofSeconds(15)).ignoreExceptions()
        .until(() -> putRule(gw.f().service, router), r -> r.statusCode() == 200);
    assertThat(put.body()).contains("\"9.9.9\":100");
    HttpResponse<String> read = get("/admin/v1/routes?service=" + gw.f().service, viewer);
    assertThat(read.statusCode()).isEqualTo(200);
    assertThat(read.body()).contains("\"service\":\"" + gw.f().service + "\"", "\"9.9.9\":100");
    try (Client client = gw.client()) {
      dev.skiff.proto.v1.RouteStatus st = client.withScope(CallScope.forUser(admin)).call(BindingService.SERVICE, "get_route",
          dev.skiff.proto.v1.GetRouteRequest.newBuilder().setService(gw.f().service).build(), dev.skiff.proto.v1.RouteStatus.class);
      assertThat(st.getRule().getWeightsMap()).containsEntry("9.9.9", 100);
    }
  }

  @Test
  void tracesAreReadThroughTheGatewayWithTheReadRole() throws Exception {
    HttpResponse<String> list = await().atMost(Duration.ofSeconds(15)).ignoreExceptions()
        .until(() -> get("/admin/v1/traces?limit=5", viewer), r -> r.statusCode() == 200);
    assertThat(list.body()).startsWith("{\"traces\":[");
    HttpResponse<String> unknown = get("/admin/v1/traces/" + "ab".repeat(16), viewer);
    assertThat(unknown.statusCode()).as(unknown.body()).isEqualTo(404);
    assertThat(unknown.body()).contains("\"code\":\"NOT_FOUND\"");
    assertThat(get("/admin/v1/traces/not-an-id", viewer).statusCode()).isEqualTo(400);
    assertThat(get("/admin/v1/traces", router).statusCode()).as("a route admin may not read traces").isEqualTo(403);
  }

  @Test
  void anAdministratorOfPeopleAddsListsAndChangesThemAndNoOneElseMay() throws Exception {
    String name = "gw-user-" + gw.f().service.substring(gw.f().service.length() - 6);
    long before = refused();
    assertThat(get("/admin/v1/users", viewer).statusCode()).as("reading pages is not administering people").isEqualTo(403);
    assertThat(send("POST", "/admin/v1/users", "{\"user\":\"" + name + "\",\"password\":\"first-password-1\"}", viewer).statusCode())
        .isEqualTo(403);
    assertThat(refused() - before).isGreaterThanOrEqualTo(2);
    String usersAdmin = gw.user("gw-people", "ADMIN.USERS");
    HttpResponse<String> added = await().atMost(Duration.ofSeconds(15)).ignoreExceptions()
        .until(() -> send("POST", "/admin/v1/users", "{\"user\":\"" + name + "\",\"password\":\"first-password-1\",\"roles\":[\"ADMIN.PAGES\"]}",
            usersAdmin), r -> r.statusCode() == 200);
    assertThat(added.body()).contains("\"user\":\"" + name + "\"", "ADMIN.PAGES").doesNotContain("first-password-1");
    assertThat(get("/admin/v1/users", usersAdmin).body()).contains("\"user\":\"" + name + "\"");
    HttpResponse<String> roles = send("PUT", "/admin/v1/users/" + name + "/roles", "{\"roles\":[\"ADMIN.ROUTES:x\"]}", usersAdmin);
    assertThat(roles.statusCode()).as(roles.body()).isEqualTo(200);
    assertThat(roles.body()).contains("ADMIN.ROUTES:x").doesNotContain("ADMIN.PAGES");
    HttpResponse<String> passwd = send("PUT", "/admin/v1/users/" + name + "/password", "{\"new_password\":\"second-password-2\"}", usersAdmin);
    assertThat(passwd.statusCode()).as(passwd.body()).isEqualTo(200);
    assertThat(passwd.body()).doesNotContain("second-password-2");
    HttpResponse<String> unlock = send("POST", "/admin/v1/users/" + name + "/unlock", "", usersAdmin);
    assertThat(unlock.statusCode()).as(unlock.body()).isEqualTo(200);
    assertThat(unlock.body()).contains("\"user\":\"" + name + "\"");
    assertThat(send("POST", "/admin/v1/users/" + name + "/unlock", "", viewer).statusCode()).isEqualTo(403);
    assertThat(send("POST", "/admin/v1/users/nobody-here/unlock", "", usersAdmin).statusCode()).isEqualTo(404);
    try (Client client = gw.client()) {
      Session s = client.call(LoginService.SERVICE, "login",
          LoginRequest.newBuilder().setUser(name).setPassword("second-password-2").build(), Session.class);
      assertThat(s.getRolesList()).containsExactly("ADMIN.ROUTES:x");
    }
  }

  @Test
  void aRoutesReadNeedsAValidServiceAndTheOtherViewsAValidOneWhenGiven() throws Exception {
    assertThat(get("/admin/v1/routes", null).statusCode()).as("the session is checked first").isEqualTo(401);
    HttpResponse<String> missing = get("/admin/v1/routes", viewer);
    assertThat(missing.statusCode()).as(missing.body()).isEqualTo(400);
    assertThat(missing.body()).contains("\"code\":\"BAD_REQUEST\"", "'service'").doesNotContain("\"rule\"");
    assertThat(get("/admin/v1/routes?service=", viewer).statusCode()).isEqualTo(400);
    for (String path : List.of("/admin/v1/routes?service=Not%20A%20Name", "/admin/v1/routes?service=%3Cscript%3E",
        "/admin/v1/services?service=Not%20A%20Name", "/admin/v1/health?service=Not%20A%20Name", "/admin/v1/config?service=Not%20A%20Name",
        "/admin/v1/traces?service=Not%20A%20Name")) {
      HttpResponse<String> r = get(path, viewer);
      assertThat(r.statusCode()).as(path + " " + r.body()).isEqualTo(400);
      assertThat(r.body()).as(path).contains("\"code\":\"BAD_REQUEST\"", "service").doesNotContain("<script>");
    }
    // an empty one lists every service where the route says it may be left out
    assertThat(get("/admin/v1/services?service=", viewer).statusCode()).isEqualTo(200);
  }

  @Test
  void onlyTheDeclaredAdminRoutesExist() throws Exception {
    HttpResponse<String> post = gw.f().send(gw.f().request("/admin/v1/routes").header("Authorization", "Bearer " + admin)
        .POST(HttpRequest.BodyPublishers.ofString("{}")));
    assertThat(post.statusCode()).isEqualTo(405);
    assertThat(post.headers().firstValue("Allow")).hasValue("GET, HEAD, PUT");
    assertThat(get("/admin/v1/nothing", admin).statusCode()).isEqualTo(404);
    assertThat(gw.f().get("/openapi.json").body()).doesNotContain("/admin/").doesNotContain(DiscoveryService.SERVICE)
        .doesNotContain(ConfigService.SERVICE);
  }
}
