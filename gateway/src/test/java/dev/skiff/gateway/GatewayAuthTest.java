package dev.skiff.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code Authorization: Bearer} verified at the edge against a real login service and carried into the
 * call as the person; refused tokens and other schemes answer 401 without reaching the service; an
 * endpoint for signed-in people answers 401 to an anonymous request.
 */
class GatewayAuthTest {
  @RegisterExtension static final GatewayExtension gw =
      new GatewayExtension(GatewayOptions.defaults().withRates(1000, 5)).withKernel(List::of);
  static String token;
  static String adaToken;

  @BeforeAll
  static void signIn() {
    token = gw.adminToken();
    adaToken = gw.user("ada", null);
  }

  @Test
  void aValidTokenIsCarriedIntoTheCallAsThePerson() throws Exception {
    HttpResponse<String> r = gw.f().send(gw.f().request("/v1/whoami").header("Authorization", "Bearer " + token).GET());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(r.body()).contains("\"user\":\"admin\"");
  }

  @Test
  void withoutATokenASignedInEndpointAnswers401() throws Exception {
    HttpResponse<String> r = gw.f().get("/v1/whoami");
    assertThat(r.statusCode()).isEqualTo(401);
    assertThat(r.body()).contains("\"code\":\"UNAUTHORIZED\"");
    assertThat(r.headers().firstValue("WWW-Authenticate")).as("RFC 9110: every 401 says how to authenticate").hasValue("Bearer");
  }

  @Test
  void refusedTokensAndOtherSchemesAre401AndNeverEchoTheToken() throws Exception {
    String forged = token.substring(0, token.length() - 4) + "AAAA";
    for (String h : List.of("Bearer " + forged, "Bearer not-a-jwt", "Basic YWRtaW46cGFzcw==", "Bearer ")) {
      HttpResponse<String> r = gw.f().send(gw.f().request("/v1/things/x").header("Authorization", h).GET());
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
      HttpResponse<String> r = gw.f().send(gw.f().request("/v1/whoami").header("Authorization", "Bearer " + adaToken).GET());
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
    assertThat(gw.f().gateway.metrics().counter("skiff.gateway.rate-limit.user.limited").getCount()).isPositive();
  }

  @Test
  void kernelServicesAreNotRoutedEvenWhenTheyRun() throws Exception {
    // the login service's only operations listed are the gateway's own sign-in routes, never its announced endpoints
    String doc = gw.f().get("/openapi.json").body();
    assertThat(doc.split("\"operationId\":\"skiff\\.", -1)).hasSize(6);
    assertThat(doc).doesNotContain("skiff.login/keys", "skiff.login/revocations", "skiff.login/users.add", "skiff.login/users.list", "skiff.discovery");
  }
}
