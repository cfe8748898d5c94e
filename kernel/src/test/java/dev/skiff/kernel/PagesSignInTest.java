package dev.skiff.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.skiff.kernel.discovery.DiscoveryService;
import dev.skiff.kernel.http.TrustedProxies;
import dev.skiff.kernel.login.LoginService;
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
 * The kernel's pages in production mode ({@code SKIFF_PAGES_AUTH=required}, issue 17 item 5): no page
 * without a signed-in person with role ADMIN.PAGES (ADMIN covers it), by bearer token or by the session
 * cookie the sign-in form sets (403 for a person without the role); the form refuses posts from other
 * origins; sign-ins are paced per client address (the test's loopback is a trusted proxy, so each test speaks
 * for client addresses of its own with {@code X-Forwarded-For}). Against a real login service.
 */
class PagesSignInTest {
  @RegisterExtension static final RabbitMqExtension broker = RabbitMqExtension.create();
  private static final String PASSWORD = "pages-admin-pass";

  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(2)).build();
  private Kernel kernel;
  private Client client;
  private String base;

  @BeforeEach
  void start() {
    kernel = Kernel.start(broker.transport(), Settings.fromEnvironment(Map.of()), ServiceIdentities.defaults(),
        List.of(new LoginService(Map.of("SKIFF_BOOTSTRAP_ADMIN_PASSWORD", PASSWORD)), new DiscoveryService(Clock.systemUTC())),
        0, WebServer.Options.defaults().withAuth(WebServer.Options.Auth.REQUIRED)
            .withTrustedProxies(TrustedProxies.parse("127.0.0.0/8, ::1/128", "", "SKIFF_HTTP_")));
    client = Client.builder().transport(broker.transport()).build();
    base = "http://127.0.0.1:" + kernel.web().port();
  }

  @AfterEach
  void stop() {
    client.close();
    kernel.close();
  }

  private String adminToken() {
    LoginRequest req = LoginRequest.newBuilder().setUser("admin").setPassword(PASSWORD).build();
    return await().atMost(Duration.ofSeconds(30)).ignoreExceptions()
        .until(() -> client.call(LoginService.SERVICE, "login", req, Session.class), s -> true).getToken();
  }

  private HttpResponse<String> send(HttpRequest.Builder b) throws Exception {
    return http.send(b.timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
  }

  private HttpRequest.Builder get(String path) {
    return HttpRequest.newBuilder(URI.create(base + path));
  }

  private HttpRequest.Builder signInForm(String user, String password) {
    String form = "user=" + URLEncoder.encode(user, StandardCharsets.UTF_8) + "&password=" + URLEncoder.encode(password, StandardCharsets.UTF_8)
        + "&next=%2Fdiscovery";
    return HttpRequest.newBuilder(URI.create(base + "/signin")).header("Content-Type", "application/x-www-form-urlencoded")
        .POST(HttpRequest.BodyPublishers.ofString(form));
  }

  @Test
  void everyPageNeedsASignedInAdministrator() throws Exception {
    for (String page : List.of("/", "/discovery", "/discovery/api/services")) {
      HttpResponse<String> r = send(get(page));
      assertThat(r.statusCode()).as(page).isEqualTo(401);
      assertThat(r.body()).as(page).doesNotContain("Discovery: running instances").contains("/signin");
      WebServer.SECURITY_HEADERS.forEach((k, v) -> assertThat(r.headers().firstValue(k)).as(page + " " + k).hasValue(v));
    }
    assertThat(send(get("/discovery").header("Authorization", "Bearer not-a-token")).statusCode()).isEqualTo(401);

    String token = adminToken();
    HttpResponse<String> page = send(get("/discovery").header("Authorization", "Bearer " + token));
    assertThat(page.statusCode()).isEqualTo(200);
    assertThat(page.body()).contains("<table").contains("skiff.discovery");
    assertThat(send(get("/").header("Authorization", "Bearer " + token)).body()).contains("Signed in as admin");

    // a person without ADMIN.PAGES (or ADMIN) is refused, with 403
    client.withScope(CallScope.forUser(token)).call(LoginService.SERVICE, "users.add",
        AddUserRequest.newBuilder().setUser("reader").setPassword("reader-password-1").addRoles("ADMIN.ROUTES").build(), UserResponse.class);
    String reader = client.call(LoginService.SERVICE, "login",
        LoginRequest.newBuilder().setUser("reader").setPassword("reader-password-1").build(), Session.class).getToken();
    HttpResponse<String> refused = send(get("/discovery").header("Authorization", "Bearer " + reader));
    assertThat(refused.statusCode()).isEqualTo(403);
    assertThat(refused.body()).contains("reader does not hold role ADMIN.PAGES");
  }

  @Test
  void aRefusedChangeSendsThePersonToSignInAndBackToThePageItsFormWasOn() throws Exception {
    // a GET of a POST-only action would answer "GET is not served here": sign-in returns to the form's page
    HttpResponse<String> fromForm = send(get("/discovery/anything").header("Referer", base + "/config?service=com.example.greeter&env=prod")
        .POST(HttpRequest.BodyPublishers.ofString("to=4")));
    assertThat(fromForm.statusCode()).isEqualTo(401);
    assertThat(fromForm.body()).contains("/signin?next=%2Fconfig%3Fservice%3Dcom.example.greeter%26env%3Dprod\"");
    HttpResponse<String> noReferer = send(get("/discovery/anything").POST(HttpRequest.BodyPublishers.ofString("to=4")));
    assertThat(noReferer.body()).contains("/signin?next=%2F\"");
    // a read returns to itself, as before
    assertThat(send(get("/discovery?service=a")).body()).contains("/signin?next=%2Fdiscovery%3Fservice%3Da\"");
  }

  /** @return the session cookie's value a response sets */
  private static String sessionCookie(HttpResponse<String> r) {
    String c = r.headers().firstValue("Set-Cookie").orElseThrow(() -> new AssertionError("no Set-Cookie: " + r.statusCode()));
    assertThat(c).startsWith(PageGate.COOKIE + "=").contains("HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=");
    return c.substring(PageGate.COOKIE.length() + 1, c.indexOf(';'));
  }

  @Test
  void aPageSessionIsRenewedWhileThePagesAreUsedAndItsOldTokenStillEnds() throws Exception {
    kernel.close();
    kernel = Kernel.start(broker.transport(), Settings.fromEnvironment(Map.of()), ServiceIdentities.defaults(),
        List.of(new LoginService(Map.of("SKIFF_BOOTSTRAP_ADMIN_PASSWORD", PASSWORD, "SKIFF_LOGIN_TOKEN_TTL", "6s")),
            new DiscoveryService(Clock.systemUTC())),
        0, WebServer.Options.defaults().withAuth(WebServer.Options.Auth.REQUIRED)
            .withTrustedProxies(TrustedProxies.parse("127.0.0.0/8, ::1/128", "", "SKIFF_HTTP_")));
    base = "http://127.0.0.1:" + kernel.web().port();
    adminToken(); // the login service answers
    HttpResponse<String> signedIn = send(signInForm("admin", PASSWORD).header("Origin", base).header("X-Forwarded-For", "203.0.113.40"));
    assertThat(signedIn.statusCode()).as(signedIn.body()).isEqualTo(303);
    String first = sessionCookie(signedIn);

    HttpResponse<String> early = send(get("/discovery").header("Cookie", PageGate.COOKIE + "=" + first));
    assertThat(early.statusCode()).isEqualTo(200);
    assertThat(early.headers().firstValue("Set-Cookie")).as("more than half its life left: kept").isEmpty();

    Thread.sleep(3_500); // past half of the token's 6 s
    HttpResponse<String> later = send(get("/discovery").header("Cookie", PageGate.COOKIE + "=" + first));
    assertThat(later.statusCode()).isEqualTo(200);
    String renewed = sessionCookie(later);
    assertThat(renewed).as("a new token for the same session").isNotEqualTo(first);

    // the first token still ends (its expiry, plus the verifiers' 5 s for clocks that differ); the new one opens the pages
    await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(500))
        .until(() -> send(get("/discovery").header("Cookie", PageGate.COOKIE + "=" + first)).statusCode() == 401);
    assertThat(send(get("/discovery").header("Cookie", PageGate.COOKIE + "=" + renewed)).statusCode()).isEqualTo(200);
  }

  @Test
  void aFloodOfRefusedSignInsForOneNameStopsNoOneElsesSignIn() throws Exception {
    adminToken(); // the login service answers
    // nine failures make the name's next attempt wait 8 s, longer than the pages' call may: each is then
    // refused at once with CAPACITY, unchecked; sixty of them would open a breaker that counted them
    for (int i = 0; i < 9; i++) {
      assertThat(send(signInForm("victim", "guess-" + i).header("Origin", base).header("X-Forwarded-For", "198.51.100." + i))
          .statusCode()).isEqualTo(401);
    }
    for (int i = 0; i < 60; i++) { // from many addresses, as a flood that the per-address pace cannot stop would come
      HttpResponse<String> r = send(signInForm("victim", "guess").header("Origin", base).header("X-Forwarded-For", "203.0.113." + i));
      assertThat(r.statusCode()).as(r.body()).isEqualTo(503);
      assertThat(r.body()).contains("CAPACITY");
    }
    assertThat(send(signInForm("admin", PASSWORD).header("Origin", base)).statusCode()).isEqualTo(303);
  }

  @Test
  void signInsArePacedPerClientAddressBeforeTheLoginServiceIsAsked() throws Exception {
    adminToken(); // the login service answers
    // the burst (a sixth of a minute's), then one a second: however slowly the machine answers, the pace is
    // reached, and the right password does not pass it either
    int burst = WebServer.Options.defaults().signInsPerMinute() / 6;
    int answered = 0;
    HttpResponse<String> paced = null;
    for (int i = 0; i < burst + 40 && paced == null; i++) {
      HttpResponse<String> r = send(signInForm("admin", PASSWORD).header("Origin", base).header("X-Forwarded-For", "198.51.100.7"));
      if (r.statusCode() == 429) {
        paced = r;
      } else {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(303);
        answered++;
      }
    }
    assertThat(answered).isGreaterThanOrEqualTo(burst);
    assertThat(paced).as("refused past the pace").isNotNull();
    assertThat(paced.headers().firstValue("Retry-After")).hasValueSatisfying(v -> assertThat(Long.parseLong(v)).isPositive());
    assertThat(paced.body()).contains("too many sign-ins from this address").doesNotContain(PASSWORD);
    assertThat(paced.headers().firstValue("Set-Cookie")).isEmpty();
    assertThat(kernel.metrics().counter(PageGate.SIGN_IN_METRIC + ".limited").getCount()).isEqualTo(1);
    // the forwarded client is the key: another address behind the same proxy signs in, and so does the proxy itself
    assertThat(send(signInForm("admin", PASSWORD).header("Origin", base).header("X-Forwarded-For", "198.51.100.8")).statusCode())
        .isEqualTo(303);
    assertThat(send(signInForm("admin", PASSWORD).header("Origin", base)).statusCode()).isEqualTo(303);
    // a form refused for its origin is not a sign-in and takes nothing from the address's pace
    for (int i = 0; i <= burst; i++) {
      assertThat(send(signInForm("admin", PASSWORD).header("Origin", "http://evil.example").header("X-Forwarded-For", "198.51.100.9"))
          .statusCode()).isEqualTo(403);
    }
    assertThat(send(signInForm("admin", PASSWORD).header("Origin", base).header("X-Forwarded-For", "198.51.100.9")).statusCode())
        .isEqualTo(303);
  }

  @Test
  void behindAProxyThatTerminatesTlsTheFormTakesThePublicOriginAndTheCookieIsSecure() throws Exception {
    adminToken(); // the login service answers
    // what a TLS-terminating proxy in front sends on: the browser asked https://pages.example
    HttpResponse<String> ok = send(signInForm("admin", PASSWORD).header("Origin", "https://pages.example")
        .header("X-Forwarded-Proto", "https").header("X-Forwarded-Host", "pages.example"));
    assertThat(ok.statusCode()).as(ok.body()).isEqualTo(303);
    assertThat(ok.headers().firstValue("Set-Cookie").orElseThrow()).contains("HttpOnly", "SameSite=Strict", "; Secure");
    HttpResponse<String> rfc = send(signInForm("admin", PASSWORD).header("Origin", "https://pages.example")
        .header("Forwarded", "for=192.0.2.60;proto=https;host=\"pages.example\", for=10.0.0.1"));
    assertThat(rfc.statusCode()).isEqualTo(303);
    assertThat(rfc.headers().firstValue("Set-Cookie").orElseThrow()).contains("; Secure");
    // the scheme and the host must both match what the proxy says the browser used
    assertThat(send(signInForm("admin", PASSWORD).header("Origin", "http://pages.example")
        .header("X-Forwarded-Proto", "https").header("X-Forwarded-Host", "pages.example")).statusCode()).isEqualTo(403);
    assertThat(send(signInForm("admin", PASSWORD).header("Origin", "https://evil.example")
        .header("X-Forwarded-Proto", "https").header("X-Forwarded-Host", "pages.example")).statusCode()).isEqualTo(403);
  }

  @Test
  void theSignInFormSetsAStrictHttpOnlyCookieAndRefusesOtherOrigins() throws Exception {
    adminToken(); // the login service answers
    assertThat(send(get("/signin")).statusCode()).as("the form itself is open").isEqualTo(200);
    assertThat(send(signInForm("admin", PASSWORD)).statusCode()).as("no Origin").isEqualTo(403);
    assertThat(send(signInForm("admin", PASSWORD).header("Origin", "http://evil.example")).statusCode()).as("another origin")
        .isEqualTo(403);
    HttpResponse<String> wrong = send(signInForm("admin", "wrong").header("Origin", base));
    assertThat(wrong.statusCode()).isEqualTo(401);
    assertThat(wrong.headers().firstValue("Set-Cookie")).isEmpty();

    HttpResponse<String> ok = send(signInForm("admin", PASSWORD).header("Origin", base));
    assertThat(ok.statusCode()).isEqualTo(303);
    assertThat(ok.headers().firstValue("Location")).hasValue("/discovery");
    String cookie = ok.headers().firstValue("Set-Cookie").orElseThrow();
    assertThat(cookie).startsWith("skiff_session=").contains("HttpOnly").contains("SameSite=Strict").contains("Path=/")
        .doesNotContain("Secure"); // plain HTTP here; over TLS it is Secure
    String pair = cookie.substring(0, cookie.indexOf(';'));
    assertThat(send(get("/discovery").header("Cookie", pair)).statusCode()).isEqualTo(200);
    // a change with the cookie but from another origin is refused
    assertThat(send(get("/discovery").header("Cookie", pair).header("Origin", "http://evil.example")
        .POST(HttpRequest.BodyPublishers.ofString(""))).statusCode()).isEqualTo(403);

    HttpResponse<String> out = send(HttpRequest.newBuilder(URI.create(base + "/signout")).header("Cookie", pair).header("Origin", base)
        .POST(HttpRequest.BodyPublishers.noBody()));
    assertThat(out.statusCode()).isEqualTo(303);
    assertThat(out.headers().firstValue("Set-Cookie").orElseThrow()).contains("Max-Age=0");
    // signing out ended the session everywhere: the old cookie no longer opens a page
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(send(get("/discovery").header("Cookie", pair)).statusCode())
        .isEqualTo(401));
  }
}
