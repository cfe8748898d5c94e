package dev.skiff.platform.transport.amqp;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.Channel;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The acks that are due together leave as one multiple ack exactly when it settles them and nothing
 * else: never over a delivery still running, nor over one nacked before it.
 */
class AcknowledgerTest {
  /** The acks written, as "tag" or "tag+" for a multiple ack. */
  private final List<String> written = new ArrayList<>();
  private final Acknowledger acks = new Acknowledger(recordingChannel());

  private Channel recordingChannel() {
    return (Channel) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {Channel.class}, (proxy, method, args) -> {
      if (method.getName().equals("basicAck")) {
        written.add(args[0] + ((Boolean) args[1] ? "+" : ""));
        return null;
      }
      throw new UnsupportedOperationException(method.getName());
    });
  }

  private void deliver(long... tags) {
    for (long t : tags) {
      acks.delivered(t);
    }
  }

  private void due(long... tags) {
    for (long t : tags) {
      acks.ackLater(t);
    }
  }

  @Test
  void theOldestDeliveriesDueTogetherLeaveAsOneMultipleAckOfTheNewest() throws Exception {
    deliver(1, 2, 3, 4, 5);
    due(3, 1, 2); // in any order
    acks.writeDue();
    assertThat(written).containsExactly("3+");
    assertThat(acks.acksWritten()).isEqualTo(1);
    assertThat(acks.deliveriesAcked()).isEqualTo(3);
    // deliveries still unsettled (4, 5) are not covered; theirs come later, again as one
    due(4, 5);
    acks.writeDue();
    assertThat(written).containsExactly("3+", "5+");
  }

  @Test
  void aDeliveryStillRunningIsNeverCoveredTheNewerOnesGoOneByOne() throws Exception {
    deliver(1, 2, 3, 4);
    due(2, 3); // 1 still runs
    acks.writeDue();
    assertThat(written).containsExactly("2", "3");
    due(4, 1); // now the oldest unsettled are 1 and 4 (2 and 3 are settled)
    acks.writeDue();
    assertThat(written).containsExactly("2", "3", "4+");
  }

  @Test
  void aDeliveryNackedBeforeIsNotCoveredAndDoesNotStopTheRun() throws Exception {
    deliver(1, 2, 3);
    acks.settled(2); // its nack was written
    due(1, 3);
    acks.writeDue();
    assertThat(written).containsExactly("3+");
  }

  @Test
  void aSingleDueAckIsAPlainAckAndNothingDueWritesNothing() throws Exception {
    acks.writeDue();
    assertThat(written).isEmpty();
    deliver(7, 8);
    due(7);
    acks.writeDue();
    assertThat(written).containsExactly("7");
    acks.writeDue();
    assertThat(written).containsExactly("7");
  }

  @Test
  void aDeliveryNotedAfterTheDueOnesDoesNotMatter() throws Exception {
    deliver(1, 2);
    due(1, 2);
    deliver(3); // arrived meanwhile, not yet handled
    acks.writeDue();
    assertThat(written).containsExactly("2+");
  }

  @Test
  void manyDueAtOnceGrowTheBuffer() throws Exception {
    for (long t = 1; t <= 100; t++) {
      deliver(t);
      due(t);
    }
    acks.writeDue();
    assertThat(written).containsExactly("100+");
  }
}
