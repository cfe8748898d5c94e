package dev.skiff.platform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.testproto.EchoRequest;
import dev.skiff.platform.testproto.EchoResponse;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A service process started while its broker cannot be reached (issue 24): it waits for the broker and
 * serves once it comes, with no restart; told how long to wait ({@code SKIFF_BROKER_WAIT}), it gives up
 * with one clear line, no stack trace, no password, and exit code 75
 * ({@link ExitCodes#DEPENDENCY_UNAVAILABLE}).
 */
class StartWhileBrokerDownTest {
  private final Broker broker = Broker.privateNode();
  private Process process;
  private final List<String> output = new CopyOnWriteArrayList<>();

  @AfterEach
  void tearDown() {
    if (process != null) {
      process.destroyForcibly();
    }
    broker.restoreService();
  }

  private void launch(Map<String, String> env) throws IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    ProcessBuilder pb = new ProcessBuilder(java, "-Xmx128m", "-cp", System.getProperty("java.class.path"), WaitingService.class.getName())
        .redirectErrorStream(true);
    pb.environment().keySet().removeIf(k -> k.startsWith("SKIFF_"));
    pb.environment().putAll(env);
    process = pb.start();
    BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    Thread reader = new Thread(() -> out.lines().forEach(output::add), "waiting-service-output");
    reader.setDaemon(true);
    reader.start();
  }

  @Test
  void aServiceStartedBeforeItsBrokerWaitsForItAndServesOnceItComes() throws Exception {
    broker.stopNode();
    launch(Map.of("SKIFF_AMQP_URI", broker.uri()));
    await().atMost(Duration.ofSeconds(60)).until(() -> output.stream().anyMatch(l -> l.contains("waiting for the broker")));
    assertThat(process.isAlive()).as("still running, waiting").isTrue();
    broker.startNode();
    try (AmqpTransport t = AmqpTransport.connect(broker.uri()); Client client = Client.builder().transport(t).build()) {
      await().atMost(BrokerOutageTest.BOUND).pollInterval(Duration.ofMillis(200)).ignoreExceptionsInstanceOf(SkiffException.class)
          .until(() -> client.call(WaitingService.NAME, "echo", EchoRequest.newBuilder().setText("came").build(), EchoResponse.class,
              CallOptions.timeout(Duration.ofSeconds(1))).getText().equals("came"));
    }
    assertThat(String.join("\n", output)).doesNotContain("guest:guest@");
  }

  @Test
  void toldHowLongToWaitItGivesUpWithOneLineAndExitCode75() throws Exception {
    int closedPort;
    try (ServerSocket s = new ServerSocket(0)) {
      closedPort = s.getLocalPort();
    }
    launch(Map.of("SKIFF_AMQP_URI", "amqp://guest:secret-pw@127.0.0.1:" + closedPort, "SKIFF_BROKER_WAIT", "2s"));
    assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("exited").isTrue();
    await().atMost(Duration.ofSeconds(10)).until(() -> output.stream().anyMatch(l -> l.contains("cannot start")));
    String all = String.join("\n", output);
    assertThat(process.exitValue()).isEqualTo(ExitCodes.DEPENDENCY_UNAVAILABLE);
    assertThat(output.get(output.size() - 1))
        .startsWith(WaitingService.NAME + ": cannot start: the broker at ")
        .contains("127.0.0.1:" + closedPort)
        .contains("could not be reached within 2 s");
    assertThat(all).as("no stack trace").doesNotContain("\tat ").doesNotContain("Exception in thread");
    assertThat(all).as("no password").doesNotContain("secret-pw");
  }
}
