package dev.skiff.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.skiff.platform.transport.amqp.AmqpOptions;
import java.net.URI;
import java.time.Duration;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@code skiff call} against a real service on the real broker. */
class CallCommandTest {
  static final String UNREACHABLE = "amqp://guest:sekrit@127.0.0.1:1";

  @AutoClose static EchoService svc;

  @BeforeAll
  static void startService() {
    svc = EchoService.twoVersions("1.0.0", "1.1.0");
  }

  static JsonObject json(String text) {
    return JsonParser.parseString(text).getAsJsonObject();
  }

  @Test
  void callPrintsTheResponseJsonOnStdoutAndExitsZero() {
    Skiff.Result r = Skiff.run("call", svc.name, "echo", "{\"text\": \"hello\"}");
    assertThat(r.exitCode()).as(r.toString()).isZero();
    assertThat(json(r.out()).get("text").getAsString()).isEqualTo("hello");
    assertThat(json(r.out()).get("instance").getAsString()).isIn(svc.instanceA(), svc.instanceB());
    assertThat(r.err()).as("nothing on stderr without --verbose").isEmpty();
  }

  @Test
  void jsonDefaultsToAnEmptyObject() {
    Skiff.Result r = Skiff.run("call", svc.name, "echo");
    assertThat(r.exitCode()).as(r.toString()).isZero();
    assertThat(json(r.out()).get("text").getAsString()).isEmpty();
  }

  @Test
  void verbosePrintsWhoAnsweredOnStderr() {
    Skiff.Result r = Skiff.run("call", svc.name, "echo", "{\"text\": \"hi\"}", "--verbose");
    assertThat(r.exitCode()).as(r.toString()).isZero();
    String answeredBy = json(r.out()).get("instance").getAsString();
    String version = answeredBy.equals(svc.instanceA()) ? "1.0.0" : "1.1.0";
    assertThat(r.err())
        .contains("broker " + AmqpOptions.redact(EchoService.brokerUri()) + " (from SKIFF_AMQP_URI)")
        .containsPattern(
            "answered by " + svc.name.replace(".", "\\.") + " " + version.replace(".", "\\.") + " instance "
                + answeredBy + " in \\d+\\.\\d ms \\(request [0-9a-f]{32}\\)");
    assertThat(r.out()).doesNotContain("answered by");
  }

  /** Fails at once, not at its 60 s timeout: NOT_FOUND comes from the broker refusing the request; waiting would end TIMEOUT. */
  @Test
  void unknownServiceIsNotFoundAndFailsFast() {
    String missing = "test.cli.missing." + EchoService.randomHex(4);
    Skiff.Result r = Skiff.run("call", missing, "echo", "{}", "--timeout", "60s");
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(SkiffCli.EXIT_CALL_FAILED);
    assertThat(r.err()).startsWith("NOT_FOUND: service " + missing + " is not running");
    assertThat(r.out()).isEmpty();
  }

  @Test
  void unknownEndpointIsNotFound() {
    Skiff.Result r = Skiff.run("call", svc.name, "nope", "{}");
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(SkiffCli.EXIT_CALL_FAILED);
    assertThat(r.err()).startsWith("NOT_FOUND: service " + svc.name + " has no endpoint 'nope'");
  }

  @Test
  void malformedJsonIsBadRequest() {
    Skiff.Result r = Skiff.run("call", svc.name, "echo", "{\"text\": ");
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(SkiffCli.EXIT_CALL_FAILED);
    assertThat(r.err()).startsWith("BAD_REQUEST: malformed JSON body for skiff.test.EchoRequest");
    assertThat(r.out()).isEmpty();
  }

