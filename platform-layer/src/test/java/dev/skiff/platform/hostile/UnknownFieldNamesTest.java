package dev.skiff.platform.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.internal.JsonStrings;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.testproto.EchoRequest;
import dev.skiff.platform.testproto.EchoResponse;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Hostile field names in a JSON request, sent to a real service over the real broker: the refusal names
 * the field as unknown, escaped (no control, format or bidi character reaches a terminal or a log raw),
 * quoted unambiguously, and bounded however long the name; the handler never runs.
 */
class UnknownFieldNamesTest {
  private static final String SERVICE = "test.unknown-fields." + Long.toHexString(System.nanoTime() & 0xfffffff);
  private static final AtomicInteger RUNS = new AtomicInteger();
  private static AmqpTransport transport;
  private static Server server;
  private static Client client;

  @BeforeAll
  static void start() {
    transport = AmqpTransport.connect(PoisonMessageTest.brokerUri());
    server = Server.builder(SERVICE).transport(transport).announce(false).outlierEjection(null)
        .endpoint(Endpoint.of("echo", EchoRequest.class, EchoResponse.class, (req, ctx) -> {
          RUNS.incrementAndGet();
          return EchoResponse.newBuilder().setText(req.getText()).build();
        }))
        .build().start();
    client = Client.builder().transport(transport).circuitBreaker(null).build();
  }

  @AfterAll
  static void stop() {
    client.close();
    server.close();
    transport.close();
  }

  private static SkiffException refused(String field) {
    String json = "{" + JsonStrings.quote(field) + ": 1}";
    try {
      Client.await(client.callJson(SERVICE, "echo", json, CallOptions.defaults()));
    } catch (SkiffException e) {
      return e;
    }
    throw new AssertionError("accepted a field named " + JsonStrings.quote(field));
  }

  @Test
  void hostileFieldNamesAreNamedEscapedAndBounded() {
    List<String> names = List.of(
        "x".repeat(1_000_000),                       // a megabyte of name
        "\u001b[2J\u001b[31mred\u0007",                // clear the screen, colour, bell
        "a\nINFO forged log line\r\n",                 // forge a log line
        "\u202egnp.exe\u2066",                         // bidi override and isolate
        "zero\u200bwidth\ufeff",                       // zero-width characters
        "say \"hi\" \\ there",                         // quotes and backslashes
        "\ud83d\ude00".repeat(100),                    // emoji, cut between pairs never
        "\u0000nul");
    for (String name : names) {
      SkiffException e = refused(name);
      String d = e.description();
      assertThat(e.code()).isEqualTo(ErrorCode.BAD_REQUEST);
      assertThat(d).as("for %s", JsonStrings.quote(name.substring(0, Math.min(20, name.length()))))
          .startsWith("unknown field \"").contains("\" in skiff.test.EchoRequest; valid fields: text, sleep_ms, fail, blob, hold")
          .hasSizeLessThan(400);
      assertThat(d.codePoints().filter(c -> Character.isISOControl(c) || Character.getType(c) == Character.FORMAT
              || c == 0x2028 || c == 0x2029))
          .as("no raw control or format character in %s", JsonStrings.quote(d)).isEmpty();
      String shown = d.substring("unknown field \"".length(), d.indexOf("\" in skiff.test.EchoRequest"));
      assertThat(shown).as("the name is quoted unambiguously").doesNotContainPattern("(?<!\\\\)\"");
    }
    assertThat(refused("\ud83d\ude00".repeat(100)).description()).doesNotContain("\\ud83d").contains("\ud83d\ude00");
    assertThat(refused("x".repeat(1_000_000)).description()).contains("…");
    assertThat(RUNS).hasValue(0);
    // and the service goes on answering
    assertThat(client.call(SERVICE, "echo", EchoRequest.newBuilder().setText("fine").build(), EchoResponse.class).getText())
        .isEqualTo("fine");
  }
}
