package dev.skiff.platform.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.skiff.platform.ExitCodes;
import dev.skiff.platform.WaitingServiceProcess;
import dev.skiff.platform.config.Config;
import dev.skiff.platform.config.Settings;
import dev.skiff.platform.transport.amqp.AmqpOptions;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Hostile input, issue 17 item 6: a broker URI whose password contains {@code @} or {@code /} was printed
 * with its password (a pattern cut the URI at the wrong place). Each password here holds one of the
 * characters that end a URI's parts ({@code @ / : #}, a space, and {@code %40 %2F %3A}, the same encoded) between
 * fragments that must never be printed: not by {@link AmqpOptions#redact}, not in the exception a failed
 * connection throws nor in any of its causes, not by {@code toString()} of the settings, not in a
 * configuration error, and not on the output of a service process that cannot start.
 */
class PasswordsInErrorsTest {
  /** Passwords, each with fragments of three characters or more around the characters that split a URI. */
  static final List<String> PASSWORDS =
      List.of("Xq7@Zr9", "Wm4/Kp2", "Jn5%40Ht6", "Bv8:Lc3", "Fy1#Gd4", "Qa2@Sx3/Ed4%40Rf5:Tg6#Yh7", "Uj8 Ik9@Ol0", "Ws1%2FEd2%3ARf3");

  private static int closedPort;

  @BeforeAll
  static void findAClosedPort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      closedPort = s.getLocalPort();
    }
  }

  /** A URI of a broker that refuses connections at once (nothing listens on the port). */
  static String uri(String password) {
    return "amqp://leakuser:" + password + "@127.0.0.1:" + closedPort + "/vh";
  }

  /** @return the parts of a password that must not show, e.g. Xq7 and Zr9 of Xq7@Zr9 */
  static List<String> fragments(String password) {
    return Arrays.stream(password.split("%40|%2F|%3A|[@/:# ]")).filter(f -> f.length() >= 3).toList();
  }

  /** Asserts that no fragment of the password is in the text. */
  static void assertNoPassword(String text, String password) {
    for (String f : fragments(password)) {
      assertThat(text).as("a fragment of password '%s' leaked", password).doesNotContain(f);
    }
  }

  /** @return everything a stack trace of the exception shows: its messages, its causes', its suppressed' */
  static String printed(Throwable t) {
    StringWriter w = new StringWriter();
    t.printStackTrace(new PrintWriter(w));
    return w.toString();
  }

  @Test
  void redactHidesThePasswordWhetherOrNotTheUriParses() {
    for (String p : PASSWORDS) {
      assertThat(AmqpOptions.redact(uri(p))).isEqualTo("amqp://leakuser:***@127.0.0.1:" + closedPort + "/vh");
    }
    assertThat(AmqpOptions.redact("amqps://u:p@[::1]:5671")).isEqualTo("amqps://u:***@[::1]:5671");
    assertThat(AmqpOptions.redact("amqp://localhost:5672/vh")).as("nothing to hide").isEqualTo("amqp://localhost:5672/vh");
    assertThat(AmqpOptions.redact("amqp://Xq7@localhost")).as("a user with no password may be a token").isEqualTo("amqp://***@localhost");
    assertThat(AmqpOptions.redact("leakuser:Xq7@Zr9@localhost")).as("no scheme").isEqualTo("***@localhost");
  }

  @Test
  void aUriInsideALongerMessageIsRedactedAndTheRestKept() {
    for (String p : PASSWORDS) {
      String message = "cannot connect to the broker at " + uri(p) + ": Connection refused (write @ as %40)\n\tat x.Y.z(Y.java:1)\n"
          + "Caused by: http://admin:" + p + "@127.0.0.1:15672/api said 401 (see https://www.rabbitmq.com/docs)";
      String redacted = AmqpOptions.redact(message);
      assertNoPassword(redacted, p);
      assertThat(redacted)
          .contains("cannot connect to the broker at amqp://leakuser:***@127.0.0.1:" + closedPort + "/vh: Connection refused (write @ as %40)\n")
          .contains("\tat x.Y.z(Y.java:1)\n")
          .contains("http://admin:***@127.0.0.1:15672/api said 401 (see https://www.rabbitmq.com/docs)");
      assertThat(AmqpOptions.redact(redacted)).as("redacting again changes nothing").isEqualTo(redacted);
    }
  }

  @Test
  void aFailedConnectionSaysNothingOfThePasswordInItsMessageOrAnyCause() {
    for (String p : PASSWORDS) {
      Throwable failed = catchThrowable(() -> AmqpTransport.connect(AmqpOptions.of(uri(p))).close());
      assertThat(failed).as(p).isNotNull();
      assertNoPassword(printed(failed), p);
      assertThat(printed(failed)).as("the broker is named").contains("127.0.0.1:" + closedPort);
    }
  }

  @Test
  void waitingForTheBrokerSaysNothingOfThePassword() throws InterruptedException {
    for (String p : List.of("Jn5%40Ht6", "Ws1%2FEd2%3ARf3")) {
      List<String> told = new ArrayList<>();
      Throwable failed = catchThrowable(
          () -> AmqpTransport.connectWhenReachable(AmqpOptions.of(uri(p)), Duration.ofMillis(1500), told::add).close());
      assertThat(failed).isNotNull();
      assertThat(told).isNotEmpty();
      assertNoPassword(printed(failed) + String.join("\n", told), p);
    }
  }

  @Test
  void settingsAndOptionsPrintNoPassword() {
    for (String p : List.of("Jn5%40Ht6", "Ws1%2FEd2%3ARf3")) {
      assertNoPassword(AmqpOptions.of(uri(p)).toString(), p);
      assertThat(AmqpOptions.of(uri(p)).toString()).contains("amqp://leakuser:***@127.0.0.1");
    }
    for (String p : PASSWORDS) {
      assertNoPassword(Settings.fromEnvironment(Map.of("SKIFF_AMQP_URI", uri(p))).toString(), p);
    }
  }

  @Test
  void aConfigurationErrorDoesNotQuoteAPasswordInTheValue() {
    for (String p : PASSWORDS) {
      assertThatThrownBy(() -> Config.of(Map.of("broker.uri", uri(p))).getInt("broker.uri", 1))
          .satisfies(e -> assertNoPassword(printed(e), p))
          .hasMessageContaining("broker.uri");
      assertThatThrownBy(() -> Config.of(Map.of("cassandra.hosts", "leakuser:" + p + "@127.0.0.1:9042")).getAddresses("cassandra.hosts", 9042, List.of()))
          .satisfies(e -> assertNoPassword(printed(e), p))
          .hasMessageContaining("cassandra.hosts");
    }
  }

  /**
   * A service process (a service author's main calling {@link dev.skiff.platform.server.SkiffService#run()})
   * whose broker URI has a password with these characters: one that parses and cannot connect, one that
   * does not parse at all. Neither its one-line message nor any log line or stack trace shows the password.
   */
  @Test
  void aServiceThatCannotStartPrintsNoPassword() throws Exception {
    for (String p : List.of("Jn5%40Ht6%3ABv8", "Qa2@Sx3/Ed4%40Rf5:Tg6#Yh7")) {
      try (WaitingServiceProcess service = WaitingServiceProcess.start(Map.of("SKIFF_AMQP_URI", uri(p), "SKIFF_BROKER_WAIT", "1s"))) {
        OptionalInt exit = service.awaitExit(Duration.ofSeconds(60));
        assertThat(exit).as("exited").isPresent();
        String output = service.output();
        // one that parses waits for the broker and gives up (75); one that does not is configured wrong (78)
        assertThat(exit.getAsInt()).as(output).isEqualTo(p.contains("@") ? ExitCodes.CONFIGURATION : ExitCodes.DEPENDENCY_UNAVAILABLE);
        assertThat(output).doesNotContain("\tat ");
        assertThat(output).as("the broker is named").contains("127.0.0.1:" + closedPort);
        assertNoPassword(output, p);
      }
    }
  }
}
