package dev.skiff.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.kernel.config.ConfigService;
import dev.skiff.kernel.login.LoginService;
import dev.skiff.platform.client.CallScope;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import dev.skiff.proto.v1.AddUserRequest;
import dev.skiff.proto.v1.LoginRequest;
import dev.skiff.proto.v1.Session;
import dev.skiff.proto.v1.UserResponse;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code skiff config} against a real login and config service on the tests' broker: set, get (merged and
 * explained), log (text and JSON), diff and rollback as a signed-in administrator; a change refused without
 * the role (exit 5); hostile values escaped in every output.
 */
class ConfigCommandsTest {
  static final String ADMIN_PASSWORD = "config-cli-admin-pass";
  @RegisterExtension static final TestKernel kernel = new TestKernel(() -> List.of(
      new LoginService(Map.of("SKIFF_BOOTSTRAP_ADMIN_PASSWORD", ADMIN_PASSWORD)),
      new ConfigService(Map.of("SKIFF_CONFIG_SECRET_KEY", java.util.Base64.getEncoder().encodeToString(new byte[32])))));

  @TempDir Path dir;

  private Map<String, String> signedIn(String file, String user, String password) {
    Map<String, String> env = Skiff.envWithTokenFile(dir.resolve(file));
    Skiff.Result in = Skiff.login(env, user, password);
    assertThat(in.exitCode()).as(in.toString()).isZero();
    return env;
  }

  private static Skiff.Result ok(Map<String, String> env, String... args) {
    Skiff.Result r = Skiff.run(env, args);
    assertThat(r.exitCode()).as(r.toString()).isZero();
    return r;
  }

  @Test
  void anAdministratorSetsReadsExplainsDiffsAndRollsBack() {
    Map<String, String> admin = signedIn("admin", "admin", ADMIN_PASSWORD);
    Skiff.Result set = ok(admin, "config", "set", "db", "{\"host\":\"db.global\",\"port\":5432}", "-m", "the database");
    assertThat(set.out()).contains("admin").contains("the database").contains("global  db: (none) -> {\"host\":\"db.global\",\"port\":5432}");
    long good = Long.parseLong(set.out().split("\\s+")[1]);
    ok(admin, "config", "set", "greeting", "hello", "--service", "greeter", "-m", "a bare word is a string");
    ok(admin, "config", "set", "db.port", "6543", "--service", "greeter", "--region", "eu", "-m", "EU greeter port");

    assertThat(ok(admin, "config", "get", "--service", "greeter", "--region", "eu").out().strip())
        .isEqualTo("{\"db\":{\"host\":\"db.global\",\"port\":6543},\"greeting\":\"hello\"}");
    assertThat(ok(admin, "config", "get", "greeting", "--service", "greeter").out().strip()).isEqualTo("\"hello\"");
    Skiff.Result explain = ok(admin, "config", "get", "--service", "greeter", "--region", "eu", "--explain");
    assertThat(explain.out()).contains("db.host = \"db.global\"  (global, version " + good + ")")
        .contains("db.port = 6543  (region/eu/service/greeter, version " + (good + 2) + ")")
        .contains("greeting = \"hello\"  (service/greeter, version " + (good + 1) + ")");

    Skiff.Result log = ok(admin, "config", "log", "--service", "greeter", "--json");
    List<String> lines = log.out().lines().toList();
    assertThat(lines).hasSize(3);
    assertThat(lines.get(0)).startsWith("{\"id\":" + (good + 2) + ",").contains("\"user\":\"admin\"")
        .contains("\"edits\":[{\"layer\":\"region/eu/service/greeter\",\"path\":\"db.port\",\"old\":null,\"new\":6543}]");

    Skiff.Result diff = ok(admin, "config", "diff", Long.toString(good));
    assertThat(diff.out()).contains("2 difference(s)").contains("service/greeter  greeting: (none) -> \"hello\"");

    Skiff.Result back = ok(admin, "config", "rollback", Long.toString(good), "-m", "undo the greeter");
    assertThat(back.out()).contains("version " + (good + 3)).contains("(rollback to version " + good + ")").contains("undo the greeter");
    assertThat(ok(admin, "config", "get", "--service", "greeter", "--region", "eu").out().strip())
        .isEqualTo("{\"db\":{\"host\":\"db.global\",\"port\":5432}}");
    assertThat(ok(admin, "config", "log", "--limit", "1").out()).contains("rollback to version " + good);
    // a stale --base is refused, and nothing at a path exits 1
    Skiff.Result stale = Skiff.run(admin, "config", "set", "db.port", "1", "--service", "greeter", "--base", Long.toString(good), "-m", "stale");
    assertThat(stale.exitCode()).as(stale.toString()).isEqualTo(SkiffCli.EXIT_CALL_FAILED);
    assertThat(stale.err()).contains("CONFLICT");
    assertThat(Skiff.run(admin, "config", "get", "no.such").exitCode()).isEqualTo(SkiffCli.EXIT_CALL_FAILED);
    // a value that starts like JSON and is not (a duration, host:port) is refused with the way to store it as text
    for (String value : new String[] {"2s", "127.0.0.1:9042"}) {
      Skiff.Result looksLikeJson = Skiff.run(admin, "config", "set", "memcached.timeout", value, "--service", "greeter", "-m", "x");
      assertThat(looksLikeJson.exitCode()).as(looksLikeJson.toString()).isEqualTo(SkiffCli.EXIT_CALL_FAILED);
      assertThat(looksLikeJson.err()).contains("not valid JSON", "add --string", "'" + value + "' --string");
      ok(admin, "config", "set", "memcached.timeout", value, "--service", "greeter", "--string", "-m", "as text");
    }
  }

