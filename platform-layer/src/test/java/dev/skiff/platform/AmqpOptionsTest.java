package dev.skiff.platform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.skiff.platform.config.QueueType;
import dev.skiff.platform.config.Settings;
import dev.skiff.platform.transport.amqp.AmqpOptions;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Broken broker URIs fail at once with a message that names the problem and never the password; a
 * cluster's nodes are listed with commas and choose the queue type (docs/operations.md).
 */
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

  @Test
  void aClusterIsItsNodesUrisSeparatedByCommasAndGetsQuorumQueuesUnlessToldOtherwise() {
    AmqpOptions cluster = AmqpOptions.of("amqp://u:p@h1:5691/v, amqp://u:p@h2:5692/v,amqp://u:p@h3/v");
    assertThat(cluster.nodeUris()).containsExactly("amqp://u:p@h1:5691/v", "amqp://u:p@h2:5692/v", "amqp://u:p@h3/v");
    assertThat(cluster.queueType()).isEqualTo(QueueType.QUORUM);
    assertThat(cluster.withQueueType(QueueType.CLASSIC).queueType()).isEqualTo(QueueType.CLASSIC);
    assertThat(AmqpOptions.of("amqp://u:p@h1:5691/v").queueType()).isEqualTo(QueueType.CLASSIC);
    assertThat(cluster.toString()).contains("h1:5691", "h2:5692", "h3").doesNotContain(":p@");
  }

  @Test
  void aPasswordWithACommaIsNotSplitAndStaysHidden() {
    AmqpOptions one = AmqpOptions.of("amqp://u:se,cret@h1:5691/v");
    assertThat(one.nodeUris()).containsExactly("amqp://u:se,cret@h1:5691/v");
    assertThat(one.queueType()).isEqualTo(QueueType.CLASSIC);
    AmqpOptions two = AmqpOptions.of("amqp://u:se,cret@h1:5691/v,amqp://u:se,cret@h2:5691/v");
    assertThat(two.nodeUris()).hasSize(2);
    assertThat(two.toString()).doesNotContain("se,cret").doesNotContain("cret");
  }

  @Test
  void theNodesOfAClusterMayDifferOnlyInHostAndPort() {
    for (String bad : new String[] {
        "amqp://u:p@h1/v,amqp://u:other@h2/v", "amqp://u:p@h1/v,amqp://u:p@h2/w", "amqp://u:p@h1/v,amqps://u:p@h2/v",
        "amqp://u:p@h1/v,amqp://u:p@h1/v"}) {
      assertThatThrownBy(() -> AmqpOptions.of(bad)).as(bad).isInstanceOf(IllegalArgumentException.class)
          .hasMessageNotContaining(":p@").hasMessageNotContaining(":other@");
    }
    assertThatThrownBy(() -> AmqpOptions.of("amqp://u:p@h1/v,amqp://u:p@h2:notaport/v"))
        .hasMessageContaining("h2:notaport").hasMessageNotContaining(":p@");
    assertThatThrownBy(() -> AmqpOptions.of("amqp://u:p@h1/v," + "amqp://u:p@h/v,".repeat(64)))
        .hasMessageContaining("at most 64");
  }

  @Test
  void theQueueTypeSettingIsClassicOrQuorum() {
    assertThat(Settings.fromEnvironment(Map.of()).queueType()).isEmpty();
    assertThat(Settings.fromEnvironment(Map.of("SKIFF_QUEUE_TYPE", "Quorum")).queueType()).contains(QueueType.QUORUM);
    assertThat(Settings.fromEnvironment(Map.of("SKIFF_QUEUE_TYPE", "classic")).queueType()).contains(QueueType.CLASSIC);
    assertThatThrownBy(() -> Settings.fromEnvironment(Map.of("SKIFF_QUEUE_TYPE", "stream")))
        .hasMessageContaining("SKIFF_QUEUE_TYPE").hasMessageContaining("'classic' or 'quorum'");
  }
}
