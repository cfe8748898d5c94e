package com.example.greeter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.skiff.testing.Processes;
import dev.skiff.testing.RabbitMqExtension;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 16's "must show", as a person would do it: {@code skiff kernel} (the real script, its own JVM)
 * started with the first administrator's password, the greeter's jar running as versions v1 and v2, and
 * the CLI: without {@code skiff login} the route change is refused as not signed in and the rule stays
 * as it was; after {@code skiff login admin} it is accepted. Runs in {@code verify} (failsafe), after
 * {@code package} built the greeter's jar (and the cli module, before this one, {@code bin/skiff}'s).
 */
class RouteNeedsSignInIT {
  @RegisterExtension static final RabbitMqExtension broker = RabbitMqExtension.create();

  static final String PASSWORD = "must-show-admin-pass";
  static final Duration HANG = Duration.ofSeconds(60);
  static final List<Process> started = new ArrayList<>();
  @TempDir static Path dir;

  record Run(int exitCode, String out, String err) {
    @Override
    public String toString() {
      return "exit " + exitCode + "\n--- stdout\n" + out + "--- stderr\n" + err;
    }
  }

  static Path script() {
    return Path.of(System.getProperty("skiff.script", "../../bin/skiff")).toAbsolutePath().normalize();
  }

  static Map<String, String> env() {
    return Map.of("SKIFF_AMQP_URI", broker.amqpUri(), "SKIFF_TOKEN_FILE", dir.resolve("token").toString());
  }

  static Process start(String name, Map<String, String> extra, String... cmd) throws IOException {
    ProcessBuilder pb = new ProcessBuilder(cmd)
        .redirectOutput(dir.resolve(name + ".out").toFile()).redirectError(dir.resolve(name + ".err").toFile());
    pb.environment().remove("SKIFF_JAVA_OPTS");
    pb.environment().putAll(env());
    pb.environment().putAll(extra);
    Process p = pb.start();
    started.add(p);
    return p;
  }

  static Run skiff(String stdin, String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of(script().toString()));
    cmd.addAll(List.of(args));
    String tag = "skiff-" + System.nanoTime();
    Process p = start(tag, Map.of(), cmd.toArray(String[]::new));
    started.remove(p);
    p.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
    p.getOutputStream().close();
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("skiff " + String.join(" ", args) + " did not finish in 60 s");
    }
    return new Run(p.exitValue(), Files.readString(dir.resolve(tag + ".out")), Files.readString(dir.resolve(tag + ".err")));
  }

  @BeforeAll
  static void startKernelAndGreeters() throws IOException {
    Path jar = Path.of(System.getProperty("greeter.jar", "target/greeter.jar"));
    assertThat(script()).as("bin/skiff").isExecutable();
    assertThat(jar).as("the greeter's jar (mvn package)").isRegularFile();
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    start("kernel", Map.of("SKIFF_BOOTSTRAP_ADMIN_PASSWORD", PASSWORD), script().toString(), "kernel", "--http-port", "0");
    start("greeter-v1", Map.of("SKIFF_SERVICE_VERSION", "v1"), java, "-jar", jar.toString());
    start("greeter-v2", Map.of("SKIFF_SERVICE_VERSION", "v2"), java, "-jar", jar.toString());
  }

  @AfterAll
  static void stop() throws InterruptedException {
    Processes.stopAll(started);
  }

  @Test
  void aRouteChangeIsRefusedUntilTheAdministratorSignsIn() throws Exception {
    // both versions running, as the binding service sees them
    await().atMost(HANG).pollInterval(Duration.ofMillis(500)).ignoreExceptions().untilAsserted(() -> {
      Run show = skiff("", "route", Greeter.NAME, "--show");
      assertThat(show.exitCode()).as(show.toString()).isZero();
      assertThat(show.out()).contains("v1 ").contains("v2 ");
    });

    Run refused = skiff("", "route", Greeter.NAME, "v1=50", "v2=50");
    assertThat(refused.exitCode()).as(refused.toString()).isEqualTo(4);
    assertThat(refused.err()).startsWith("UNAUTHORIZED: ").contains("skiff login");
    assertThat(skiff("", "route", Greeter.NAME, "--show").out()).contains(Greeter.NAME + ": no rule");

    Run login = await().atMost(HANG).pollInterval(Duration.ofMillis(500))
        .until(() -> skiff(PASSWORD + "\n", "login", "admin"), r -> r.exitCode() == 0);
    assertThat(login.out()).contains("signed in as admin (roles: ADMIN)").doesNotContain(PASSWORD);

    Run accepted = skiff("", "route", Greeter.NAME, "v1=50", "v2=50");
    assertThat(accepted.exitCode()).as(accepted.toString()).isZero();
    assertThat(accepted.out()).contains(Greeter.NAME + ": rule v1=50 v2=50");
    assertThat(skiff("", "route", Greeter.NAME, "--clear").exitCode()).isZero();
    assertThat(skiff("", "logout").exitCode()).isZero();
  }
}