  @Test
  void aChangeWithoutTheRoleExitsFiveAndHostileValuesAreEscaped() {
    try (Client c = Client.builder().transport(AmqpTransport.connect(EchoService.brokerUri())).ownTransport().build()) {
      String token = c.call(LoginService.SERVICE, "login", LoginRequest.newBuilder().setUser("admin").setPassword(ADMIN_PASSWORD).build(),
          Session.class).getToken();
      c.withScope(CallScope.forUser(token)).call(LoginService.SERVICE, "users.add",
          AddUserRequest.newBuilder().setUser("viewer").setPassword("viewer-password").build(), UserResponse.class);
    }
    Map<String, String> viewer = signedIn("viewer", "viewer", "viewer-password");
    Skiff.Result refused = Skiff.run(viewer, "config", "set", "x", "1", "-m", "no role");
    assertThat(refused.exitCode()).as(refused.toString()).isEqualTo(SkiffCli.EXIT_FORBIDDEN);
    assertThat(refused.err()).contains("ADMIN.CONFIG");
    Skiff.Result noMessage = Skiff.run(viewer, "config", "set", "x", "1");
    assertThat(noMessage.exitCode()).isEqualTo(SkiffCli.EXIT_USAGE);

    Map<String, String> admin = signedIn("admin2", "admin", ADMIN_PASSWORD);
    ok(admin, "config", "set", "banner", "\u001b[2J\u001b]0;pwned\u0007\u202eevil", "--service", "hostile", "-m", "msg \u001b[31m red");
    for (Skiff.Result r : List.of(ok(viewer, "config", "get", "--service", "hostile"), ok(viewer, "config", "get", "--service", "hostile", "--explain"),
        ok(viewer, "config", "log", "--service", "hostile"), ok(viewer, "config", "log", "--service", "hostile", "--json"))) {
      assertThat(r.out()).doesNotContain("\u001b").doesNotContain("\u0007").doesNotContain("\u202e").contains("\\u001b");
    }
    Skiff.Result badPath = Skiff.run(admin, "config", "set", "a..b\u001b", "1", "-m", "bad path");
    assertThat(badPath.exitCode()).as(badPath.toString()).isEqualTo(SkiffCli.EXIT_CALL_FAILED);
    assertThat(badPath.err()).contains("BAD_REQUEST").doesNotContain("\u001b");
  }

  @Test
  void aLogPageWithNothingSaysSoAndBadValuesAreRefusedBriefly() {
    Map<String, String> admin = signedIn("admin4", "admin", ADMIN_PASSWORD);
    assertThat(ok(admin, "config", "log", "--before", "1").out().strip()).isEqualTo("(no changes before 1)");
    assertThat(ok(admin, "config", "log", "--before", "1", "--json").out()).as("JSON lines: none").isEmpty();

    for (String before : new String[] {"0", "-5"}) {
      Skiff.Result r = Skiff.run(admin, "config", "log", "--before", before);
      assertThat(r.exitCode()).as(r.toString()).isEqualTo(SkiffCli.EXIT_USAGE);
      assertThat(r.err()).startsWith("skiff: --before is a change id: 1 or more");
    }

    String huge = "1" + "x".repeat(10_000);
    Skiff.Result notJson = Skiff.run(admin, "config", "set", "huge", huge, "--service", "hollow", "-m", "too long");
    assertThat(notJson.exitCode()).as(notJson.toString()).isEqualTo(SkiffCli.EXIT_CALL_FAILED);
    assertThat(notJson.err()).contains("add --string, e.g. skiff config set huge '" + huge.substring(0, 60) + "…' --string")
        .hasSizeLessThan(1_000);
  }

  @Test
  void aSecretIsReadFromStdinAndNeverPrinted() {
    String secret = "pa55-Xq7-secret";
    Map<String, String> admin = signedIn("admin3", "admin", ADMIN_PASSWORD);
    Skiff.Result set = Skiff.runWithInput(admin, secret + "\n", "config", "set", "db.password", "-", "--secret", "--service", "vault",
        "-m", "the database password");
    assertThat(set.exitCode()).as(set.toString()).isZero();
    assertThat(set.out()).contains("service/vault  db.password: (none) -> \"<secret>\"  (secret)");
    long id = Long.parseLong(set.out().split("\\s+")[1]);
    Skiff.Result global = Skiff.runWithInput(admin, secret + "\n", "config", "set", "db.password", "-", "--secret", "-m", "everyone");
    assertThat(global.exitCode()).as(global.toString()).isEqualTo(SkiffCli.EXIT_CALL_FAILED);
    assertThat(global.err()).contains("one service");
    List<Skiff.Result> outputs = List.of(set, global, ok(admin, "config", "get", "db.password", "--service", "vault"),
        ok(admin, "config", "get", "--service", "vault", "--explain"), ok(admin, "config", "log", "--service", "vault"),
        ok(admin, "config", "log", "--service", "vault", "--json"), ok(admin, "config", "diff", Long.toString(id - 1)));
    for (Skiff.Result r : outputs) {
      assertThat(r.out() + r.err()).doesNotContain(secret).doesNotContain("$secret");
    }
    assertThat(outputs.get(2).out().strip()).isEqualTo("\"<secret>\""); // other tests share the kernel: only this path is known
    assertThat(outputs.get(5).out()).contains("\"new\":\"<secret>\",\"secret\":true");
  }
}
