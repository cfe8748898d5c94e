package dev.skiff.kernel;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.security.Role;
import dev.skiff.platform.security.TokenRejectedException;
import dev.skiff.platform.security.UserIdentity;
import dev.skiff.proto.v1.Session;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The pages' session renewal, on its own (a stand-in login service): only in a token's second half, the
 * new token's cookie set with the page, and after a refused or failed renewal none tried again for a while,
 * so that a session at its end or a login service away costs no call per page. Against a real login
 * service: {@code PagesSignInTest}.
 */
class PageRenewalTest {
  private final HttpClient http = HttpClient.newHttpClient();
  private final AtomicInteger renewals = new AtomicInteger();
  private volatile boolean loginRefuses;
  private WebServer web;

  /** A token "young" (a minute of ten used) or "old" (nine of ten used), for a person with ADMIN.PAGES. */
  private static UserIdentity identity(String token) throws TokenRejectedException {
    Instant now = Instant.now();
    Duration used = token.startsWith("young") ? Duration.ofMinutes(1) : Duration.ofMinutes(9);
    if (!token.startsWith("young") && !token.startsWith("old")) {
      throw new TokenRejectedException(TokenRejectedException.Reason.MALFORMED, "unknown");
    }
    return new UserIdentity("ada", Set.of(Role.of("ADMIN.PAGES")), "session-ada-1", now.minus(used), now.minus(used).plus(Duration.ofMinutes(10)));
  }

  private void start() {
    web = WebServer.start("127.0.0.1", 0, WebServer.Options.defaults().withAuth(WebServer.Options.Auth.REQUIRED), PageRenewalTest::identity,
        new WebServer.SignIn() {
          @Override
          public Session signIn(String user, String password) {
            throw new SkiffException(ErrorCode.UNAVAILABLE, "not here");
          }

          @Override
          public void signOut(String token) {}

          @Override
          public Session renew(String token) {
            renewals.incrementAndGet();
            if (loginRefuses) {
              throw new SkiffException(ErrorCode.UNAUTHORIZED, "the session has reached its end");
            }
            return Session.newBuilder().setToken("young-" + renewals.get()).setUser("ada")
                .setExpiresAtMs(System.currentTimeMillis() + 600_000).build();
          }
        });
    web.mount("/page", "A page", ex -> WebServer.send(ex, 200, "text/plain", "hello"));
  }

  @AfterEach
  void stop() {
    if (web != null) {
      web.close();
    }
  }

  private HttpResponse<String> page(String token) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + web.port() + "/page"))
        .header("Cookie", PageGate.COOKIE + "=" + token).build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void aTokenInItsSecondHalfIsRenewedWithThePage() throws Exception {
    start();
    HttpResponse<String> young = page("young-0");
    assertThat(young.statusCode()).isEqualTo(200);
    assertThat(young.headers().firstValue("Set-Cookie")).isEmpty();
    assertThat(renewals.get()).isZero();

    HttpResponse<String> old = page("old-0");
    assertThat(old.statusCode()).isEqualTo(200);
    assertThat(old.body()).isEqualTo("hello");
    assertThat(old.headers().firstValue("Set-Cookie").orElseThrow())
        .startsWith(PageGate.COOKIE + "=young-1;").contains("HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=");
    assertThat(renewals.get()).isEqualTo(1);
  }

  @Test
  void afterARefusedRenewalNoneIsTriedForAWhileAndThePagesStillAnswer() throws Exception {
    start();
    loginRefuses = true;
    for (int i = 0; i < 5; i++) {
      HttpResponse<String> r = page("old-0");
      assertThat(r.statusCode()).as("the token is still valid: the page answers").isEqualTo(200);
      assertThat(r.headers().firstValue("Set-Cookie")).isEmpty();
    }
    assertThat(renewals.get()).as("one call, not one per page").isEqualTo(1);
  }
}
