package dev.skiff.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.skiff.kernel.Kernel;
import dev.skiff.kernel.WebServer;
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
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code Authorization: Bearer} verified at the edge against a real login service and carried into the
 * call as the person; refused tokens and other schemes answer 401 without reaching the service; an
 * endpoint for signed-in people answers 401 to an anonymous request.
 */
class GatewayAuthTest {
  @RegisterExtension static final RabbitMqExtension broker = RabbitMqExtension.create();
  private static final String PASSWORD = "gateway-admin-pass";
  static GatewayFixture f;
  static Kernel kernel;
  static String token;
  static String adaToken;

  @BeforeAll
  static void start() {
    f = new GatewayFixture(broker.amqpUri(), GatewayOptions.defaults().withRates(1000, 5), null).startService();
    kernel = Kernel.start(f.transport, Settings.fromEnvironment(Map.of()), ServiceIdentities.defaults(),
        List.of(new LoginService(Map.of("SKIFF_BOOTSTRAP_ADMIN_PASSWORD", PASSWORD))), 0, WebServer.Options.defaults());
    try (Client client = Client.builder().transport(f.transport).build()) {
      LoginRequest req = LoginRequest.newBuilder().setUser("admin").setPassword(PASSWORD).build();
      token = await().atMost(Duration.ofSeconds(30)).ignoreExceptions()
          .until(() -> client.call(LoginService.SERVICE, "login", req, Session.class), s -> true).getToken();
      client.withScope(CallScope.forUser(token)).call(LoginService.SERVICE, "users.add",
          AddUserRequest.newBuilder().setUser("ada").setPassword("ada-password-1").build(), UserResponse.class);
      adaToken = client.call(LoginService.SERVICE, "login",
          LoginRequest.newBuilder().setUser("ada").setPassword("ada-password-1").build(), Session.class).getToken();
    }
  }

  @AfterAll
  static void stop() {
    if (kernel != null) {
      kernel.close();
    }
    if (f != null) {
      f.close();
    }
  }

  @Test
  void aValidTokenIsCarriedIntoTheCallAsThePerson() throws Exception {
    HttpResponse<String> r = f.send(f.request("/v1/whoami").header("Authorization", "Bearer " + token).GET());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(r.body()).contains("\"user\":\"admin\"");
  }

  @Test
  void withoutATokenASignedInEndpointAnswers401() throws Exception {
    HttpResponse<String> r = f.get("/v1/whoami");
    assertThat(r.statusCode()).isEqualTo(401);
    assertThat(r.body()).contains("\"code\":\"UNAUTHORIZED\"");
  }

  @Test
  void refusedTokensAndOtherSchemesAre401AndNeverEchoTheToken() throws Exception {
    String forged = token.substring(0, token.length() - 4) + "AAAA";
    for (String h : List.of("Bearer " + forged, "Bearer not-a-jwt", "Basic YWRtaW46cGFzcw==", "Bearer ")) {
      HttpResponse<String> r = f.send(f.request("/v1/things/x").header("Authorization", h).GET());
      assertThat(r.statusCode()).as(h).isEqualTo(401);
      assertThat(r.headers().firstValue("WWW-Authenticate")).isPresent();
      assertThat(r.body()).contains("\"code\":\"UNAUTHORIZED\"").doesNotContain(forged).doesNotContain("YWRtaW46cGFzcw");
    }
  }

  @Test
  void pastTheirRateAPersonGets429WithRetryAfterWhateverTheirAddress() throws Exception {
    HttpResponse<String> limited = null;
    int ok = 0;
    for (int i = 0; i < 20 && limited == null; i++) {
      HttpResponse<String> r = f.send(f.request("/v1/whoami").header("Authorization", "Bearer " + adaToken).GET());
      if (r.statusCode() == 429) {
        limited = r;
      } else {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(r.body()).contains("\"user\":\"ada\"");
        ok++;
      }
    }
    assertThat(limited).isNotNull();
    assertThat(ok).isBetween(5, 7);
    assertThat(limited.headers().firstValue("Retry-After")).isPresent();
    assertThat(limited.body()).contains("\"code\":\"RATE_LIMITED\"", "person");
    assertThat(f.gateway.metrics().counter("skiff.gateway.rate-limit.user.limited").getCount()).isPositive();
  }

  @Test
  void kernelServicesAreNotRoutedEvenWhenTheyRun() throws Exception {
    assertThat(f.get("/openapi.json").body()).doesNotContain("skiff.login");
  }
}
