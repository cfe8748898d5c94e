package com.example.greeter;

import static org.assertj.core.api.Assertions.assertThat;

import com.example.greeter.proto.HelloRequest;
import com.example.greeter.proto.HelloResponse;
import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.client.Reply;
import dev.skiff.platform.server.Server;
import dev.skiff.testing.RabbitMqExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The same service over a real RabbitMQ, as it runs in production. */
class GreeterBrokerTest {
  @RegisterExtension static final RabbitMqExtension broker = RabbitMqExtension.create();

  @Test
  void greetsOverTheBrokerAndSaysWhichVersionAnswered() {
    try (Server s = new Greeter().start(broker.transport());
        Client c = Client.builder().transport(broker.transport()).build()) {
      Reply<HelloResponse> r =
          Client.await(c.exchange(Greeter.NAME, "hello", HelloRequest.newBuilder().setName("Grace").build(), HelloResponse.class, CallOptions.defaults()));
      assertThat(r.value().getGreeting()).isEqualTo("Hello, Grace!");
      assertThat(r.serviceVersion()).isEqualTo(s.version());
      assertThat(Client.await(c.callJson(Greeter.NAME, "hello", "{\"name\": \"Ada\"}", CallOptions.defaults())).value())
          .contains("Hello, Ada!");
    }
  }
}
