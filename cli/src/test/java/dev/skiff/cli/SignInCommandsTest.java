package dev.skiff.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.util.JsonFormat;
import dev.skiff.kernel.login.LoginService;
import dev.skiff.proto.v1.Session;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code skiff login|logout|whoami|users} against a real login service on the tests' broker: the session
 * kept owner-only and sent by every command, renewed near its expiry, revoked by logout, the password
 * never shown, and the exit codes for not signed in (4) and not allowed (5).
 */
class SignInCommandsTest {
  static final String ADMIN_PASSWORD = "sign-in-admin-pass";
  // tokens valid for 2 minutes: less than the CLI's renewal margin, so every command renews
  @RegisterExtension static final TestKernel kernel = new TestKernel(() -> List.of(new LoginService(
      Map.of("SKIFF_BOOTSTRAP_ADMIN_PASSWORD", ADMIN_PASSWORD, "SKIFF_LOGIN_TOKEN_TTL", "2m"))));

  @TempDir Path dir;

  private Map<String, String> env(String file) {
    return Skiff.envWithTokenFile(dir.resolve(file));
  }

  private static Session kept(Map<String, String> env) throws Exception {
    Session.Builder b = Session.newBuilder();
    JsonFormat.parser().merge(Files.readString(Path.of(env.get("SKIFF_TOKEN_FILE")), StandardCharsets.UTF_8), b);
    return b.build();
  }

