package dev.skiff.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.kernel.config.ConfigService;
import dev.skiff.kernel.login.LoginService;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code skiff config} on a config service with nothing stored (a kernel of its own, so no other test's
 * change is there): each read says there is nothing rather than printing nothing.
 */
class ConfigCommandsEmptyStoreTest {
  static final String ADMIN_PASSWORD = "config-cli-empty-admin-pass";
  @RegisterExtension static final TestKernel kernel = new TestKernel(() -> List.of(
      new LoginService(Map.of("SKIFF_BOOTSTRAP_ADMIN_PASSWORD", ADMIN_PASSWORD)),
      new ConfigService(Map.of("SKIFF_CONFIG_SECRET_KEY", java.util.Base64.getEncoder().encodeToString(new byte[32])))));

  @TempDir Path dir;

  @Test
  void nothingStoredIsSaidInALine() {
    Map<String, String> admin = Skiff.envWithTokenFile(dir.resolve("admin"));
    assertThat(Skiff.login(admin, "admin", ADMIN_PASSWORD).exitCode()).isZero();
    assertThat(ok(admin, "config", "get", "--service", "hollow").out().strip()).isEqualTo("{}");
    assertThat(ok(admin, "config", "get", "--service", "hollow", "--explain").out().strip()).isEqualTo("(no keys set for hollow)");
    assertThat(ok(admin, "config", "get", "--explain").out().strip()).isEqualTo("(no keys set in the global layer)");
    assertThat(ok(admin, "config", "log").out().strip()).isEqualTo("(no changes yet)");
    assertThat(ok(admin, "config", "log", "--service", "hollow").out().strip()).isEqualTo("(no changes hollow sees yet)");
    assertThat(ok(admin, "config", "log", "--json").out()).as("JSON lines: none").isEmpty();
  }

  private static Skiff.Result ok(Map<String, String> env, String... args) {
    Skiff.Result r = Skiff.run(env, args);
    assertThat(r.exitCode()).as(r.toString()).isZero();
    return r;
  }
}
