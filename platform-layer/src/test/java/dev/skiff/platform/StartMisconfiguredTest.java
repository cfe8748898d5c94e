package dev.skiff.platform;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.time.Duration;
import java.util.Map;
import java.util.OptionalInt;
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
    try (WaitingServiceProcess service = WaitingServiceProcess.start(Map.of("SKIFF_AMQP_URI", wrong, "SKIFF_BROKER_WAIT", "30s"))) {
      OptionalInt exit = service.awaitExit(Duration.ofSeconds(25));
      assertThat(exit).as("exited at once, not after the 30 s wait").isPresent();
      String output = service.output();
      assertThat(exit.getAsInt()).as(output).isEqualTo(ExitCodes.CONFIGURATION);
      assertThat(output).contains(WaitingService.NAME + ": cannot start: ", "refused the credentials in SKIFF_AMQP_URI")
          .doesNotContain("not-its-pw-7").doesNotContain("\tat ");
    }
  }

  @Test
  void aVirtualHostTheBrokerRefusesEndsTheProcessAtOnceAsConfiguredWrong() throws Exception {
    URI uri = URI.create(AmqpRpcTest.brokerUri());
    String noVhost = uri.getScheme() + "://" + uri.getRawUserInfo() + "@" + uri.getHost() + ":" + (uri.getPort() < 0 ? 5672 : uri.getPort())
        + "/skiff-no-such-vhost-7";
    try (WaitingServiceProcess service = WaitingServiceProcess.start(Map.of("SKIFF_AMQP_URI", noVhost, "SKIFF_BROKER_WAIT", "30s"))) {
      OptionalInt exit = service.awaitExit(Duration.ofSeconds(25));
      assertThat(exit).as("exited at once, not after the 30 s wait").isPresent();
      String output = service.output();
      assertThat(exit.getAsInt()).as(output).isEqualTo(ExitCodes.CONFIGURATION);
      assertThat(output).contains(WaitingService.NAME + ": cannot start: ", "vhost skiff-no-such-vhost-7 not found",
          "SKIFF_AMQP_URI").doesNotContain("\tat ");
    }
  }

  @Test
  void aSettingThatDoesNotParseEndsTheProcessWithOneLineNamingItAndExitCode78() throws Exception {
    Map<String, String> wrongs = Map.of(
        "SKIFF_TRACE_SAMPLE_RATE", "1%",
        "SKIFF_HEARTBEAT", "soon",
        "SKIFF_INSTANCE_ID", "a b",
        "SKIFF_SERVICE_VERSION", "<b>",
        "SKIFF_DEFAULT_TIMEOUT", "1000h");
    for (Map.Entry<String, String> wrong : wrongs.entrySet()) {
      try (WaitingServiceProcess service = WaitingServiceProcess.start(
          Map.of("SKIFF_AMQP_URI", AmqpRpcTest.brokerUri(), "SKIFF_CONFIG_SERVICE", "off", wrong.getKey(), wrong.getValue()))) {
        OptionalInt exit = service.awaitExit(Duration.ofSeconds(30));
        assertThat(exit).as(wrong.getKey() + " exited").isPresent();
        String output = service.output();
        assertThat(exit.getAsInt()).as(output).isEqualTo(ExitCodes.CONFIGURATION);
        assertThat(output).as(wrong.getKey()).contains(WaitingService.NAME + ": cannot start: ").contains(wrong.getKey())
            .doesNotContain("\tat ").doesNotContain("Exception in thread");
      }
    }
    for (String uri : new String[] {"http://guest:sekrit-3@localhost", "amqp://guest:sekrit-3@localhost:99999"}) {
      try (WaitingServiceProcess service = WaitingServiceProcess.start(Map.of("SKIFF_AMQP_URI", uri, "SKIFF_CONFIG_SERVICE", "off"))) {
        OptionalInt exit = service.awaitExit(Duration.ofSeconds(30));
        assertThat(exit).as(uri + " exited").isPresent();
        String output = service.output();
        assertThat(exit.getAsInt()).as(output).isEqualTo(ExitCodes.CONFIGURATION);
        assertThat(output).contains(WaitingService.NAME + ": cannot start: SKIFF_AMQP_URI")
            .doesNotContain("sekrit-3").doesNotContain("\tat ").doesNotContain("Exception in thread");
      }
    }
  }
}
