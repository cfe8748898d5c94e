package dev.skiff.kernel.login;


import com.codahale.metrics.MetricRegistry;
import dev.skiff.kernel.KernelFixture;
import dev.skiff.kernel.Kernel;
import dev.skiff.platform.config.Settings;
import dev.skiff.platform.security.Access;
import dev.skiff.platform.security.ServiceIdentities;
import dev.skiff.platform.security.UserIdentity;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.transport.Transport;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import dev.skiff.proto.v1.AddUserRequest;
import dev.skiff.proto.v1.LoginRequest;
import dev.skiff.proto.v1.Session;
import dev.skiff.proto.v1.UserResponse;
import com.google.protobuf.StringValue;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * What the login tests share: a login service in a kernel on a broker connection of its own, a client on
 * another, and a probe service on a third connection (another process, as far as the broker can tell)
 * whose endpoints check session tokens with the default verifier every {@link Server} has.
 */
final class LoginFixture extends KernelFixture {
  static final String ADMIN_PASSWORD = "first-admin-pass";

  final String probeName = "test.probe" + UUID.randomUUID().toString().substring(0, 8);
  LoginService login;
  Kernel kernel;
  Server probe;
  MetricRegistry probeMetrics;

  LoginFixture(String uri) {
    super(uri);
  }

  /** Starts a login service on a store (the previous one, if any, must be stopped first). */
  LoginService startLogin(LoginSettings settings, UserStore store) {
    return startLogin(new LoginService(settings, store, Clock.systemUTC()));
  }

  /** Starts a login service made elsewhere (the previous one, if any, must be stopped first). */
  LoginService startLogin(LoginService service) {
    login = service;
    kernel = startKernel(login);
    return login;
  }

  /**
   * Starts another copy of the login service, in a kernel of its own on a connection of its own (another
   * process, as far as the broker can tell), leaving {@link #login} and {@link #kernel} as they are.
   *
   * @param service the copy
   * @param identities who its kernel believes may act as which service
   * @return its kernel
   */
  Kernel startCopy(LoginService service, ServiceIdentities identities) {
    Transport t = toClose.register(AmqpTransport.connect(uri));
    return toClose.register(Kernel.start(t, Settings.fromEnvironment(Map.of()), identities, List.of(service), 0));
  }

  void stopLogin() {
    kernel.close();
  }

  /** Starts the probe: whoami (signed in), config (ADMIN.CONFIG), admin (ADMIN), greeter-routes (ADMIN.ROUTES:com.example.greeter). */
  Server probe() {
    if (probe == null) {
      probe = newProbe();
    }
    return probe;
  }

  Server newProbe() {
    MetricRegistry m = new MetricRegistry();
    Server s = Server.builder(probeName).transport(AmqpTransport.connect(uri)).ownTransport().metrics(m).announce(false)
        .endpoint(Endpoint.of("whoami", StringValue.class, StringValue.class, (r, ctx) -> StringValue.of(name(ctx.caller().user().orElse(null))))
            .withAccess(Access.signedIn()))
        .endpoint(Endpoint.of("config", StringValue.class, StringValue.class, (r, ctx) -> StringValue.of("config"))
            .withAccess(Access.role("ADMIN.CONFIG")))
        .endpoint(Endpoint.of("admin", StringValue.class, StringValue.class, (r, ctx) -> StringValue.of("admin"))
            .withAccess(Access.role("ADMIN")))
        .endpoint(Endpoint.of("greeter-routes", StringValue.class, StringValue.class, (r, ctx) -> StringValue.of("routes"))
            .withAccess(Access.role("ADMIN.ROUTES:com.example.greeter")))
        .build().start();
    if (probe == null) {
      probeMetrics = m;
    }
    toClose.register(s);
    return s;
  }

  private static String name(UserIdentity u) {
    return u == null ? "-" : u.user();
  }

  Session login(String user, String password) {
    return client().call(LoginService.SERVICE, "login", LoginRequest.newBuilder().setUser(user).setPassword(password).build(), Session.class);
  }

  UserResponse addUser(String adminToken, String user, String password, String... roles) {
    return as(adminToken).call(LoginService.SERVICE, "users.add",
        AddUserRequest.newBuilder().setUser(user).setPassword(password).addAllRoles(List.of(roles)).build(), UserResponse.class);
  }

  /** Calls an endpoint of the probe with a token. */
  String probe(String endpoint, String token) {
    probe();
    return as(token).call(probeName, endpoint, StringValue.of("x"), StringValue.class).getValue();
  }


}
