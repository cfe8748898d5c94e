package dev.skiff.gateway;

import static org.awaitility.Awaitility.await;

import dev.skiff.kernel.Kernel;
import dev.skiff.kernel.KernelService;
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
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A {@link GatewayFixture} with its Things service started, on a real broker ({@link RabbitMqExtension}),
 * for a whole test class; with {@link #withKernel}, also a login service (and other kernel services) in
 * this JVM, its administrator signed in. Started before the class's {@code @BeforeAll} methods, closed
 * after its {@code @AfterAll} methods. Register it in a static field:
 *
 * <pre>{@code
 * @RegisterExtension static final GatewayExtension gw = new GatewayExtension(GatewayOptions.defaults());
 * }</pre>
 */
public final class GatewayExtension implements BeforeAllCallback, AfterAllCallback {
  /** The bootstrap administrator's password of the login service {@link #withKernel} runs. */
  static final String ADMIN_PASSWORD = "gateway-admin-pass";

  private final RabbitMqExtension broker = RabbitMqExtension.create();
  private final GatewayOptions options;
  private Supplier<List<KernelService>> kernelServices;
  private GatewayFixture fixture;
  private Kernel kernel;
  private String adminToken;

  /** @param options the gateway's options */
  public GatewayExtension(GatewayOptions options) {
    this.options = options;
  }

  /**
   * Also runs a login service (administrator "admin", {@link #ADMIN_PASSWORD}) and these kernel services.
   *
   * @param more makes the other services, when the class starts
   * @return this
   */
  GatewayExtension withKernel(Supplier<List<KernelService>> more) {
    this.kernelServices = more;
    return this;
  }

  @Override
  public void beforeAll(ExtensionContext context) {
    broker.beforeAll(context);
    fixture = new GatewayFixture(broker.amqpUri(), options, null).startService();
    if (kernelServices != null) {
      List<KernelService> services = new ArrayList<>();
      services.add(new LoginService(Map.of("SKIFF_BOOTSTRAP_ADMIN_PASSWORD", ADMIN_PASSWORD)));
      services.addAll(kernelServices.get());
      kernel = Kernel.start(fixture.transport, Settings.fromEnvironment(Map.of()), ServiceIdentities.defaults(), services, 0,
          WebServer.Options.defaults());
      try (Client client = client()) {
        LoginRequest req = LoginRequest.newBuilder().setUser("admin").setPassword(ADMIN_PASSWORD).build();
        adminToken = await().atMost(Duration.ofSeconds(30)).ignoreExceptions()
            .until(() -> client.call(LoginService.SERVICE, "login", req, Session.class), s -> true).getToken();
      }
      // the gateway and the service fetch the login service's keys at the first token they see; on a loaded
      // machine that fetch may outlast its deadline, and a verifier that failed to fetch refuses tokens for
      // its refresh interval (fail closed): the class's tests start once both check tokens
      await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(250)).ignoreExceptions()
          .until(() -> fixture.send(fixture.request("/v1/whoami").header("Authorization", "Bearer " + adminToken).GET()).statusCode() == 200);
    }
  }

  @Override
  public void afterAll(ExtensionContext context) throws Exception {
    try {
      if (kernel != null) {
        kernel.close();
      }
      if (fixture != null) {
        fixture.close();
      }
    } finally {
      broker.afterAll(context);
    }
  }

  /** @return the class's broker, for another fixture beside this one */
  String amqpUri() {
    return broker.amqpUri();
  }

  /** @return the fixture: the gateway, the Things service and HTTP helpers */
  public GatewayFixture f() {
    return fixture;
  }

  /** @return a client on the fixture's connection, calling as nobody; close it after */
  Client client() {
    return Client.builder().transport(fixture.transport).build();
  }

  /** @return the signed-in administrator's token (with {@link #withKernel}) */
  String adminToken() {
    return adminToken;
  }

  /**
   * Adds a user (password: the name and {@code -password-1}) as the administrator, and signs them in.
   *
   * @param name the user
   * @param role their one role, or null for none
   * @return their token
   */
  String user(String name, String role) {
    AddUserRequest.Builder add = AddUserRequest.newBuilder().setUser(name).setPassword(name + "-password-1");
    if (role != null) {
      add.addRoles(role);
    }
    try (Client client = client()) {
      client.withScope(CallScope.forUser(adminToken)).call(LoginService.SERVICE, "users.add", add.build(), UserResponse.class);
      return client.call(LoginService.SERVICE, "login",
          LoginRequest.newBuilder().setUser(name).setPassword(name + "-password-1").build(), Session.class).getToken();
    }
  }
}