  @Test
  void unknownJsonFieldIsBadRequest() {
    Skiff.Result r = Skiff.run("call", svc.name, "echo", "{\"nosuchfield\": 1}");
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(SkiffCli.EXIT_CALL_FAILED);
    assertThat(r.err())
        .startsWith("BAD_REQUEST: unknown field \"nosuchfield\" in skiff.test.EchoRequest; valid fields: text, sleep_ms, fail, blob, hold");
    // a name that would drive the terminal reaches it escaped, and cut
    Skiff.Result hostile = Skiff.run("call", svc.name, "echo", "{\"\\u001b[2J\\u202e" + "x".repeat(10_000) + "\": 1}");
    assertThat(hostile.exitCode()).as(hostile.toString()).isEqualTo(SkiffCli.EXIT_CALL_FAILED);
    assertThat(hostile.err()).startsWith("BAD_REQUEST: unknown field \"\\u001b[2J\\u202ex").contains("…\" in skiff.test.EchoRequest")
        .doesNotContain("\u001b").doesNotContain("\u202e").hasSizeLessThan(1000);
  }

  /**
   * The handler is held until the test releases it, after the command returned: the TIMEOUT cannot have
   * waited for it, and its "within N ms" (the deadline less the send time) shows the deadline was the
   * given 300 ms, not the default 5 s. It cannot come before the deadline either.
   */
  @Test
  void slowEndpointTimesOutAtTheGivenTimeout() {
    String hold = "slow" + EchoService.randomHex(4);
    try {
      Skiff.Result r = Skiff.run("call", svc.name, "echo", "{\"hold\": \"" + hold + "\"}", "--timeout", "300ms", "-v");
      assertThat(r.exitCode()).as(r.toString()).isEqualTo(SkiffCli.EXIT_CALL_FAILED);
      Matcher m = Pattern.compile("(?m)^TIMEOUT: no reply from " + Pattern.quote(svc.name) + "/echo within (\\d+) ms$").matcher(r.err());
      assertThat(m.find()).as(r.toString()).isTrue();
      assertThat(Integer.parseInt(m.group(1))).as("the deadline is the given timeout's").isLessThanOrEqualTo(300);
      assertThat(r.err()).containsPattern("failed after \\d+\\.\\d ms \\(request [0-9a-f]{32}\\)");
      assertThat(r.elapsed()).as("not before the timeout").isGreaterThanOrEqualTo(Duration.ofMillis(300));
    } finally {
      svc.release(hold);
    }
  }

  @Test
  void theServicesErrorCodeAndDescriptionArePrinted() {
    Skiff.Result r = Skiff.run("call", svc.name, "echo", "{\"fail\": \"CONFLICT\"}", "-v");
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(SkiffCli.EXIT_CALL_FAILED);
    assertThat(r.err())
        .containsPattern("(?m)^CONFLICT: asked to fail with CONFLICT$")
        .containsPattern("raised by " + svc.name.replace(".", "\\.") + "/echo instance (" + svc.instanceA() + "|" + svc.instanceB() + ")");
  }

  @Test
  void instanceAddressesOneInstance() {
    for (int i = 0; i < 6; i++) {
      Skiff.Result r = Skiff.run("call", svc.name, "echo", "{}", "--instance", svc.instanceB(), "-v");
      assertThat(r.exitCode()).as(r.toString()).isZero();
      assertThat(json(r.out()).get("instance").getAsString()).isEqualTo(svc.instanceB());
      assertThat(r.err()).contains("answered by " + svc.name + " 1.1.0 instance " + svc.instanceB());
    }
  }

  @Test
  void unknownInstanceIsNotFound() {
    Skiff.Result r = Skiff.run("call", svc.name, "echo", "{}", "--instance", "gone1234");
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(SkiffCli.EXIT_CALL_FAILED);
    assertThat(r.err()).startsWith("NOT_FOUND: instance gone1234 of service " + svc.name + " is not running");
  }

  @Test
  void amqpOptionBeatsTheEnvironment() {
    Skiff.Result r =
        Skiff.run(EchoService.env(), "call", svc.name, "echo", "{}", "--amqp", UNREACHABLE, "--verbose");
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(SkiffCli.EXIT_BROKER_UNREACHABLE);
    assertThat(r.err())
        .contains("broker amqp://guest:***@127.0.0.1:1 (from --amqp)")
        .contains("UNAVAILABLE: cannot connect to the broker at amqp://guest:***@127.0.0.1:1")
        .doesNotContain("sekrit")
        .doesNotContain("\tat ");
    assertThat(r.out()).isEmpty();

    Skiff.Result ok =
        Skiff.run(Map.of("SKIFF_AMQP_URI", UNREACHABLE), "call", svc.name, "echo", "{}", "--amqp", EchoService.brokerUri());
    assertThat(ok.exitCode()).as(ok.toString()).isZero();
  }

