package dev.skiff.gateway.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.gateway.GatewayFixture;
import dev.skiff.gateway.GatewayOptions;
import dev.skiff.testing.RabbitMqExtension;
import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Percent-encoded path segments, as gRPC transcoding reads them: a variable's segment is decoded once, so
 * it may carry {@code %}, {@code /} and {@code \} (an encoded {@code /} is part of the value, never a
 * separator); a literal segment matches encoded too; what stays refused (invalid UTF-8, an encoded dot
 * segment) is 400 in the one error format saying why. Sent on raw sockets, so that the bytes are exactly these.
 */
class GatewayPathEncodingTest {
  @RegisterExtension static final RabbitMqExtension broker = RabbitMqExtension.create();
  static GatewayFixture f;

  @BeforeAll
  static void start() {
    f = new GatewayFixture(broker.amqpUri(), GatewayOptions.defaults(), null).startService();
  }

  @AfterAll
  static void stop() {
    if (f != null) {
      f.close();
    }
  }

  /** @return the whole answer to a GET of the target, sent as is */
  private static String get(String target) throws IOException {
    try (Socket s = new Socket("127.0.0.1", f.gateway.port())) {
      s.setSoTimeout(5000);
      s.getOutputStream().write(("GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      return new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  @Test
  void aVariableSegmentMayCarryAnEncodedPercentSlashOrBackslash() throws Exception {
    assertThat(get("/v1/things/100%25")).startsWith("HTTP/1.1 200").contains("\"got\":{\"id\":\"100%\"");
    assertThat(get("/v1/things/a%2Fb")).startsWith("HTTP/1.1 200").contains("\"got\":{\"id\":\"a/b\"");
    assertThat(get("/v1/things/a%2fb/tags")).as("an encoded / is never a separator").startsWith("HTTP/1.1 200");
    assertThat(get("/v1/things/a%5Cb")).startsWith("HTTP/1.1 200").contains("\"got\":{\"id\":\"a\\\\b\"");
    assertThat(get("/v1/things/a%252Fb")).as("decoded once").startsWith("HTTP/1.1 200").contains("\"got\":{\"id\":\"a%2Fb\"");
  }

  @Test
  void anEncodedLiteralSegmentMatchesItsLiteral() throws Exception {
    assertThat(get("/v1/thing%73/lit")).startsWith("HTTP/1.1 200").contains("\"got\":{\"id\":\"lit\"");
  }

  @Test
  void whatStaysRefusedIs400SayingWhy() throws Exception {
    String badUtf8 = get("/v1/things/a%FF");
    assertThat(badUtf8).startsWith("HTTP/1.1 400").contains("\"code\":\"BAD_REQUEST\"").containsIgnoringCase("UTF-8");
    String dots = get("/v1/things/%2e%2e");
    assertThat(dots).startsWith("HTTP/1.1 400").contains("\"code\":\"BAD_REQUEST\"").containsIgnoringCase("ambiguous");
    assertThat(get("/v1/things/a\\b")).as("a raw backslash").startsWith("HTTP/1.1 400").contains("\"code\":\"BAD_REQUEST\"", "Illegal");
  }
}
