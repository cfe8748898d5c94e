package dev.skiff.examples.demo;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The main job runs end to end on its embedded broker and shows what it promises. */
class DemoTest {
  @Test
  void runsOnTheEmbeddedBroker() throws Exception {
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    int code = new Demo(new PrintStream(buf, true, StandardCharsets.UTF_8)).run(Map.of());
    String out = buf.toString(StandardCharsets.UTF_8);
    assertThat(code).isZero();
    assertThat(out)
        .contains("embedded AMQP 0-9-1 broker")
        .contains("\"Hello, Ada!\"")
        .contains("answered by version 1.0.0")
        .contains("answered by version 1.1.0")
        .contains("\"greeting\": \"Hello, JSON!\"")
        .contains("problems [fare: TIMEOUT")
        .contains("hello with no name                 -> BAD_REQUEST: name is required")
        .contains("an endpoint that does not exist    -> NOT_FOUND")
        .contains("a service that is not running      -> NOT_FOUND")
        .contains("malformed JSON                     -> BAD_REQUEST")
        .contains("done");
  }
}