  @Test
  void environmentBeatsTheDefault() {
    Skiff.Result r = Skiff.run(Map.of("SKIFF_AMQP_URI", UNREACHABLE), "call", svc.name, "echo", "{}");
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(SkiffCli.EXIT_BROKER_UNREACHABLE);
    assertThat(r.err())
        .startsWith("UNAVAILABLE: cannot connect to the broker at amqp://guest:***@127.0.0.1:1")
        .doesNotContain("sekrit");
    assertThat(r.err().lines()).as("one line, no stack trace").hasSize(1);
  }

  @Test
  void withNeitherTheDefaultBrokerIsUsed() {
    // The tests' broker is a virtual host of this run's own (scripts/test.sh): the service this test
    // reaches runs on the default broker's default virtual host, where only the default URI leads.
    try (EchoService onDefault = new EchoService(AmqpOptions.DEFAULT_URI)) {
      String instance = "d" + EchoService.randomHex(4);
      onDefault.start("1.0.0", instance);
      Skiff.Result r = Skiff.run(Map.of("SKIFF_AMQP_URI", " "), "call", onDefault.name, "echo", "{}", "-v");
      assertThat(r.exitCode()).as(r.toString()).isZero();
      assertThat(r.err()).contains("broker amqp://guest:***@localhost:5672 (from default)");
      assertThat(json(r.out()).get("instance").getAsString()).as("answered on the default broker").isEqualTo(instance);
    }
  }

  @Test
  void usageErrorsExitTwo() {
    assertUsage(Skiff.run(), "Missing command");
    assertUsage(Skiff.run("call"), "Missing required parameters: 'SERVICE', 'ENDPOINT'");
    assertUsage(Skiff.run("call", svc.name, "echo", "{}", "--timeout", "soon"), "not a duration: 'soon'");
    assertUsage(Skiff.run("call", svc.name, "echo", "{}", "--timeout", "0s"), "must be a positive duration");
    // issue 17: a timeout the broker cannot hold a request for is refused before anything is sent
    assertUsage(Skiff.run("call", svc.name, "echo", "{}", "--timeout", "1000h"), "must be at most 720h (30 days), not '1000h'");
    assertUsage(Skiff.run("call", svc.name, "echo", "{}", "--timeout", "99999999999h"), "too long a duration: '99999999999h'");
    assertUsage(Skiff.run("call", svc.name, "echo", "{}", "--bogus"), "Unknown option: '--bogus'");
    // an unknown option where the parameters should be is named too, not only the parameters it left missing
    Skiff.Result bogusFirst = Skiff.run("call", "--bogus");
    assertUsage(bogusFirst, "Unknown option: '--bogus'");
    assertThat(bogusFirst.err()).contains("Missing required parameters: 'SERVICE', 'ENDPOINT'");
    assertUsage(Skiff.run("call", svc.name, "echo", "{}", "extra"), "Unmatched argument");
    assertUsage(Skiff.run("frobnicate"), "Unmatched argument");
    Skiff.Result badUri = Skiff.run("call", svc.name, "echo", "--amqp", "http://guest:sekrit@x");
    assertUsage(badUri, "broker URI must start with amqp:// or amqps://");
    assertThat(badUri.err()).doesNotContain("sekrit");
    Skiff.Result badPort = Skiff.run(Map.of("SKIFF_AMQP_URI", "amqp://guest:sekrit@127.0.0.1:notaport"), "call", svc.name, "echo");
    assertUsage(badPort, "invalid broker URI (from SKIFF_AMQP_URI): not a valid broker URI (Illegal character in port number");
    assertThat(badPort.err()).doesNotContain("sekrit");
  }

