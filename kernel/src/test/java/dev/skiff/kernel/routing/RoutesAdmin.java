package dev.skiff.kernel.routing;

import static org.awaitility.Awaitility.await;

import dev.skiff.kernel.Kernel;
import dev.skiff.kernel.login.LoginService;
import dev.skiff.platform.client.CallScope;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.config.Settings;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import dev.skiff.proto.v1.LoginRequest;
import dev.skiff.proto.v1.Session;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * A signed-in administrator for routing tests: a login kernel service of its own (memory store, the
 * bootstrap administrator) on its own connection, and the session of {@code admin}, since a route change
 * needs a person with role {@code ADMIN.ROUTES} (docs/security.md).
 */
final class RoutesAdmin implements AutoCloseable {
  static final String PASSWORD = "routing-admin-pass";

  private final AmqpTransport transport;
  private final Kernel kernel;
  private final String token;

  RoutesAdmin(String uri, Client client) {
    transport = AmqpTransport.connect(uri);
    try {
      kernel = Kernel.start(transport, Settings.fromEnvironment(Map.of()),
          List.of(new LoginService(Map.of("SKIFF_BOOTSTRAP_ADMIN_PASSWORD", PASSWORD))), 0);
    } catch (RuntimeException e) {
      transport.close();
      throw e;
    }
    LoginRequest req = LoginRequest.newBuilder().setUser("admin").setPassword(PASSWORD).build();
    token = await().atMost(Duration.ofSeconds(30)).ignoreExceptions()
        .until(() -> client.call(LoginService.SERVICE, "login", req, Session.class), s -> true).getToken();
  }

  /**
   * @param client a client
   * @return a view of it whose calls carry the administrator's session
   */
  Client as(Client client) {
    return client.withScope(CallScope.forUser(token));
  }

  @Override
  public void close() {
    kernel.close();
    transport.close();
  }
}
