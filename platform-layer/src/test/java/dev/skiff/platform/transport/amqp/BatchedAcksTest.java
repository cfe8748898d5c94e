package dev.skiff.platform.transport.amqp;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.client.Reply;
import dev.skiff.platform.testproto.EchoRequest;
import dev.skiff.platform.testproto.EchoResponse;
import dev.skiff.platform.transport.ContentTypes;
import dev.skiff.platform.transport.ReplyMessage;
import dev.skiff.platform.transport.RequestMessage;
import dev.skiff.platform.transport.Transport;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * On a real broker: the acks of requests answered in one batch leave as one multiple ack, and that ack
 * never settles a request still being handled, which the broker gives back when its instance goes
 * (docs/design-notes.md, "Acks that are due together leave as one").
 */
class BatchedAcksTest {
  private static final int N = 20;
  private final String service = "test.acks." + System.nanoTime() % 1_000_000;
  private final List<RequestMessage> requests = Collections.synchronizedList(new ArrayList<>());
  private final List<Transport.Delivery> deliveries = Collections.synchronizedList(new ArrayList<>());
  private final CountDownLatch arrived = new CountDownLatch(N);
  private AmqpTransport serverTransport;
  private AmqpTransport clientTransport;
  private Client client;
  private AmqpServerBinding binding;

  private static String brokerUri() {
    String env = System.getenv("SKIFF_AMQP_URI");
    return env == null || env.isBlank() ? AmqpOptions.DEFAULT_URI : env;
  }

  @BeforeEach
  void setUp() {
    serverTransport = AmqpTransport.connect(AmqpOptions.of(brokerUri()).withServiceQueueExpiry(Duration.ofMinutes(1)));
    clientTransport = AmqpTransport.connect(brokerUri());
    client = Client.builder().transport(clientTransport).build();
    // a prefetch above N: every request is delivered before any is answered
    binding = (AmqpServerBinding) serverTransport.bind(service, "i1", new Transport.BindOptions(N + 4, 0), (req, delivery) -> {
      requests.add(req);
      deliveries.add(delivery);
      arrived.countDown();
    });
  }

  @AfterEach
  void tearDown() {
    client.close();
    clientTransport.close();
    serverTransport.close();
  }

  private List<CompletableFuture<Reply<EchoResponse>>> send(int n) throws InterruptedException {
    List<CompletableFuture<Reply<EchoResponse>>> calls = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      calls.add(client.exchange(service, "echo", EchoRequest.newBuilder().setText("n" + i).build(), EchoResponse.class,
          CallOptions.timeout(Duration.ofSeconds(30))));
    }
    assertThat(arrived.await(20, TimeUnit.SECONDS)).as("every request delivered").isTrue();
    return calls;
  }

  private ReplyMessage echo(RequestMessage req) throws Exception {
    return echo(req, service, "i1");
  }

  private static ReplyMessage echo(RequestMessage req, String svc, String instance) throws Exception {
    String text = EchoRequest.parseFrom(req.body()).getText();
    return new ReplyMessage(req.correlationId(), true, ContentTypes.PROTOBUF, svc, "1.0.0", instance, false,
        EchoResponse.newBuilder().setText(text).build().toByteArray());
  }

  /** Answers deliveries from {@code from} (inclusive) to {@code to} (exclusive) in one batch. */
  private void answerInOneBatch(int from, int to) {
    binding.holdingWrites(() -> {
      for (int i = from; i < to; i++) {
        try {
          deliveries.get(i).replyAndAck(echo(requests.get(i)));
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      }
    });
  }

  /** @return how many messages the service queue holds ready (given back ones included) */
  private long waitingInServiceQueue() throws Exception {
    return waitingInServiceQueue(service);
  }

  private static long waitingInServiceQueue(String svc) throws Exception {
    ConnectionFactory f = new ConnectionFactory();
    f.setUri(brokerUri());
    try (Connection c = f.newConnection(); Channel ch = c.createChannel()) {
      return ch.queueDeclarePassive(AmqpNames.serviceQueue(svc)).getMessageCount();
    }
  }

  /** Asserts that the calls from {@code from} on were answered with their own text. */
  private static void assertAnswered(List<CompletableFuture<Reply<EchoResponse>>> calls, int from, String prefix) throws Exception {
    for (int i = from; i < calls.size(); i++) {
      assertThat(calls.get(i).get(10, TimeUnit.SECONDS).value().getText()).isEqualTo(prefix + i);
    }
  }

  @Test
  void theRepliesOfOneBatchAreAckedWithOneCommandAndNothingComesBack() throws Exception {
    List<CompletableFuture<Reply<EchoResponse>>> calls = send(N);
    answerInOneBatch(0, N);
    assertAnswered(calls, 0, "n");
    assertThat(binding.acknowledger().deliveriesAcked()).isEqualTo(N);
    assertThat(binding.acknowledger().acksWritten()).as("one multiple ack for the batch").isEqualTo(1);
    binding.close();
    Thread.sleep(300); // the broker gives back what was unacknowledged as the consumer goes
    assertThat(waitingInServiceQueue()).as("nothing was left unacknowledged").isZero();
  }

  @Test
  void theRepliesMadeOnTheReadingThreadToTheRequestsOfOneReadShareAnAck() throws Exception {
    // a second binding that answers on the thread that read the request, as a non-blocking handler does
    String svc = service + ".nb";
    List<String> threads = Collections.synchronizedList(new ArrayList<>());
    Transport.ServerBinding nb = serverTransport.bind(svc, "i2", new Transport.BindOptions(N + 4, 0), (req, delivery) -> {
      threads.add(Thread.currentThread().getName());
      try {
        delivery.replyAndAck(echo(req, svc, "i2"));
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    // the requests wait in the queue while no consumer takes them, then arrive together
    nb.pause();
    List<CompletableFuture<Reply<EchoResponse>>> calls = new ArrayList<>();
    for (int i = 0; i < N; i++) {
      calls.add(client.exchange(svc, "echo", EchoRequest.newBuilder().setText("r" + i).build(), EchoResponse.class,
          CallOptions.timeout(Duration.ofSeconds(30))));
    }
    Thread.sleep(300);
    nb.resume();
    assertAnswered(calls, 0, "r");
    Acknowledger acks = ((AmqpServerBinding) nb).acknowledger();
    assertThat(acks.deliveriesAcked()).isEqualTo(N);
    assertThat(acks.acksWritten()).as("fewer acks than requests: those of one read go as one").isLessThan(N);
    assertThat(Collections.frequency(threads, threads.get(0))).as("all on the reading thread").isEqualTo(N);
    nb.close();
    Thread.sleep(300);
    assertThat(waitingInServiceQueue(svc)).as("nothing left unacknowledged").isZero();
  }

  @Test
  void aRequestStillBeingHandledIsNotCoveredByTheBatchsAckAndComesBackWhenItsInstanceGoes() throws Exception {
    List<CompletableFuture<Reply<EchoResponse>>> calls = send(N);
    // the oldest delivery is still running; every newer one is answered in one batch
    answerInOneBatch(1, N);
    assertAnswered(calls, 1, "n");
    // the instance goes without answering it: the broker still held it unacknowledged and gives it back
    binding.close();
    Thread.sleep(300);
    assertThat(waitingInServiceQueue()).as("the request still being handled went back to its queue").isEqualTo(1);
    assertThat(calls.get(0)).isNotDone();
    assertThat(binding.acknowledger().deliveriesAcked()).isEqualTo(N - 1);
    assertThat(binding.acknowledger().acksWritten()).as("acked one by one: a multiple ack would cover the oldest").isEqualTo(N - 1);
  }
}