  @Test
  void whyTheBrokerRefusedIsShown() {
    Skiff.Result r =
        Skiff.run("call", svc.name, "echo", "--amqp", EchoService.brokerUriWithVhost("skiff-no-such-vhost"));
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(SkiffCli.EXIT_BROKER_UNREACHABLE);
    assertThat(r.err()).startsWith("FORBIDDEN: cannot connect to the broker at ")
        .contains(": NOT_ALLOWED - vhost skiff-no-such-vhost not found\n")
        .doesNotContain("protocol method").doesNotContain("IOException")
        .as("not the hint of a person's roles").doesNotContain("whoami");
    assertThat(r.err().lines().skip(1).findFirst()).as(r.toString())
        .hasValueSatisfying(hint -> assertThat(hint).contains("virtual host", "--amqp"));
  }

  @Test
  void aBodyWithTextAfterItsValueOrAKeyTwiceIsRefusedNotReadInPart() {
    Skiff.Result trailing = Skiff.run("call", svc.name, "echo", "{\"text\": \"a\"} trailing");
    assertThat(trailing.exitCode()).as(trailing.toString()).isEqualTo(SkiffCli.EXIT_CALL_FAILED);
    assertThat(trailing.err()).startsWith("BAD_REQUEST: malformed JSON body for ").contains("unexpected text after the JSON value");
    Skiff.Result twice = Skiff.run("call", svc.name, "echo", "{\"text\": \"a\", \"text\": \"b\"}");
    assertThat(twice.exitCode()).as(twice.toString()).isEqualTo(SkiffCli.EXIT_CALL_FAILED);
    assertThat(twice.err()).contains("the key text is given twice");
    Skiff.Result number = Skiff.run("call", svc.name, "echo", "{\"text\": 5}");
    assertThat(number.err()).contains("$.text must be a string, not a number");
  }

  @Test
  void aBrokerThatRefusesTheUserOrPasswordSaysSoNotThatItIsDown() {
    URI u = URI.create(EchoService.brokerUri());
    String wrong = u.getScheme() + "://" + u.getUserInfo().split(":")[0] + ":not-its-pw-9@" + u.getHost()
        + (u.getPort() < 0 ? "" : ":" + u.getPort()) + u.getRawPath();
    Skiff.Result r = Skiff.run(Map.of("SKIFF_AMQP_URI", wrong), "call", svc.name, "echo");
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(SkiffCli.EXIT_BROKER_UNREACHABLE);
    assertThat(r.err()).startsWith("UNAUTHORIZED: cannot connect to the broker at ")
        .contains("the broker refused the user name or password").doesNotContain("not-its-pw-9")
        .as("a broker user, not a person's session").doesNotContain("skiff login");
    assertThat(r.err().lines().skip(1).findFirst()).as(r.toString())
        .hasValueSatisfying(hint -> assertThat(hint).contains("SKIFF_AMQP_URI"));
    assertThat(r.err().lines()).as("two lines, no stack trace").hasSize(2);
  }

  private static void assertUsage(Skiff.Result r, String message) {
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(SkiffCli.EXIT_USAGE);
    assertThat(r.err()).startsWith("skiff: ").contains(message).contains("--help' for more information.");
    assertThat(r.out()).isEmpty();
  }

  @Test
  void helpAndVersion() {
    Skiff.Result help = Skiff.run("--help");
    assertThat(help.exitCode()).isZero();
    assertThat(help.out()).contains("Usage: skiff").contains("call").contains("load").contains("Exit codes:");
    Skiff.Result callHelp = Skiff.run("call", "--help");
    assertThat(callHelp.exitCode()).isZero();
    assertThat(callHelp.out()).contains("--timeout=DURATION").contains("--instance=ID").contains("--amqp=URI");
    Skiff.Result version = Skiff.run("--version");
    assertThat(version.exitCode()).isZero();
    assertThat(version.out()).startsWith("skiff 0.");
  }
}
