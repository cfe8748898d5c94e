package dev.skiff.platform.transport.amqp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** Every broker name in one place: what docs/wire-protocol.md and docs/routing.md promise, letter for letter. */
class AmqpNamesTest {
  @Test
  void queuesExchangesAndKeysAreNamedAsTheWireProtocolSays() {
    assertThat(AmqpNames.RPC_EXCHANGE).isEqualTo("skiff.rpc");
    assertThat(AmqpNames.EVENTS_EXCHANGE).isEqualTo("skiff.events");
    assertThat(AmqpNames.serviceQueue("com.example.svc")).isEqualTo("skiff.svc.com.example.svc");
    assertThat(AmqpNames.versionQueue("com.example.svc", "1.2.0")).isEqualTo("skiff.ver.com.example.svc#1.2.0");
    assertThat(AmqpNames.instanceQueue("com.example.svc", "i1")).isEqualTo("skiff.inst.com.example.svc@i1");
    assertThat(AmqpNames.eventGroupQueue("workers")).isEqualTo("skiff.events.workers");
    assertThat(AmqpNames.routeExchange("com.example.svc")).isEqualTo("skiff.route.com.example.svc");
    assertThat(AmqpNames.shareExchange("com.example.svc", "1.2.0", 90)).isEqualTo("skiff.route.com.example.svc#1.2.0=90");
    assertThat(AmqpNames.serviceKey("s")).isEqualTo("s");
    assertThat(AmqpNames.versionKey("s", "1.0.0")).isEqualTo("s#1.0.0");
    assertThat(AmqpNames.instanceKey("s", "i1")).isEqualTo("s@i1");
  }

  @Test
  void twoServicesNeverShareAVersionOrInstanceQueue() {
    // with a dot between them, demo.pay at v2.1.0 and demo.pay.v2 at 1.0 shared skiff.ver.demo.pay.v2.1.0
    assertThat(AmqpNames.versionQueue("demo.pay", "v2.1.0")).isNotEqualTo(AmqpNames.versionQueue("demo.pay.v2", "1.0"));
    assertThat(AmqpNames.instanceQueue("demo.pay", "v2.i1")).isNotEqualTo(AmqpNames.instanceQueue("demo.pay.v2", "i1"));
  }

  @Test
  void theLongestValidNamesMakeNamesTheBrokerTakes() {
    String service = "a".repeat(dev.skiff.platform.Names.MAX_SERVICE);
    String version = "1".repeat(dev.skiff.platform.Names.MAX_VERSION);
    String instance = "i".repeat(dev.skiff.platform.Names.MAX_INSTANCE);
    assertThat(dev.skiff.platform.Names.isService(service)).isTrue();
    for (String name : new String[] {AmqpNames.serviceQueue(service), AmqpNames.versionQueue(service, version),
        AmqpNames.instanceQueue(service, instance), AmqpNames.deadLetterQueue(service), AmqpNames.refusalQueue(service),
        AmqpNames.routeExchange(service), AmqpNames.shareExchange(service, version, 100), AmqpNames.eventGroupQueue(service)}) {
      assertThat(name.length()).as(name).isLessThanOrEqualTo(AmqpNames.MAX_QUEUE_NAME_BYTES);
    }
  }

  @Test
  void onlyAServiceQueuesOwnBindingToTheRpcExchangeIsLeftOutOfARecovery() {
    assertThat(AmqpNames.isServiceQueueBinding("skiff.rpc", "skiff.svc.a.b", "a.b")).isTrue();
    assertThat(AmqpNames.isServiceQueueBinding("skiff.rpc", "skiff.svc.a.b", "a.c")).isFalse();
    assertThat(AmqpNames.isServiceQueueBinding("skiff.rpc", "skiff.ver.a.b#1.0.0", "a.b#1.0.0")).isFalse();
    assertThat(AmqpNames.isServiceQueueBinding("skiff.rpc", "skiff.inst.a.b@i1", "a.b@i1")).isFalse();
    assertThat(AmqpNames.isServiceQueueBinding("skiff.events", "skiff.svc.a.b", "a.b")).isFalse();
    assertThat(AmqpNames.isServiceQueueBinding("skiff.rpc", "skiff.route.a.b", "a.b")).isFalse();
  }

