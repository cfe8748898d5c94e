package dev.skiff.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.platform.transport.amqp.AmqpNames;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * A service's least-privilege permissions, matched as RabbitMQ matches them (the constructs used,
 * alternation, escapes and a negative look-ahead, mean the same in Java and PCRE). HostileInputTest
 * shows them at work on a real broker.
 */
class BrokerPermissionsTest {
  private final BrokerPermissions greeter = BrokerPermissions.forService("com.example.greeter");

  private static boolean matches(String regex, String name) {
    return Pattern.compile(regex).matcher(name).find();
  }

  @Test
  void aServiceConfiguresAndConsumesOnlyItsOwnQueuesAndServerNamedOnes() {
    for (String own : new String[] {AmqpNames.serviceQueue("com.example.greeter"), AmqpNames.versionQueue("com.example.greeter", "1.2.0"),
        AmqpNames.instanceQueue("com.example.greeter", "ab12"), AmqpNames.eventGroupQueue("com.example.greeter"),
        AmqpNames.deadLetterQueue("com.example.greeter"), AmqpNames.replyQueue("com.example.greeter", "0af3"), "amq.gen-XyZ"}) {
      assertThat(matches(greeter.configure(), own)).as(own).isTrue();
      assertThat(matches(greeter.read(), own)).as(own).isTrue();
    }
    for (String other : new String[] {AmqpNames.serviceQueue("com.example.bookings"), AmqpNames.serviceQueue("com.example.greeterx"),
        AmqpNames.versionQueue("com.example.bookings", "1"), AmqpNames.instanceQueue("com.example.bookings", "ab12"),
        "skiff.routes", AmqpNames.RPC_EXCHANGE, AmqpNames.EVENTS_EXCHANGE, AmqpNames.routeExchange("com.example.greeter"),
        AmqpNames.deadLetterQueue("com.example.bookings"), AmqpNames.deadLetterQueue("com.example.greeter") + "x",
        AmqpNames.replyQueue("com.example.bookings", "0af3"), AmqpNames.replyQueue("com.example.greeter.x", "0af3"),
        AmqpNames.replyQueue("com.example.greeterx", "0af3")}) {
      assertThat(matches(greeter.configure(), other)).as(other).isFalse();
    }
    // another user's reply queues, a user whose name starts with the service's among them
    for (String other : new String[] {AmqpNames.replyQueue("com.example.bookings", "0af3"),
        AmqpNames.replyQueue("com.example.greeter.x", "0af3"), AmqpNames.replyQueue("com.example.greeterx", "0af3")}) {
      assertThat(matches(greeter.read(), other)).as(other).isFalse();
    }
    assertThat(matches(greeter.read(), AmqpNames.serviceQueue("com.example.bookings"))).isFalse();
    assertThat(matches(greeter.read(), "skiff.routes")).isFalse();
    assertThat(matches(greeter.read(), AmqpNames.deadLetterQueue("com.example.bookings"))).isFalse();
  }

  @Test
  void aServicePublishesToTheRpcEventsAndDefaultExchangesOnly() {
    assertThat(matches(greeter.write(), AmqpNames.RPC_EXCHANGE)).isTrue();
    assertThat(matches(greeter.write(), AmqpNames.EVENTS_EXCHANGE)).isTrue();
    assertThat(matches(greeter.write(), "amq.default")).isTrue();
    assertThat(matches(greeter.write(), AmqpNames.routeExchange("com.example.greeter"))).isFalse();
    assertThat(matches(greeter.write(), "amq.topic")).isFalse();
  }

  @Test
  void aServicePublishesEventsAboutItselfOnlyAndAnyOtherEvent() {
    assertThat(matches(greeter.topicWrite(), "health.com.example.greeter")).isTrue();
    assertThat(matches(greeter.topicWrite(), "discovery.instance.com.example.greeter")).isTrue();
    assertThat(matches(greeter.topicWrite(), "trace.spans.com.example.greeter")).isTrue();
    assertThat(matches(greeter.topicWrite(), "orders.created")).isTrue();
    assertThat(matches(greeter.topicWrite(), "health.com.example.bookings")).isFalse();
    assertThat(matches(greeter.topicWrite(), "discovery.instance.com.example.greeter.x")).isFalse();
    assertThat(matches(greeter.topicWrite(), "trace.spans.skiff.binding")).isFalse();
  }

  @Test
  void theGatewaysUserHasItsServicesQueuesAndTopicsAndItsOwnReplyQueuesOnly() {
    BrokerPermissions gw = BrokerPermissions.forService("skiff.gateway", "skiff-gateway");
    for (String own : new String[] {AmqpNames.serviceQueue("skiff.gateway"), AmqpNames.instanceQueue("skiff.gateway", "ab12"),
        AmqpNames.replyQueue("skiff-gateway", "0af3"), "amq.gen-XyZ"}) {
      assertThat(matches(gw.configure(), own)).as(own).isTrue();
      assertThat(matches(gw.read(), own)).as(own).isTrue();
    }
    for (String kernel : new String[] {AmqpNames.serviceQueue("skiff.login"), AmqpNames.serviceQueue("skiff.discovery"),
        AmqpNames.replyQueue("skiff.gateway", "0af3"), AmqpNames.replyQueue("skiff-kernel", "0af3"), "skiff.routes"}) {
      assertThat(matches(gw.configure(), kernel)).as(kernel).isFalse();
      assertThat(matches(gw.read(), kernel)).as(kernel).isFalse();
    }
    assertThat(matches(gw.topicWrite(), "discovery.instance.skiff.gateway")).isTrue();
    assertThat(matches(gw.topicWrite(), "discovery.instance.skiff.login")).isFalse();
    assertThat(matches(gw.topicWrite(), "health.skiff.discovery")).isFalse();
  }

  @Test
  void namesAreQuotedForRegularExpressions() {
    assertThat(BrokerPermissions.quote("a.b+c")).isEqualTo("a\\.b\\+c");
  }
}
