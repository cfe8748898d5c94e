package dev.skiff.platform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.testproto.EchoRequest;
import dev.skiff.platform.testproto.EchoResponse;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
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
  private WaitingServiceProcess service;

  @AfterEach
  void tearDown() {
    if (service != null) {
      service.close();
    }
    broker.restoreService();
  }

  @Test
  void aServiceStartedBeforeItsBrokerWaitsForItAndServesOnceItComes() throws Exception {
    broker.stopNode();
    service = WaitingServiceProcess.start(Map.of("SKIFF_AMQP_URI", broker.uri()));
    await().atMost(Duration.ofSeconds(60)).until(() -> service.lines().stream().anyMatch(l -> l.contains("waiting for the broker")));
    assertThat(service.isAlive()).as("still running, waiting").isTrue();
    broker.startNode();
    try (AmqpTransport t = AmqpTransport.connect(broker.uri()); Client client = Client.builder().transport(t).build()) {
      await().atMost(BrokerOutageTest.BOUND).pollInterval(Duration.ofMillis(200)).ignoreExceptionsInstanceOf(SkiffException.class)
          .until(() -> client.call(WaitingService.NAME, "echo", EchoRequest.newBuilder().setText("came").build(), EchoResponse.class,
              CallOptions.timeout(Duration.ofSeconds(1))).getText().equals("came"));
    }
    assertThat(service.output()).doesNotContain("guest:guest@");
  }

  @Test
  void toldHowLongToWaitItGivesUpWithOneLineAndExitCode75() throws Exception {
    int closedPort;
    try (ServerSocket s = new ServerSocket(0)) {
      closedPort = s.getLocalPort();
    }
    service = WaitingServiceProcess.start(Map.of("SKIFF_AMQP_URI", "amqp://guest:secret-pw@127.0.0.1:" + closedPort, "SKIFF_BROKER_WAIT", "2s"));
    OptionalInt exit = service.awaitExit(Duration.ofSeconds(60));
    assertThat(exit).as("exited").isPresent();
    String all = service.output();
    assertThat(exit.getAsInt()).as(all).isEqualTo(ExitCodes.DEPENDENCY_UNAVAILABLE);
    List<String> lines = service.lines();
    assertThat(lines).isNotEmpty();
    assertThat(lines.get(lines.size() - 1))
        .startsWith(WaitingService.NAME + ": cannot start: the broker at ")
        .contains("127.0.0.1:" + closedPort)
        .contains("could not be reached within 2 s");
    assertThat(all).as("no stack trace").doesNotContain("\tat ").doesNotContain("Exception in thread");
    assertThat(all).as("no password").doesNotContain("secret-pw");
  }
}