  @Test
  void aRequestIsKeyedByItsInstanceElseItsVersionElseItsServiceAndTheKeyReadsBack() {
    assertThat(AmqpNames.requestKey("s", "i1", "1.0.0")).isEqualTo("s@i1");
    assertThat(AmqpNames.requestKey("s", null, "1.0.0")).isEqualTo("s#1.0.0");
    assertThat(AmqpNames.requestKey("s", null, null)).isEqualTo("s");
    assertThat(AmqpNames.describeKey("a.b@i1")).isEqualTo("instance i1 of service a.b");
    assertThat(AmqpNames.describeKey("a.b#1.0.0")).isEqualTo("version 1.0.0 of service a.b");
    assertThat(AmqpNames.describeKey("a.b")).isEqualTo("service a.b");
    assertThat(AmqpNames.serviceOfKey("a.b@i1")).isEqualTo("a.b");
    assertThat(AmqpNames.serviceOfKey("a.b#1.0.0")).isEqualTo("a.b");
    assertThat(AmqpNames.serviceOfKey("a.b")).isEqualTo("a.b");
  }

  @Test
  void aReplyQueueIsNamedForItsUserAndARequestMayNameOnlyItsSendersOwnOrDirectReplyTo() {
    assertThat(AmqpNames.replyQueue("com.example.svc", "0af3")).isEqualTo("skiff.reply.com.example.svc.0af3");
    assertThat(AmqpNames.isReplyAddressOf("skiff.reply.alice.0af3", "alice")).isTrue();
    assertThat(AmqpNames.isReplyAddressOf("skiff.reply.a.b.0af3", "a.b")).isTrue();
    // user "a" cannot name a reply queue of user "a.b", nor the reverse
    assertThat(AmqpNames.isReplyAddressOf("skiff.reply.a.b.0af3", "a")).isFalse();
    assertThat(AmqpNames.isReplyAddressOf("skiff.reply.a.0af3", "a.b")).isFalse();
    assertThat(AmqpNames.isReplyAddressOf("skiff.reply.bob.0af3", "alice")).isFalse();
    assertThat(AmqpNames.isReplyAddressOf("skiff.reply.alicex.0af3", "alice")).isFalse();
    assertThat(AmqpNames.isReplyAddressOf("skiff.reply.alice.", "alice")).isFalse();
    assertThat(AmqpNames.isReplyAddressOf("skiff.reply.alice", "alice")).isFalse();
    assertThat(AmqpNames.isReplyAddressOf("skiff.reply.alice.0af3", null)).as("no proven sender").isFalse();
    // server-named queues name no owner; durable queues are nobody's reply queue
    assertThat(AmqpNames.isReplyAddressOf("amq.gen-XyZ", "alice")).isFalse();
    assertThat(AmqpNames.isReplyAddressOf("skiff.routes", "alice")).isFalse();
    assertThat(AmqpNames.isReplyAddressOf(AmqpNames.serviceQueue("alice"), "alice")).isFalse();
    // direct reply-to: the broker delivers to the channel that sent the request, whoever it is
    assertThat(AmqpNames.isReplyAddressOf("amq.rabbitmq.reply-to.g1h2AA5yZXBseUAxMDg3NjUwNw==", null)).isTrue();
    assertThat(AmqpNames.isReplyAddressOf("amq.rabbitmq.reply-to", "alice")).isFalse();
    assertThat(AmqpNames.isReplyAddressOf("amq.rabbitmq.reply-tox", "alice")).isFalse();
  }

  @Test
  void aRecoveredReplyQueueKeepsItsUserUnderANewName() {
    String q = AmqpNames.replyQueue("a.b", "0af3");
    assertThat(AmqpNames.isReplyQueueName(q)).isTrue();
    assertThat(AmqpNames.isReplyQueueName(AmqpNames.serviceQueue("a"))).isFalse();
    assertThat(AmqpNames.isReplyQueueName("skiff.reply.")).isFalse();
    String renamed = AmqpNames.renamedReplyQueue(q, "77ee");
    assertThat(renamed).isEqualTo("skiff.reply.a.b.77ee");
    assertThat(AmqpNames.isReplyAddressOf(renamed, "a.b")).isTrue();
  }

  @Test
  void aReplyQueuesOwnNameHasNoDotAndTheWholeNameFitsTheBrokersLimit() {
    assertThatThrownBy(() -> AmqpNames.replyQueue("alice", "a.b")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> AmqpNames.replyQueue("alice", "")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> AmqpNames.replyQueue("u".repeat(250), "0af3"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("too long");
  }
}
