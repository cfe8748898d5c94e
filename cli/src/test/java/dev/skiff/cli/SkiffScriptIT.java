package dev.skiff.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * End to end: the real {@code bin/skiff} script, running the shaded jar in its own JVM, against a real
 * service on the real broker. Runs in {@code verify} (failsafe), after {@code package} built the jar.
 */
class SkiffScriptIT {
  @AutoClose static EchoService svc;

  @BeforeAll
  static void startService() {
    assertThat(script()).as("bin/skiff").isExecutable();
    assertThat(Path.of(System.getProperty("skiff.jar"))).as("the shaded jar").isRegularFile();
    svc = EchoService.twoVersions("1.0", "2.0");
  }

  static Path script() {
    return Path.of(System.getProperty("skiff.script", "../bin/skiff")).toAbsolutePath().normalize();
  }

  record Run(int exitCode, String out, String err) {
    @Override
    public String toString() {
      return "exit " + exitCode + "\n--- stdout\n" + out + "--- stderr\n" + err;
    }
  }

  static Run exec(Path command, String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>();
    cmd.add(command.toString());
    cmd.addAll(List.of(args));
    Path out = Files.createTempFile("skiff-out", ".txt");
    Path err = Files.createTempFile("skiff-err", ".txt");
    try {
      ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile());
      pb.environment().put("SKIFF_AMQP_URI", EchoService.brokerUri());
      pb.environment().remove("SKIFF_JAVA_OPTS");
      Process p = pb.start();
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new AssertionError("bin/skiff " + String.join(" ", args) + " did not finish in 60 s");
      }
      return new Run(
          p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }

  @Test
  void callPrintsOnlyTheResponseOnStdout() throws Exception {
    Run r = exec(script(), "call", svc.name, "echo", "{\"text\": \"from the script\"}", "--verbose");
    assertThat(r.exitCode()).as(r.toString()).isZero();
    JsonObject o = JsonParser.parseString(r.out()).getAsJsonObject();
    assertThat(o.get("text").getAsString()).isEqualTo("from the script");
    assertThat(r.err())
        .containsPattern("answered by " + svc.name.replace(".", "\\.") + " (1\\.0 instance " + svc.instanceA()
            + "|2\\.0 instance " + svc.instanceB() + ") in \\d+\\.\\d ms \\(request [0-9a-f]{32}\\)");
  }

  @Test
  void instanceOptionReachesThatInstance() throws Exception {
    Run r = exec(script(), "call", svc.name, "echo", "--instance", svc.instanceB());
    assertThat(r.exitCode()).as(r.toString()).isZero();
    assertThat(JsonParser.parseString(r.out()).getAsJsonObject().get("instance").getAsString()).isEqualTo(svc.instanceB());
  }

  @Test
  void failuresPrintOneLineAndExitNonZero() throws Exception {
    String missing = "test.cli.missing." + EchoService.randomHex(4);
    Run notFound = exec(script(), "call", missing, "echo");
    assertThat(notFound.exitCode()).as(notFound.toString()).isEqualTo(1);
    assertThat(notFound.out()).isEmpty();
    assertThat(notFound.err()).isEqualTo("NOT_FOUND: service " + missing + " is not running (no queue is bound for it)\n");

    Run unreachable = exec(script(), "call", svc.name, "echo", "--amqp", "amqp://guest:sekrit@127.0.0.1:1");
    assertThat(unreachable.exitCode()).as(unreachable.toString()).isEqualTo(3);
    assertThat(unreachable.err())
        .startsWith("UNAVAILABLE: cannot connect to the broker at amqp://guest:***@127.0.0.1:1")
        .doesNotContain("sekrit")
        .doesNotContain("\tat ");
    assertThat(unreachable.err().lines()).hasSize(1);

    Run refused = exec(script(), "call", svc.name, "echo", "--amqp", EchoService.brokerUriWithVhost("skiff-no-such-vhost"));
    assertThat(refused.exitCode()).as(refused.toString()).isEqualTo(3);
    assertThat(refused.err().lines()).as("the AMQP client's own warnings are not shown: the refusal and its hint")
        .hasSize(2).first(org.assertj.core.api.InstanceOfAssertFactories.STRING)
        .startsWith("FORBIDDEN: cannot connect to the broker at ").endsWith("NOT_ALLOWED - vhost skiff-no-such-vhost not found");

    Run usage = exec(script(), "load", svc.name, "echo", "{}", "--calls", "0", "--concurrency", "1");
    assertThat(usage.exitCode()).as(usage.toString()).isEqualTo(2);
    assertThat(usage.err()).startsWith("skiff: --calls must be between 1 and");
  }

  @Test
  void loadJsonIsTheOnlyThingOnStdout() throws Exception {
    Run r = exec(script(), "load", svc.name, "echo", "{\"text\": \"x\"}", "--calls", "200", "--concurrency", "16", "--json");
    assertThat(r.exitCode()).as(r.toString()).isZero();
    assertThat(r.out().lines()).hasSize(1);
    JsonObject o = JsonParser.parseString(r.out()).getAsJsonObject();
    assertThat(o.get("calls").getAsInt()).isEqualTo(200);
    assertThat(o.get("successes").getAsInt()).isEqualTo(200);
    assertThat(o.getAsJsonObject("byVersion").keySet()).containsExactlyInAnyOrder("1.0", "2.0");
    assertThat(r.err()).isEmpty();
  }

  @Test
  void worksThroughASymlink(@TempDir Path dir) throws Exception {
    Path link = Files.createSymbolicLink(dir.resolve("skiff"), script());
    Run r;
    try {
      r = exec(link, "--version");
    } finally {
      Files.delete(link);
    }
    assertThat(r.exitCode()).as(r.toString()).isZero();
    assertThat(r.out()).startsWith("skiff 0.");
  }

  @Test
  void aMissingJarGetsABuildHint(@TempDir Path dir) throws Exception {
    Path bin = Files.createDirectories(dir.resolve("bin"));
    Path copy = Files.copy(script(), bin.resolve("skiff"));
    assertThat(copy.toFile().setExecutable(true)).isTrue();
    Run r = exec(copy, "call", svc.name, "echo");
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(2);
    assertThat(r.out()).isEmpty();
    assertThat(r.err().lines()).hasSize(1);
    assertThat(r.err()).contains("cli/target/skiff-cli.jar is missing").contains("mvn -q -DskipTests package");
  }
}