  @Test
  void aSessionIsKeptOwnerOnlySentByEveryCommandRenewedAndEndedByLogout() throws Exception {
    Map<String, String> env = env("admin/token");
    Skiff.Result whoBefore = Skiff.run(env, "whoami");
    assertThat(whoBefore.exitCode()).as(whoBefore.toString()).isEqualTo(SkiffCli.EXIT_UNAUTHORIZED);
    assertThat(whoBefore.err()).contains("not signed in").contains("skiff login");

    Skiff.Result in = Skiff.login(env, "admin", ADMIN_PASSWORD);
    assertThat(in.exitCode()).as(in.toString()).isZero();
    assertThat(in.out()).contains("signed in as admin (roles: ADMIN)")
        .as("both times to the second").containsPattern("until \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ, renewed by each command until "
            + "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ;");
    assertThat(in.out() + in.err()).doesNotContain(ADMIN_PASSWORD);
    Path file = Path.of(env.get("SKIFF_TOKEN_FILE"));
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file.getParent()))).isEqualTo("rwx------");
    String first = kept(env).getToken();

    Skiff.Result who = Skiff.run(env, "whoami");
    assertThat(who.exitCode()).as(who.toString()).isZero();
    assertThat(who.out()).startsWith("admin").contains("roles:   ADMIN").contains("expires:")
        .containsPattern("expires: \\S+:\\d\\dZ \\(renewed by each command until \\S+:\\d\\dZ\\)");
    String renewed = kept(env).getToken();
    assertThat(renewed).as("a token within the renewal margin is renewed by the next command").isNotEqualTo(first);
    Skiff.Result token = Skiff.run(env, "whoami", "--token");
    assertThat(token.exitCode()).as(token.toString()).isZero();
    assertThat(token.out().trim()).as("the token alone, the one kept (renewed again)").isEqualTo(kept(env).getToken()).isNotEqualTo(renewed);
    assertThat(token.out().trim().split("\\.")).hasSize(3);
    renewed = kept(env).getToken();

    Skiff.Result out = Skiff.run(env, "logout");
    assertThat(out.exitCode()).as(out.toString()).isZero();
    assertThat(out.out()).contains("revoked everywhere");
    assertThat(file).doesNotExist();
    // the revoked token, put back by hand, is refused
    Files.writeString(file, JsonFormat.printer().print(Session.newBuilder().setToken(renewed).setUser("admin").build()));
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
      Skiff.Result again = Skiff.run(env, "whoami");
      assertThat(again.exitCode()).as(again.toString()).isEqualTo(SkiffCli.EXIT_UNAUTHORIZED);
      assertThat(again.err()).contains("revoked");
    });
  }

  @Test
  void aWrongPasswordExitsFourWithoutTellingUserFromPassword() {
    Map<String, String> env = env("wrong");
    Skiff.Result wrongPassword = Skiff.login(env, "admin", "not-the-password");
    Skiff.Result wrongUser = Skiff.login(env, "nobody-" + EchoService.randomHex(3), "not-the-password");
    assertThat(wrongPassword.exitCode()).as(wrongPassword.toString()).isEqualTo(SkiffCli.EXIT_UNAUTHORIZED);
    assertThat(wrongUser.exitCode()).as(wrongUser.toString()).isEqualTo(SkiffCli.EXIT_UNAUTHORIZED);
    assertThat(wrongPassword.err()).isEqualTo(wrongUser.err());
    assertThat(wrongPassword.err()).doesNotContain("not-the-password");
    assertThat(Path.of(env.get("SKIFF_TOKEN_FILE"))).doesNotExist();
    Skiff.Result noPassword = Skiff.runWithInput(env, "", "login", "admin");
    assertThat(noPassword.exitCode()).as(noPassword.toString()).isEqualTo(SkiffCli.EXIT_USAGE);
  }

  @Test
  void aGroupAloneNamesItsCommands() {
    Skiff.Result users = Skiff.run(env("group"), "users");
    assertThat(users.exitCode()).as(users.toString()).isEqualTo(SkiffCli.EXIT_USAGE);
    assertThat(users.err()).contains("Missing command: use 'skiff users add', 'roles', 'passwd', 'list' or 'unlock'");
    Skiff.Result dead = Skiff.run(env("group"), "dead-letters");
    assertThat(dead.err()).contains("Missing command: use 'skiff dead-letters list', 'replay' or 'discard'");
  }

  @Test
  void aSessionKnownToHaveExpiredIsNotSentAndSaysSo() throws Exception {
    Map<String, String> env = env("expired");
    assertThat(Skiff.login(env, "admin", ADMIN_PASSWORD).exitCode()).isZero();
    Path file = Path.of(env.get("SKIFF_TOKEN_FILE"));
    Session past = kept(env).toBuilder().setExpiresAtMs(System.currentTimeMillis() - 60_000).build();
    Files.writeString(file, JsonFormat.printer().print(past), StandardCharsets.UTF_8);
    // a command goes as no one (what needs no session works as before the session was kept), saying why;
    // one that needs a session is refused as for anyone not signed in
    Skiff.Result who = Skiff.run(env, "whoami");
    assertThat(who.exitCode()).as(who.toString()).isEqualTo(SkiffCli.EXIT_UNAUTHORIZED);
    assertThat(who.err()).contains("expired at").contains("goes without it").contains("skiff login").contains("sign in first")
        .doesNotContain(past.getToken());
  }

  @Test
  void aSessionFileOthersCanReadIsNotUsed() throws Exception {
    Map<String, String> env = env("open");
    assertThat(Skiff.login(env, "admin", ADMIN_PASSWORD).exitCode()).isZero();
    Path file = Path.of(env.get("SKIFF_TOKEN_FILE"));
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
    Skiff.Result r = Skiff.run(env, "whoami");
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(SkiffCli.EXIT_USAGE);
    assertThat(r.err()).contains("may be read or written by others").contains("chmod 600");
    assertThat(r.err()).doesNotContain(kept(env).getToken());
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    Files.writeString(file, "{ not json");
    Skiff.Result garbage = Skiff.run(env, "whoami");
    assertThat(garbage.exitCode()).as(garbage.toString()).isEqualTo(SkiffCli.EXIT_USAGE);
    assertThat(garbage.err()).contains("not a session");
  }

  @Test
  void addingAUserChecksTheNameBeforeAskingForAPasswordAndWarnsOfAnUnknownAdminRole() {
    Map<String, String> admin = env("users-admin-checks");
    assertThat(Skiff.login(admin, "admin", ADMIN_PASSWORD).exitCode()).isZero();
    // no password on stdin: a name refused first is refused for itself, not for the missing password
    Skiff.Result badName = Skiff.runWithInput(admin, "", "users", "add", "Bad Name");
    assertThat(badName.exitCode()).as(badName.toString()).isEqualTo(SkiffCli.EXIT_USAGE);
    assertThat(badName.err()).startsWith("skiff: 'Bad Name' is not a valid user name: 1 to 64 of a-z").doesNotContain("password");
    Skiff.Result exists = Skiff.runWithInput(admin, "", "users", "add", "admin");
    assertThat(exists.exitCode()).as(exists.toString()).isEqualTo(SkiffCli.EXIT_CALL_FAILED);
    assertThat(exists.err()).startsWith("skiff: user 'admin' already exists").doesNotContain("no password");

    String bob = "bob-" + EchoService.randomHex(3);
    Skiff.Result add = Skiff.runWithInput(admin, "bob-password-1\n", "users", "add", bob, "--role", "ADMIN.BOGUS", "--role", "ADMIN.CONFIG");
    assertThat(add.exitCode()).as(add.toString()).isZero();
    assertThat(add.err()).contains("skiff: warning: ADMIN.BOGUS is not one of the platform's roles")
        .contains("ADMIN.CONFIG, ADMIN.PAGES, ADMIN.ROUTES, ADMIN.USERS").doesNotContain("warning: ADMIN.CONFIG");
    Skiff.Result roles = Skiff.run(admin, "users", "roles", bob, "ADMIN.ROUTES.BOGUS:x", "ADMIN.USERS", "FINANCE.REFUNDS");
    assertThat(roles.exitCode()).as(roles.toString()).isZero();
    assertThat(roles.err().lines()).containsExactly("skiff: warning: ADMIN.ROUTES.BOGUS:x is not one of the platform's roles (ADMIN, "
        + "ADMIN.CONFIG, ADMIN.PAGES, ADMIN.ROUTES, ADMIN.USERS); stored as given, for a service that checks it itself");
  }

  @Test
  void usersAreManagedByAnAdministratorAndNotByOthers() {
    Map<String, String> admin = env("users-admin");
    assertThat(Skiff.login(admin, "admin", ADMIN_PASSWORD).exitCode()).isZero();
    String ada = "ada-" + EchoService.randomHex(3);
    Skiff.Result add = Skiff.runWithInput(admin, "ada-password-1\n", "users", "add", ada, "--role", "ADMIN.ROUTES:com.example.greeter");
    assertThat(add.exitCode()).as(add.toString()).isZero();
    assertThat(add.out()).contains("added " + ada + "  roles: ADMIN.ROUTES:com.example.greeter");
    Skiff.Result badRole = Skiff.runWithInput(admin, "x-password-1\n", "users", "add", "x" + ada, "--role", "admin");
    assertThat(badRole.exitCode()).as(badRole.toString()).isEqualTo(SkiffCli.EXIT_USAGE);
    Skiff.Result list = Skiff.run(admin, "users", "list");
    assertThat(list.exitCode()).as(list.toString()).isZero();
    assertThat(list.out()).contains("USER").contains(ada).contains("admin");

    Map<String, String> asAda = env("users-ada");
    assertThat(Skiff.login(asAda, ada, "ada-password-1").exitCode()).isZero();
    Skiff.Result forbidden = Skiff.run(asAda, "users", "list");
    assertThat(forbidden.exitCode()).as(forbidden.toString()).isEqualTo(SkiffCli.EXIT_FORBIDDEN);
    assertThat(forbidden.err()).contains("FORBIDDEN");
    Skiff.Result unlockForbidden = Skiff.run(asAda, "users", "unlock", ada);
    assertThat(unlockForbidden.exitCode()).as(unlockForbidden.toString()).isEqualTo(SkiffCli.EXIT_FORBIDDEN);
    Skiff.Result unlock = Skiff.run(admin, "users", "unlock", ada);
    assertThat(unlock.exitCode()).as(unlock.toString()).isZero();
    assertThat(unlock.out()).contains("unlocked " + ada + "  roles: ADMIN.ROUTES:com.example.greeter").doesNotContain("locked out");
    Skiff.Result unlockNobody = Skiff.run(admin, "users", "unlock", "nobody-" + EchoService.randomHex(3));
    assertThat(unlockNobody.exitCode()).as(unlockNobody.toString()).isEqualTo(SkiffCli.EXIT_CALL_FAILED);
    assertThat(unlockNobody.err()).contains("NOT_FOUND").contains("no user");
    Skiff.Result passwd = Skiff.runWithInput(asAda, "ada-password-1\nada-password-2\n", "users", "passwd");
    assertThat(passwd.exitCode()).as(passwd.toString()).isZero();
    assertThat(passwd.out()).contains("sign in again");
    assertThat(Path.of(asAda.get("SKIFF_TOKEN_FILE"))).doesNotExist();
    assertThat(Skiff.login(asAda, ada, "ada-password-1").exitCode()).isEqualTo(SkiffCli.EXIT_UNAUTHORIZED);
    assertThat(Skiff.login(asAda, ada, "ada-password-2").exitCode()).isZero();

    Skiff.Result roles = Skiff.run(admin, "users", "roles", ada, "ADMIN.ROUTES");
    assertThat(roles.exitCode()).as(roles.toString()).isZero();
    assertThat(roles.out()).contains(ada + "  roles: ADMIN.ROUTES");
    // changing roles ends the user's sessions: the next command says so
    await().atMost(Duration.ofSeconds(5)).until(() -> Skiff.run(asAda, "whoami").exitCode() == SkiffCli.EXIT_UNAUTHORIZED);
    assertThat(Skiff.run(admin, "logout").exitCode()).isZero();
  }
}
