package dev.skiff.platform;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A service process whose broker refuses its credentials is configured wrong, not waiting out an outage:
 * it says so in one line and exits {@link ExitCodes#CONFIGURATION} (78), which a supervisor does not
 * retry in a loop as it would the 75 of a broker not there yet.
 */
class StartMisconfiguredTest {
  @Test
  void credentialsTheBrokerRefusesEndTheProcessWithOneLineAndExitCode78() throws Exception {
    URI uri = URI.create(AmqpRpcTest.brokerUri());
    String user = uri.getUserInfo().split(":")[0];
    String wrong = uri.getScheme() + "://" + user + ":not-its-pw-7@" + uri.getHost() + ":" + (uri.getPort() < 0 ? 5672 : uri.getPort())
        + (uri.getRawPath() == null ? "" : uri.getRawPath());
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    ProcessBuilder pb = new ProcessBuilder(java, "-Xmx128m", "-cp", System.getProperty("java.class.path"), WaitingService.class.getName())
        .redirectErrorStream(true);
    pb.environment().keySet().removeIf(k -> k.startsWith("SKIFF_"));
    pb.environment().putAll(Map.of("SKIFF_AMQP_URI", wrong, "SKIFF_BROKER_WAIT", "30s"));
    Process process = pb.start();
    try {
      CompletableFuture<String> read = CompletableFuture.supplyAsync(() -> {
        try {
          return new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
      assertThat(process.waitFor(25, TimeUnit.SECONDS)).as("exited at once, not after the 30 s wait").isTrue();
      String output = read.get(10, TimeUnit.SECONDS);
      assertThat(process.exitValue()).as(output).isEqualTo(ExitCodes.CONFIGURATION);
      assertThat(output).contains(WaitingService.NAME + ": cannot start: ", "refused the credentials in SKIFF_AMQP_URI")
          .doesNotContain("not-its-pw-7").doesNotContain("\tat ");
    } finally {
      process.destroyForcibly();
    }
  }
}
