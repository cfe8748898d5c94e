package dev.skiff.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.skiff.kernel.login.LoginService;
import dev.skiff.kernel.monitoring.MonitoringService;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.config.Settings;
import dev.skiff.platform.security.ServiceIdentities;
import dev.skiff.proto.v1.LoginRequest;
import dev.skiff.proto.v1.Session;
import dev.skiff.testing.RabbitMqExtension;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The pages as production runs them: the kernel on its own broker user, which is no shared user (here the
 * tests' broker user made the kernel's, with no shared user at all), and {@code SKIFF_PAGES_AUTH=required}.
 * The pages' token checks fetch the ended sessions from the login service, which gives them to services
 * only: the pages must call as a kernel service, or every token is refused (KEYS_UNAVAILABLE), as it was.
 */
class PagesOnTheKernelsOwnUserTest {
  @RegisterExtension static final RabbitMqExtension broker = RabbitMqExtension.create();
  private static final String PASSWORD = "own-user-admin-pass";

  @Test
  void aPersonSignedInOpensThePagesWithATokenAndWithTheSignInCookie() throws Exception {
    String user = URI.create(broker.amqpUri()).getUserInfo().split(":")[0];
    ServiceIdentities production = new ServiceIdentities(user, Set.of(), Set.of());
    try (Kernel kernel = Kernel.start(broker.transport(), Settings.fromEnvironment(Map.of()), production,
            List.of(new LoginService(Map.of("SKIFF_BOOTSTRAP_ADMIN_PASSWORD", PASSWORD)), new MonitoringService()), 0,
            WebServer.Options.defaults().withAuth(WebServer.Options.Auth.REQUIRED));
        Client client = Client.builder().transport(broker.transport()).build()) {
      String base = "http://127.0.0.1:" + kernel.web().port();
      HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
      LoginRequest req = LoginRequest.newBuilder().setUser("admin").setPassword(PASSWORD).build();
      String token = await().atMost(Duration.ofSeconds(30)).ignoreExceptions()
          .until(() -> client.call(LoginService.SERVICE, "login", req, Session.class), s -> true).getToken();

      HttpResponse<String> withToken = http.send(HttpRequest.newBuilder(URI.create(base + "/monitoring/api/services"))
          .header("Authorization", "Bearer " + token).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(withToken.statusCode()).as(withToken.body()).isEqualTo(200);

      String form = "user=admin&password=" + URLEncoder.encode(PASSWORD, StandardCharsets.UTF_8) + "&next=%2Fmonitoring%2F";
      HttpResponse<String> signedIn = http.send(HttpRequest.newBuilder(URI.create(base + "/signin")).header("Origin", base)
          .header("Content-Type", "application/x-www-form-urlencoded").POST(HttpRequest.BodyPublishers.ofString(form)).build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(signedIn.statusCode()).as(signedIn.body()).isEqualTo(303);
      String c = signedIn.headers().firstValue("Set-Cookie").orElseThrow();
      HttpResponse<String> page = http.send(HttpRequest.newBuilder(URI.create(base + "/monitoring/"))
          .header("Cookie", c.substring(0, c.indexOf(';'))).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(page.statusCode()).as(page.body()).isEqualTo(200);
      assertThat(page.body()).contains("<title>Skiff monitoring</title>");
    }
  }
}
