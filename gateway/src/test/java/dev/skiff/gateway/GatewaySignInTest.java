package dev.skiff.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.Empty;
import com.google.protobuf.StringValue;
import dev.skiff.platform.client.CallScope;
import dev.skiff.platform.client.Client;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * People sign in, renew, see who they are, change their password and sign out through the gateway
 * ({@code /auth/v1/...}) against a real login service; a wrong password is one answer whoever the name;
 * sign-ins are limited per client address (429); and a flood of sign-ins refused for a locked-out name
 * does not stop anyone else's (the sign-in client has no breaker to open). The gateway trusts the test's
 * loopback as a proxy, so each test speaks for client addresses of its own ({@code X-Forwarded-For}).
 */
class GatewaySignInTest {
  @RegisterExtension static final GatewayExtension gw = new GatewayExtension(GatewayOptions.defaults().withRates(1000, 1000)
      .withTrustedProxies("127.0.0.0/8, ::1/128", "")).withKernel(List::of);
  private static final AtomicInteger addresses = new AtomicInteger();

  @BeforeAll
  static void people() {
    gw.user("ada", "ADMIN.PAGES");
    gw.user("bob", null);
  }

  /** @return a client address no other request of this class has used */
  private static String newAddress() {
    int n = addresses.incrementAndGet();
    return "198.51." + (100 + n / 250) + "." + (1 + n % 250);
  }

