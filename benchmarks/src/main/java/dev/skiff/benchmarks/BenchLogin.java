package dev.skiff.benchmarks;

import dev.skiff.kernel.Kernel;
import dev.skiff.kernel.login.LoginService;
import dev.skiff.platform.client.CallScope;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.config.Settings;
import dev.skiff.platform.transport.amqp.AmqpOptions;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import dev.skiff.proto.v1.AddUserRequest;
import dev.skiff.proto.v1.LoginRequest;
import dev.skiff.proto.v1.Session;
import dev.skiff.proto.v1.UserResponse;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.List;
import java.util.Map;

/**
 * A real login service ({@link LoginService}, the kernel's, with its in-memory store) running in this JVM
 * on a broker connection of its own, as the kernel process would, and a person signed in to it: the
 * first administrator is created from a random bootstrap password, adds user {@value #USER} (no roles),
 * who logs in. The token of that login is what the identity-on benchmarks send with every call; the
 * echo server checks it with its default verifier ({@code LoginTokenVerifier}), which fetches the login
 * service's keys over the broker as in production. Tokens live 1 hour ({@code SKIFF_LOGIN_TOKEN_TTL}),
 * longer than any run. No password is printed or kept.
 */
final class BenchLogin implements AutoCloseable {
  /** The person the benchmark calls for. */
  static final String USER = "bench";

  private final AmqpTransport transport;
  private final Kernel kernel;
  private final String token;

  private BenchLogin(AmqpTransport transport, Kernel kernel, String token) {
    this.transport = transport;
    this.kernel = kernel;
    this.token = token;
  }

  /**
   * Starts the login service and signs {@value #USER} in.
   *
   * @param uri the broker
   * @return the running service and the token
   */
  static BenchLogin start(String uri) {
    String adminPassword = randomPassword();
    AmqpTransport t = AmqpTransport.connect(AmqpOptions.of(uri).withConnectionName("bench-login"));
    Kernel k = null;
    try {
      LoginService login =
          new LoginService(Map.of("SKIFF_BOOTSTRAP_ADMIN_PASSWORD", adminPassword, "SKIFF_LOGIN_TOKEN_TTL", "1h"));
      k = Kernel.start(t, Settings.fromEnvironment(Map.of()), List.of(login), 0);
      String token;
      try (Client tool = Client.builder().transport(AmqpTransport.connect(AmqpOptions.of(uri).withConnectionName("bench-login-tool")))
          .ownTransport().build()) {
        String admin = login(tool, LoginService.BOOTSTRAP_ADMIN, adminPassword).getToken();
        String password = randomPassword();
        tool.withScope(CallScope.forUser(admin)).call(LoginService.SERVICE, "users.add",
            AddUserRequest.newBuilder().setUser(USER).setPassword(password).build(), UserResponse.class);
        token = login(tool, USER, password).getToken();
      }
      return new BenchLogin(t, k, token);
    } catch (RuntimeException e) {
      if (k != null) {
        k.close();
      }
      t.close();
      throw e;
    }
  }

  private static Session login(Client tool, String user, String password) {
    return tool.call(LoginService.SERVICE, "login", LoginRequest.newBuilder().setUser(user).setPassword(password).build(), Session.class);
  }

  private static String randomPassword() {
    byte[] b = new byte[18];
    new SecureRandom().nextBytes(b);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }

  /** @return the session token of {@value #USER} */
  String token() {
    return token;
  }

  /** Stops the login service and closes its connection. */
  @Override
  public void close() {
    try {
      kernel.close();
    } finally {
      transport.close();
    }
  }
}
