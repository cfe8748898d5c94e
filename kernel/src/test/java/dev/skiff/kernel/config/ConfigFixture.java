package dev.skiff.kernel.config;


import dev.skiff.kernel.KernelFixture;
import dev.skiff.kernel.Kernel;
import dev.skiff.kernel.login.LoginService;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import dev.skiff.proto.v1.AddUserRequest;
import dev.skiff.proto.v1.ConfigChange;
import dev.skiff.proto.v1.ConfigLayer;
import dev.skiff.proto.v1.ConfigView;
import dev.skiff.proto.v1.DeleteConfigRequest;
import dev.skiff.proto.v1.GetConfigRequest;
import dev.skiff.proto.v1.LoginRequest;
import dev.skiff.proto.v1.Session;
import dev.skiff.proto.v1.SetConfigRequest;
import dev.skiff.proto.v1.UserResponse;
import java.time.Clock;
import java.util.List;
import java.util.Map;

/**
 * What the config tests share: a kernel with a login service (an administrator to sign in with) and a
 * config service on a broker connection of its own, and a client on another connection.
 */
final class ConfigFixture extends KernelFixture {
  static final String ADMIN_PASSWORD = "config-admin-pass";

  private Kernel loginKernel;
  private Kernel configKernel;
  ConfigService config;

  ConfigFixture(String uri) {
    super(uri);
  }

  /** Starts the login service (once) and a config service on a store (the previous one must be stopped). */
  ConfigService start(ConfigStore store) {
    return start(store, java.util.Optional.empty());
  }

  /** As {@link #start(ConfigStore)}, with a cipher for secrets (or none: secrets refused). */
  ConfigService start(ConfigStore store, java.util.Optional<SecretCipher> cipher) {
    if (loginKernel == null) {
      loginKernel = startKernel(new LoginService(Map.of("SKIFF_BOOTSTRAP_ADMIN_PASSWORD", ADMIN_PASSWORD)));
    }
    config = new ConfigService(store, cipher, Clock.systemUTC(), 100);
    configKernel = startKernel(config);
    return config;
  }

  /** @return the web server of the config service's kernel (its pages) */
  dev.skiff.kernel.WebServer web() {
    return configKernel.web();
  }

  void stopConfig() {
    configKernel.close();
  }

  /** A client calling as a service (the test broker's shared user may act as any). */
  Client asService(String service) {
    Client c = Client.builder().transport(AmqpTransport.connect(uri)).ownTransport().name(service).build();
    toClose.register(c);
    return c;
  }

  String login(String user, String password) {
    return client().call(LoginService.SERVICE, "login", LoginRequest.newBuilder().setUser(user).setPassword(password).build(), Session.class)
        .getToken();
  }

  String admin() {
    return login("admin", ADMIN_PASSWORD);
  }

  /** Adds a user with roles and signs them in. */
  String user(String name, String... roles) {
    as(admin()).call(LoginService.SERVICE, "users.add",
        AddUserRequest.newBuilder().setUser(name).setPassword(name + "-password").addAllRoles(List.of(roles)).build(), UserResponse.class);
    return login(name, name + "-password");
  }

  static ConfigLayer layer(String service, String region, String env) {
    return ConfigLayer.newBuilder().setService(service).setRegion(region).setEnv(env).build();
  }

  ConfigChange set(String token, ConfigLayer layer, String path, String json, long base) {
    return as(token).call(ConfigService.SERVICE, "set", SetConfigRequest.newBuilder().setLayer(layer).setPath(path).setValueJson(json)
        .setMessage("set " + path).setBaseVersion(base).build(), ConfigChange.class);
  }

  /** Sets against the newest version. */
  ConfigChange set(String token, ConfigLayer layer, String path, String json) {
    return set(token, layer, path, json, get(token, "", "", "", "", false).getVersion());
  }

  ConfigChange delete(String token, ConfigLayer layer, String path) {
    long base = get(token, "", "", "", "", false).getVersion();
    return as(token).call(ConfigService.SERVICE, "delete", DeleteConfigRequest.newBuilder().setLayer(layer).setPath(path)
        .setMessage("delete " + path).setBaseVersion(base).build(), ConfigChange.class);
  }

  ConfigView get(String token, String service, String region, String env, String path, boolean explain) {
    return as(token).call(ConfigService.SERVICE, "get", GetConfigRequest.newBuilder().setService(service).setRegion(region).setEnv(env)
        .setPath(path).setExplain(explain).build(), ConfigView.class);
  }


}