  private static HttpResponse<String> send(String method, String path, String json, String token, String address) throws Exception {
    HttpRequest.Builder b = gw.f().request(path).header("X-Forwarded-For", address);
    if (json != null) {
      b.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(json));
    } else {
      b.method(method, HttpRequest.BodyPublishers.noBody());
    }
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    return gw.f().send(b);
  }

  private static HttpResponse<String> signIn(String user, String password, String address) throws Exception {
    return send("POST", "/auth/v1/login", "{\"user\":\"" + user + "\",\"password\":\"" + password + "\"}", null, address);
  }

  private static String token(HttpResponse<String> session) {
    String body = session.body();
    int at = body.indexOf("\"token\":\"") + 9;
    return body.substring(at, body.indexOf('"', at));
  }

  @Test
  void withoutATokenTheRoutesForASessionAnswer401WithWwwAuthenticate() throws Exception {
    String address = newAddress();
    for (String[] route : new String[][] {{"GET", "/auth/v1/whoami"}, {"POST", "/auth/v1/logout"}, {"POST", "/auth/v1/renew"}}) {
      HttpResponse<String> r = send(route[0], route[1], null, null, address);
      assertThat(r.statusCode()).as(route[1] + ": " + r.body()).isEqualTo(401);
      assertThat(r.headers().firstValue("WWW-Authenticate")).as(route[1]).hasValue("Bearer");
    }
  }

  @Test
  void aPersonSignsInUsesTheTokenRenewsItAndSignsOut() throws Exception {
    String address = newAddress();
    HttpResponse<String> session = signIn("ada", "ada-password-1", address);
    assertThat(session.statusCode()).as(session.body()).isEqualTo(200);
    assertThat(session.headers().firstValue("Cache-Control")).hasValue("no-store");
    assertThat(session.body()).contains("\"user\":\"ada\"", "\"roles\":[\"ADMIN.PAGES\"]", "\"expiresAtMs\":\"");
    String token = token(session);

    HttpResponse<String> call = send("GET", "/v1/whoami", null, token, address);
    assertThat(call.statusCode()).as(call.body()).isEqualTo(200);
    assertThat(call.body()).contains("\"user\":\"ada\"");
    HttpResponse<String> who = send("GET", "/auth/v1/whoami", null, token, address);
    assertThat(who.statusCode()).as(who.body()).isEqualTo(200);
    assertThat(who.body()).contains("\"user\":\"ada\"", "ADMIN.PAGES");
    assertThat(who.body()).as("whoami carries no token, not even an empty one").doesNotContain("\"token\"");

    HttpResponse<String> renewed = send("POST", "/auth/v1/renew", "{}", token, address);
    assertThat(renewed.statusCode()).as(renewed.body()).isEqualTo(200);
    String newToken = token(renewed);
    assertThat(newToken).isNotEqualTo(token);

    assertThat(send("POST", "/auth/v1/logout", null, newToken, address).statusCode()).isEqualTo(200);
    HttpResponse<String> after = await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(100))
        .until(() -> send("GET", "/auth/v1/whoami", null, newToken, address), r -> r.statusCode() == 401);
    assertThat(after.body()).contains("REVOKED");
  }

  @Test
  void withoutASessionOnlyTheSignInItselfIsOpen() throws Exception {
    String address = newAddress();
    for (String[] r : List.of(new String[] {"GET", "/auth/v1/whoami"}, new String[] {"POST", "/auth/v1/renew"},
        new String[] {"POST", "/auth/v1/logout"})) {
      HttpResponse<String> resp = send(r[0], r[1], null, null, address);
      assertThat(resp.statusCode()).as(r[1] + " " + resp.body()).isEqualTo(401);
      assertThat(resp.body()).contains("\"code\":\"UNAUTHORIZED\"");
    }
    assertThat(send("GET", "/auth/v1/login", null, null, address).statusCode()).isEqualTo(405);
    assertThat(send("GET", "/auth/v1/nothing", null, null, address).statusCode()).isEqualTo(404);
    String doc = gw.f().get("/openapi.json").body();
    assertThat(doc).contains("\"/auth/v1/login\":{\"post\":{\"operationId\":\"skiff.login/login\"", "\"/auth/v1/whoami\":{\"get\"",
        "\"securitySchemes\":{\"bearer\":{\"type\":\"http\",\"scheme\":\"bearer\"", "\"security\":[{},{\"bearer\":[]}]")
        .doesNotContain("users.add", "/admin/");
  }

  @Test
  void theGatewaysOpenapiEndpointAnswersTheDocumentItServes() throws Exception {
    try (Client c = gw.client()) {
      String overRpc = c.withScope(CallScope.forUser(gw.adminToken()))
          .call(GatewayServer.NAME, "openapi", Empty.getDefaultInstance(), StringValue.class).getValue();
      assertThat(overRpc).contains("\"/auth/v1/login\"").isEqualTo(gw.f().get("/openapi.json").body());
    }
  }

  @Test
  void aWrongPasswordAndAnUnknownNameGetTheSameAnswerAndNoPasswordIsEchoed() throws Exception {
    String address = newAddress();
    HttpResponse<String> wrong = signIn("bob", "not-bobs-password", address);
    HttpResponse<String> unknown = signIn("nobody-at-all", "not-bobs-password", address);
    assertThat(wrong.statusCode()).isEqualTo(401);
    assertThat(unknown.statusCode()).isEqualTo(401);
    assertThat(wrong.body().replaceAll("\"request_id\":\"[0-9a-f]+\"", ""))
        .isEqualTo(unknown.body().replaceAll("\"request_id\":\"[0-9a-f]+\"", "")).doesNotContain("not-bobs-password");
    assertThat(send("POST", "/auth/v1/login", "{\"user\":\"bob\",\"password\":\"x\",\"admin\":true}", null, address).statusCode())
        .as("an unknown field").isEqualTo(400);
  }

  @Test
  void aTokenSentAlongWithASignInIsNotRead() throws Exception {
    HttpRequest.Builder b = gw.f().request("/auth/v1/login").header("X-Forwarded-For", newAddress())
        .header("Authorization", "Bearer an.expired.token").header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"user\":\"bob\",\"password\":\"bob-password-1\"}"));
    HttpResponse<String> r = gw.f().send(b);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(r.body()).contains("\"user\":\"bob\"");
  }

  @Test
  void aPersonChangesTheirOwnPasswordWithTheOldOne() throws Exception {
    String address = newAddress();
    String token = gw.user("cleo", null);
    HttpResponse<String> wrongOld = send("PUT", "/auth/v1/password",
        "{\"user\":\"cleo\",\"old_password\":\"guess\",\"new_password\":\"cleo-password-2\"}", token, address);
    assertThat(wrongOld.statusCode()).isEqualTo(401);
    HttpResponse<String> someoneElse = send("PUT", "/auth/v1/password",
        "{\"user\":\"bob\",\"old_password\":\"cleo-password-1\",\"new_password\":\"cleo-password-2\"}", token, address);
    assertThat(someoneElse.statusCode()).as(someoneElse.body()).isEqualTo(403);
    HttpResponse<String> changed = send("PUT", "/auth/v1/password",
        "{\"old_password\":\"cleo-password-1\",\"new_password\":\"cleo-password-2\"}", token, address);
    assertThat(changed.statusCode()).as(changed.body()).isEqualTo(200);
    assertThat(changed.body()).doesNotContain("password");
    assertThat(signIn("cleo", "cleo-password-2", newAddress()).statusCode()).isEqualTo(200);
  }

  @Test
  void signInsArePacedPerClientAddress() throws Exception {
    String address = newAddress();
    int burst = GatewayOptions.defaults().signInsPerMinute() / 6;
    // attempts refused before any password is checked (malformed JSON) count as well, and take no time
    for (int i = 0; i < burst; i++) {
      assertThat(send("POST", "/auth/v1/login", "{\"user\":", null, address).statusCode()).isEqualTo(400);
    }
    HttpResponse<String> limited = signIn("bob", "bob-password-1", address);
    assertThat(limited.statusCode()).isEqualTo(429);
    assertThat(limited.headers().firstValue("Retry-After")).isPresent();
    assertThat(limited.body()).contains("too many sign-ins from this address");
    assertThat(signIn("bob", "bob-password-1", newAddress()).statusCode()).as("another address").isEqualTo(200);
    assertThat(send("GET", "/v1/things/x", null, null, address).statusCode()).as("other routes").isEqualTo(200);
  }

  @Test
  void theSignInPaceIsSetFromTheEnvironment() {
    assertThat(GatewayOptions.fromEnvironment(Map.of("SKIFF_GATEWAY_SIGN_INS_PER_MINUTE", "5")).signInsPerMinute()).isEqualTo(5);
    assertThat(GatewayOptions.fromEnvironment(Map.of()).signInsPerMinute()).isEqualTo(60);
    assertThatThrownBy(() -> GatewayOptions.fromEnvironment(Map.of("SKIFF_GATEWAY_SIGN_INS_PER_MINUTE", "0")))
        .hasMessageContaining("SKIFF_GATEWAY_SIGN_INS_PER_MINUTE");
  }

  @Test
  void aFloodOfRefusedSignInsForOneNameStopsNoOneElse() throws Exception {
    // five failures make the name's next attempts wait; an attempt whose deadline is too short for the wait is
    // refused at once with CAPACITY, unchecked: more than a breaker's minimum of such answers in a few seconds
    for (int i = 0; i < 5; i++) {
      assertThat(signIn("victim", "guess-" + i, newAddress()).statusCode()).isEqualTo(401);
    }
    for (int i = 0; i < 60; i++) {
      HttpResponse<String> r = gw.f().send(gw.f().request("/auth/v1/login").header("X-Forwarded-For", newAddress())
          .header("X-Skiff-Timeout", "900ms").header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString("{\"user\":\"victim\",\"password\":\"guess\"}")));
      assertThat(r.statusCode()).as(r.body()).isEqualTo(503);
      assertThat(r.body()).contains("\"code\":\"CAPACITY\"");
    }
    HttpResponse<String> bob = signIn("bob", "bob-password-1", newAddress());
    assertThat(bob.statusCode()).as(bob.body()).isEqualTo(200);
  }
}
