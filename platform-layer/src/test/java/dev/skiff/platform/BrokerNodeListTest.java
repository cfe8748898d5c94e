package dev.skiff.platform;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.config.QueueType;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.testproto.EchoRequest;
import dev.skiff.platform.testproto.EchoResponse;
import dev.skiff.platform.transport.amqp.AmqpNames;
import dev.skiff.platform.transport.amqp.AmqpOptions;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import java.net.ServerSocket;
import java.net.URI;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * SKIFF_AMQP_URI as a list of nodes, on the shared broker (issue 22; the cluster itself is
 * {@link ClusterNodeLossTest}'s): a transport connects to a node that answers whichever the shuffled
 * list tries first, and a list gets quorum service queues, which serve on a single node too.
 */
class BrokerNodeListTest {
  @Test
  void aListWithADeadNodeConnectsToTheLiveOneAndServesOnAQuorumQueue() throws Exception {
    URI live = new URI(AmqpRpcTest.brokerUri());
    int closed;
    try (ServerSocket s = new ServerSocket(0)) {
      closed = s.getLocalPort();
    }
    URI dead = new URI(live.getScheme(), live.getRawUserInfo() == null ? null : live.getUserInfo(), "127.0.0.1", closed,
        live.getPath(), live.getQuery(), null);
    String list = dead + "," + live;
    AmqpOptions options = AmqpOptions.of(list).withServiceQueueExpiry(Duration.ofMinutes(2));
    assertThat(options.queueType()).isEqualTo(QueueType.QUORUM);
    // the list is shuffled at each connection: six connections try the dead node first about three times
    for (int i = 0; i < 6; i++) {
      AmqpTransport.connect(options).close();
    }

    String service = "test.nodelist." + System.nanoTime() % 100000;
    try (AmqpTransport serving = AmqpTransport.connect(options);
        AmqpTransport calling = AmqpTransport.connect(options);
        Client client = Client.builder().transport(calling).build()) {
      Server server = Server.builder(service).transport(serving).maxQueueDepth(100)
          .endpoint(Endpoint.of("echo", EchoRequest.class, EchoResponse.class,
              (req, ctx) -> EchoResponse.newBuilder().setText(req.getText()).build()))
          .build().start();
      assertThat(client.call(service, "echo", EchoRequest.newBuilder().setText("hi").build(), EchoResponse.class).getText())
          .isEqualTo("hi");
      // the service queue is a quorum queue: declaring it again as one, with its arguments, is accepted
      // (past its bound a quorum queue drops its oldest request into the refusal queue, where the
      // instances answer CAPACITY: docs/design-notes.md)
      ConnectionFactory cf = new ConnectionFactory();
      cf.setUri(live);
      try (Connection c = cf.newConnection(); Channel ch = c.createChannel()) {
        ch.queueDeclare(AmqpNames.serviceQueue(service), true, false, false, Map.of("x-queue-type", "quorum",
            "x-expires", Duration.ofMinutes(2).toMillis(), "x-max-length", 100, "x-overflow", "drop-head",
            "x-dead-letter-exchange", "", "x-dead-letter-routing-key", AmqpNames.refusalQueue(service)));
      }
      server.close();
    }
  }
}
