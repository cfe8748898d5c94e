package dev.skiff.platform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.skiff.platform.transport.amqp.AmqpOptions;
import org.junit.jupiter.api.Test;

/** Broken broker URIs fail at once with a message that names the problem and never the password. */
class AmqpOptionsTest {
  @Test
  void aPortThatIsNotANumberIsRefusedNotIgnored() {
    assertThatThrownBy(() -> AmqpOptions.of("amqp://guest:pass@127.0.0.1:notaport"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("127.0.0.1:notaport")
        .hasMessageNotContaining("pass@");
  }

  @Test
  void anUnparsableUriDoesNotLeakItsPassword() {
    assertThatThrownBy(() -> AmqpOptions.of("amqp://guest:my secret@localhost:5672"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageNotContaining("my secret");
  }

  @Test
  void onlyAmqpSchemes() {
    assertThatThrownBy(() -> AmqpOptions.of("http://localhost:5672")).hasMessageContaining("amqp://");
    assertThat(AmqpOptions.of("amqps://u:p@broker.example:5671/vhost").uri()).startsWith("amqps://");
  }

  @Test
  void redactHidesThePassword() {
    assertThat(AmqpOptions.redact("amqp://guest:s3cret@h:1/v")).isEqualTo("amqp://guest:***@h:1/v");
  }
}
