package dev.skiff.platform.transport.amqp;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Every broker name in one place: what docs/wire-protocol.md and docs/routing.md promise, letter for letter. */
class AmqpNamesTest {
  @Test
  void queuesExchangesAndKeysAreNamedAsTheWireProtocolSays() {
    assertThat(AmqpNames.RPC_EXCHANGE).isEqualTo("skiff.rpc");
    assertThat(AmqpNames.EVENTS_EXCHANGE).isEqualTo("skiff.events");
    assertThat(AmqpNames.serviceQueue("com.example.svc")).isEqualTo("skiff.svc.com.example.svc");
    assertThat(AmqpNames.versionQueue("com.example.svc", "1.2.0")).isEqualTo("skiff.ver.com.example.svc.1.2.0");
    assertThat(AmqpNames.instanceQueue("com.example.svc", "i1")).isEqualTo("skiff.inst.com.example.svc.i1");
    assertThat(AmqpNames.eventGroupQueue("workers")).isEqualTo("skiff.events.workers");
    assertThat(AmqpNames.routeExchange("com.example.svc")).isEqualTo("skiff.route.com.example.svc");
    assertThat(AmqpNames.shareExchange("com.example.svc", "1.2.0", 90)).isEqualTo("skiff.route.com.example.svc#1.2.0=90");
    assertThat(AmqpNames.serviceKey("s")).isEqualTo("s");
    assertThat(AmqpNames.versionKey("s", "1.0.0")).isEqualTo("s#1.0.0");
    assertThat(AmqpNames.instanceKey("s", "i1")).isEqualTo("s@i1");
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
}
