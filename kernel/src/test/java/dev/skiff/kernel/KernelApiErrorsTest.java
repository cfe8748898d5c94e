package dev.skiff.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.Struct;
import com.google.protobuf.util.JsonFormat;
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
import dev.skiff.platform.config.Settings;
import dev.skiff.platform.security.ServiceIdentities;
import dev.skiff.proto.v1.AddUserRequest;
import dev.skiff.proto.v1.LoginRequest;
import dev.skiff.proto.v1.Session;
import dev.skiff.proto.v1.UserResponse;
import dev.skiff.testing.RabbitMqExtension;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The kernel's JSON APIs ({@code /MOUNT/api/...}) answer every error as JSON of one shape,
 * {@code {"error":"CODE","message":"..."}}, the page gate's 401 and 403 and the 405s included (with
 * {@code Allow}), while the HTML pages keep their HTML error pages. Production mode
 * ({@code SKIFF_PAGES_AUTH=required}), every kernel service with pages, against a real login service.
 */
class KernelApiErrorsTest {
  @RegisterExtension static final RabbitMqExtension broker = RabbitMqExtension.create();
  private static final String PASSWORD = "api-errors-admin-pass";
  /** One path of each JSON API. */
  private static final List<String> APIS = List.of("/config/api/payments", "/monitoring/api/services", "/monitoring/api/services/nosuch",
      "/discovery/api/services", "/routing/api/rules", "/traces/api/v2/traces", "/traces/api/graph", "/traces/api/v2/trace/abc");

  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(2)).build();
  private Kernel kernel;
  private Client client;
  private String base;
  private String admin;
  private String reader;

  @BeforeEach
  void start() {
    kernel = Kernel.start(broker.transport(), Settings.fromEnvironment(Map.of()), ServiceIdentities.defaults(),
        List.of(new LoginService(Map.of("SKIFF_BOOTSTRAP_ADMIN_PASSWORD", PASSWORD)), new DiscoveryService(Clock.systemUTC()),
            new MonitoringService(), new BindingService(), new ConfigService(Map.of()),
            new TraceService(new InMemoryTraceStore(100, 100), HealthSource.NONE, Clock.systemUTC())),
        0, WebServer.Options.defaults().withAuth(WebServer.Options.Auth.REQUIRED));
    client = Client.builder().transport(broker.transport()).build();
    base = "http://127.0.0.1:" + kernel.web().port();
    LoginRequest req = LoginRequest.newBuilder().setUser("admin").setPassword(PASSWORD).build();
    admin = await().atMost(Duration.ofSeconds(30)).ignoreExceptions()
        .until(() -> client.call(LoginService.SERVICE, "login", req, Session.class), s -> true).getToken();
    client.withScope(CallScope.forUser(admin)).call(LoginService.SERVICE, "users.add",
        AddUserRequest.newBuilder().setUser("reader").setPassword("reader-password-1").addRoles("ADMIN.ROUTES").build(), UserResponse.class);
    reader = client.call(LoginService.SERVICE, "login",
        LoginRequest.newBuilder().setUser("reader").setPassword("reader-password-1").build(), Session.class).getToken();
  }

  @AfterEach
  void stop() {
    client.close();
    kernel.close();
  }

  private HttpResponse<String> send(HttpRequest.Builder b) throws Exception {
    return http.send(b.timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
  }

  private HttpRequest.Builder get(String path) {
    return HttpRequest.newBuilder(URI.create(base + path));
  }

  /** Asserts a response is a JSON error of the one shape and returns its message. */
  private static String jsonError(HttpResponse<String> r, int status, String code) throws Exception {
    String what = r.request().method() + " " + r.uri() + " -> " + r.body();
    assertThat(r.statusCode()).as(what).isEqualTo(status);
    assertThat(r.headers().firstValue("Content-Type")).as(what).hasValue("application/json");
    Struct.Builder s = Struct.newBuilder();
    JsonFormat.parser().merge(r.body(), s);
    assertThat(s.getFieldsMap().keySet()).as(what).containsExactlyInAnyOrder("error", "message");
    assertThat(s.getFieldsOrThrow("error").getStringValue()).as(what).isEqualTo(code);
    String message = s.getFieldsOrThrow("message").getStringValue();
    assertThat(message).as(what).isNotBlank();
    return message;
  }

  @Test
  void theGateRefusesTheJsonApisAsJson() throws Exception {
    for (String api : APIS) {
      HttpResponse<String> none = send(get(api));
      assertThat(jsonError(none, 401, "UNAUTHORIZED")).as(api).contains("ADMIN.PAGES").contains("/signin");
      assertThat(none.headers().firstValue("WWW-Authenticate")).as(api).hasValue("Bearer");
      WebServer.SECURITY_HEADERS.forEach((k, v) -> assertThat(none.headers().firstValue(k)).as(api + " " + k).hasValue(v));

      HttpResponse<String> garbage = send(get(api).header("Authorization", "Bearer garbage"));
      assertThat(jsonError(garbage, 401, "UNAUTHORIZED")).as(api).isEqualTo("the token was refused: MALFORMED");
      assertThat(garbage.headers().firstValue("WWW-Authenticate")).as(api).hasValue("Bearer error=\"invalid_token\"");

      HttpResponse<String> notAllowed = send(get(api).header("Authorization", "Bearer " + reader));
      assertThat(jsonError(notAllowed, 403, "FORBIDDEN")).as(api).contains("reader does not hold role ADMIN.PAGES");
    }
  }

  @Test
  void aChangeFromAnotherOriginWithTheCookieIsRefusedAsJson() throws Exception {
    String form = "user=admin&password=" + URLEncoder.encode(PASSWORD, StandardCharsets.UTF_8) + "&next=%2F";
    HttpResponse<String> signedIn = send(HttpRequest.newBuilder(URI.create(base + "/signin")).header("Origin", base)
        .header("Content-Type", "application/x-www-form-urlencoded").POST(HttpRequest.BodyPublishers.ofString(form)));
    assertThat(signedIn.statusCode()).as(signedIn.body()).isEqualTo(303);
    String c = signedIn.headers().firstValue("Set-Cookie").orElseThrow();
    String cookie = c.substring(0, c.indexOf(';'));
    HttpResponse<String> r = send(get("/config/api/payments").header("Cookie", cookie).header("Origin", "http://evil.example")
        .POST(HttpRequest.BodyPublishers.noBody()));
    assertThat(jsonError(r, 403, "FORBIDDEN")).contains("Origin");
  }

  @Test
  void aMethodNotServedIsA405WithAllowAsJson() throws Exception {
    for (String api : APIS) {
      for (String method : List.of("POST", "PUT", "DELETE")) {
        HttpResponse<String> r = send(get(api).header("Authorization", "Bearer " + admin).method(method, HttpRequest.BodyPublishers.noBody()));
        assertThat(jsonError(r, 405, "METHOD_NOT_ALLOWED")).as(api).contains(method);
        assertThat(r.headers().firstValue("Allow")).as(api).hasValue("GET, HEAD");
      }
    }
  }

  @Test
  void theApisOwnErrorsHaveTheOneShape() throws Exception {
    String bearer = "Bearer " + admin;
    assertThat(jsonError(send(get("/monitoring/api/services/no.such.service").header("Authorization", bearer)), 404, "NOT_FOUND"))
        .contains("no service 'no.such.service'");
    assertThat(jsonError(send(get("/traces/api/v2/trace/" + "0123456789abcdef".repeat(2)).header("Authorization", bearer)), 404, "NOT_FOUND"))
        .isNotBlank();
    // a hostile name is refused, escaped: never markup
    HttpResponse<String> hostile = send(get("/config/api/%3Cscript%3E").header("Authorization", bearer));
    jsonError(hostile, 400, "BAD_REQUEST");
    assertThat(hostile.body()).doesNotContain("<script>");
    assertThat(jsonError(send(get("/discovery/api/services?service=Bad%20Name").header("Authorization", bearer)), 400, "BAD_REQUEST"))
        .contains("is not a service name");
    // the bootstrap read needs a service: an empty name is refused as /monitoring/api/services/ refuses it
    for (String empty : List.of("/config/api/", "/monitoring/api/services/")) {
      assertThat(jsonError(send(get(empty).header("Authorization", bearer)), 400, "BAD_REQUEST")).as(empty)
          .startsWith("'' is not a service name");
    }
    for (String unknown : List.of("/config/api", "/monitoring/api/nothing", "/discovery/api/nothing", "/routing/api/nothing",
        "/traces/api/nothing")) {
      assertThat(jsonError(send(get(unknown).header("Authorization", bearer)), 404, "NOT_FOUND")).as(unknown).isNotBlank();
    }
  }

  @Test
  void theServersOwnRefusalsOnAnApiPathHaveTheOneShapeToo() throws Exception {
    // a body over the pages' bound is refused by Jetty before any handler sees it
    HttpResponse<String> big = send(get("/config/api/payments").header("Authorization", "Bearer " + admin)
        .header("Origin", base).POST(HttpRequest.BodyPublishers.ofString("x".repeat(WebServer.MAX_BODY_BYTES + 1))));
    assertThat(jsonError(big, 413, "TOO_LARGE")).contains("413");
    WebServer.SECURITY_HEADERS.forEach((k, v) -> assertThat(big.headers().firstValue(k)).as(k).hasValue(v));
  }

  @Test
  void theHtmlPagesKeepTheirHtmlErrorPages() throws Exception {
    for (String page : List.of("/", "/config", "/discovery", "/monitoring/", "/routing", "/traces")) {
      HttpResponse<String> r = send(get(page));
      assertThat(r.statusCode()).as(page).isEqualTo(401);
      assertThat(r.headers().firstValue("Content-Type")).as(page).hasValue("text/html; charset=utf-8");
      assertThat(r.body()).as(page).contains("Sign in needed");
      HttpResponse<String> refused = send(get(page).header("Authorization", "Bearer " + reader));
      assertThat(refused.statusCode()).as(page).isEqualTo(403);
      assertThat(refused.headers().firstValue("Content-Type")).as(page).hasValue("text/html; charset=utf-8");
    }
    HttpResponse<String> post = send(get("/config/diff").header("Authorization", "Bearer " + admin).POST(HttpRequest.BodyPublishers.noBody()));
    assertThat(post.statusCode()).isEqualTo(405);
    assertThat(post.headers().firstValue("Content-Type").orElseThrow()).doesNotContain("json");
    assertThat(post.headers().firstValue("Allow")).hasValue("GET, HEAD");
  }

  /**
   * A bad parameter of an HTML page is answered as a page (HTML or text), never as a JSON API's error, and
   * what was given is never echoed as markup.
   */
  @Test
  void anHtmlPagesBadParameterIsAnsweredAsAPageNotAsJson() throws Exception {
    String bearer = "Bearer " + admin;
    for (String page : List.of("/discovery?service=%3Cb%3E", "/discovery/?service=%3Cb%3E", "/monitoring/?service=%3Cb%3E",
        "/routing?service=%3Cb%3E", "/traces?service=%3Cb%3E", "/traces/view/%3Cb%3E", "/config?service=%3Cb%3E",
        "/config?before=%3Cb%3E", "/config/diff?from=%3Cb%3E&to=1")) {
      HttpResponse<String> r = send(get(page).header("Authorization", bearer));
      String what = page + " -> " + r.statusCode() + " " + r.body();
      assertThat(r.statusCode()).as(what).isIn(200, 400, 404);
      assertThat(r.headers().firstValue("Content-Type").orElseThrow()).as(what).doesNotContain("json");
      assertThat(r.body()).as(what).doesNotContain("<b>").doesNotContain("\"error\":");
    }
  }

  /** A page's version parameter that is not a number is named with what was given (escaped), as the rollback form's is. */
  @Test
  void aPagesVersionParameterThatIsNotANumberIsNamed() throws Exception {
    HttpResponse<String> r = send(get("/config?before=%3Cb%3Ex").header("Authorization", "Bearer " + admin));
    assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
    assertThat(r.body()).contains("before is not a version number: &#39;&lt;b&gt;x&#39;").doesNotContain("<b>");
  }

  /** The rollback form's version is its field {@code to}: one missing or not a number is named, not taken for version 0. */
  @Test
  void theRollbackFormSaysItsVersionIsMissingOrInvalid() throws Exception {
    for (String form : List.of("version=3&message=x&base=1", "to=&message=x&base=1", "to=three&message=x&base=1")) {
      HttpResponse<String> r = send(get("/config/rollback").header("Authorization", "Bearer " + admin).header("Origin", base)
          .header("Content-Type", "application/x-www-form-urlencoded").POST(HttpRequest.BodyPublishers.ofString(form)));
      String what = form + " -> " + r.body();
      assertThat(r.statusCode()).as(what).isEqualTo(400);
      assertThat(r.headers().firstValue("Content-Type").orElseThrow()).as(what).startsWith("text/html");
      assertThat(r.body()).as(what).contains("the version to roll back to (field to)").doesNotContain("version 0");
    }
  }
}
