package dev.skiff.broker;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.BuiltinExchangeType;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.Delivery;
import com.rabbitmq.client.Return;
import com.rabbitmq.client.ShutdownSignalException;
import java.io.IOException;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** What the platform relies on from the broker, checked against one embedded broker. */
class EmbeddedBrokerAmqpTest {

    private static final long WAIT_SECONDS = 10;

    private static EmbeddedBroker broker;
    private static ConnectionFactory factory;

    private Connection connection;
    private Channel channel;

    @BeforeAll
    static void startBroker() throws Exception {
        broker = EmbeddedBroker.start();
        factory = new ConnectionFactory();
        factory.setUri(broker.amqpUri());
    }

    @AfterAll
    static void stopBroker() {
        if (broker != null) {
            broker.close();
        }
    }

    @BeforeEach
    void connect() throws Exception {
        connection = factory.newConnection();
        channel = connection.createChannel();
    }

    @AfterEach
    void disconnect() throws Exception {
        if (connection.isOpen()) {
            connection.close();
        }
    }

    @Test
    void publisherConfirmsWorkAndAnUnroutableMandatoryPublishIsReturnedWith312ThenNacked() throws Exception {
        channel.confirmSelect();
        String queue = uniqueName("confirmed");
        channel.queueDeclare(queue, false, false, true, null);
        channel.basicPublish("", queue, null, "confirmed".getBytes(UTF_8));
        channel.waitForConfirmsOrDie(TimeUnit.SECONDS.toMillis(WAIT_SECONDS));

        String exchange = uniqueName("direct");
        channel.exchangeDeclare(exchange, BuiltinExchangeType.DIRECT, false, true, null);
        CompletableFuture<Return> returned = new CompletableFuture<>();
        channel.addReturnListener(returned::complete);
        channel.basicPublish(exchange, "no-binding", true, null, "lost".getBytes(UTF_8));

        Return ret = returned.get(WAIT_SECONDS, TimeUnit.SECONDS);
        assertThat(ret.getReplyCode()).isEqualTo(312);
        assertThat(ret.getExchange()).isEqualTo(exchange);
        assertThat(ret.getRoutingKey()).isEqualTo("no-binding");
        assertThat(new String(ret.getBody(), UTF_8)).isEqualTo("lost");
        // Qpid nacks a returned message (RabbitMQ acks it); either way the channel stays usable
        assertThat(channel.waitForConfirms(TimeUnit.SECONDS.toMillis(WAIT_SECONDS))).isFalse();
        assertThat(channel.isOpen()).isTrue();
        channel.basicPublish("", queue, null, "confirmed again".getBytes(UTF_8));
        channel.waitForConfirmsOrDie(TimeUnit.SECONDS.toMillis(WAIT_SECONDS));
    }

    @Test
    void queueArgumentsQpidDoesNotKnowAreIgnoredInsteadOfClosingTheConnection() throws Exception {
        Map<String, Object> ttlArgs = Map.of("x-expires", 60_000, "x-message-ttl", 5_000);
        String withTtl = uniqueName("ttl");
        channel.queueDeclare(withTtl, false, false, true, ttlArgs);

        assertThat(channel.isOpen()).isTrue();
        assertThat(connection.isOpen()).isTrue();

        Map<String, Object> rabbitArgs = Map.of(
                "x-max-length", 1_000,
                "x-dead-letter-exchange", "",
                "x-queue-type", "classic");
        String withRabbitArgs = uniqueName("rabbit-args");
        channel.queueDeclare(withRabbitArgs, false, false, true, rabbitArgs);

        // the channel really works afterwards, not just reports itself open
        assertThat(channel.queueDeclarePassive(withTtl).getQueue()).isEqualTo(withTtl);
        assertThat(channel.queueDeclarePassive(withRabbitArgs).getQueue()).isEqualTo(withRabbitArgs);
        assertThat(channel.isOpen()).isTrue();
        assertThat(connection.isOpen()).isTrue();
    }

    @Test
    void headersAndExpirationSurviveAndQosManualAckAndNackRequeueBehave() throws Exception {
        String queue = uniqueName("qos");
        channel.queueDeclare(queue, false, false, true, null);
        Map<String, Object> headers = new HashMap<>();
        headers.put("x-skiff-method", "Echo/Say");
        headers.put("attempt", 3);
        for (int i = 1; i <= 3; i++) {
            AMQP.BasicProperties props = new AMQP.BasicProperties.Builder()
                    .headers(headers)
                    .expiration("60000")
                    .correlationId("c" + i)
                    .build();
            channel.basicPublish("", queue, props, ("m" + i).getBytes(UTF_8));
        }

        Channel consumer = connection.createChannel();
        consumer.basicQos(2);
        BlockingQueue<Delivery> deliveries = new LinkedBlockingQueue<>();
        consumer.basicConsume(queue, false, (tag, delivery) -> deliveries.add(delivery), tag -> { });

        Delivery first = take(deliveries);
        Delivery second = take(deliveries);
        assertThat(bodies(first, second)).containsExactly("m1", "m2");
        AMQP.BasicProperties props = first.getProperties();
        assertThat(props.getExpiration()).isEqualTo("60000");
        assertThat(props.getHeaders()).containsOnlyKeys("x-skiff-method", "attempt");
        assertThat(props.getHeaders().get("x-skiff-method")).hasToString("Echo/Say");
        assertThat(props.getHeaders().get("attempt")).isEqualTo(3);
        assertThat(first.getEnvelope().isRedeliver()).isFalse();

        // prefetch 2, nothing acked yet: the third message is held back
        assertThat(deliveries.poll(300, TimeUnit.MILLISECONDS)).isNull();

        consumer.basicAck(first.getEnvelope().getDeliveryTag(), false);
        Delivery third = take(deliveries);
        assertThat(bodies(third)).containsExactly("m3");

        consumer.basicNack(second.getEnvelope().getDeliveryTag(), false, true);
        Delivery again = take(deliveries);
        assertThat(bodies(again)).containsExactly("m2");
        assertThat(again.getEnvelope().isRedeliver()).isTrue();
        assertThat(again.getProperties().getCorrelationId()).isEqualTo("c2");

        consumer.basicAck(third.getEnvelope().getDeliveryTag(), false);
        consumer.basicAck(again.getEnvelope().getDeliveryTag(), false);
        assertThat(consumer.isOpen()).isTrue();
    }

    @Test
    void anExclusiveAutoDeleteServerNamedQueueWorksAsAReplyQueue() throws Exception {
        String requests = uniqueName("requests");
        channel.queueDeclare(requests, false, false, true, null);

        // a "server" on its own connection answers to reply-to with the correlation id
        try (Connection serverConnection = factory.newConnection()) {
            Channel server = serverConnection.createChannel();
            server.basicConsume(requests, true, (tag, request) -> {
                AMQP.BasicProperties reply = new AMQP.BasicProperties.Builder()
                        .correlationId(request.getProperties().getCorrelationId())
                        .build();
                String answer = "re: " + new String(request.getBody(), UTF_8);
                server.basicPublish("", request.getProperties().getReplyTo(), reply, answer.getBytes(UTF_8));
            }, tag -> { });

            AMQP.Queue.DeclareOk replyQueue = channel.queueDeclare();
            assertThat(replyQueue.getQueue()).isNotBlank();
            BlockingQueue<Delivery> replies = new LinkedBlockingQueue<>();
            channel.basicConsume(replyQueue.getQueue(), true, (tag, delivery) -> replies.add(delivery), tag -> { });

            AMQP.BasicProperties request = new AMQP.BasicProperties.Builder()
                    .replyTo(replyQueue.getQueue())
                    .correlationId("corr-1")
                    .build();
            channel.basicPublish("", requests, request, "ping".getBytes(UTF_8));

            Delivery reply = take(replies);
            assertThat(reply.getProperties().getCorrelationId()).isEqualTo("corr-1");
            assertThat(bodies(reply)).containsExactly("re: ping");

            // exclusive: another connection may not consume from it (Qpid closes that connection, 403)
            Connection intruder = factory.newConnection();
            try {
                Channel other = intruder.createChannel();
                assertThatThrownBy(() -> other.basicConsume(replyQueue.getQueue(), true, (t, d) -> { }, t -> { }))
                        .isInstanceOf(IOException.class);
            } finally {
                intruder.abort();
            }
        }
    }

    @Test
    void userIdMatchingTheConnectionsUserIsAcceptedAndAnyOtherClosesTheConnectionWith403() throws Exception {
        String queue = uniqueName("user-id");
        channel.queueDeclare(queue, false, false, false, null);
        try {
            BlockingQueue<Delivery> deliveries = new LinkedBlockingQueue<>();
            channel.basicConsume(queue, true, (tag, delivery) -> deliveries.add(delivery), tag -> { });
            channel.basicPublish("", queue, new AMQP.BasicProperties.Builder().userId("guest").build(),
                    "mine".getBytes(UTF_8));
            Delivery delivered = take(deliveries);
            assertThat(delivered.getProperties().getUserId()).isEqualTo("guest");

            Connection spoofer = factory.newConnection();
            try {
                CompletableFuture<ShutdownSignalException> closed = new CompletableFuture<>();
                spoofer.addShutdownListener(closed::complete);
                spoofer.createChannel().basicPublish("", queue,
                        new AMQP.BasicProperties.Builder().userId("other").build(), "spoofed".getBytes(UTF_8));

                ShutdownSignalException cause = closed.get(WAIT_SECONDS, TimeUnit.SECONDS);
                assertThat(cause.isHardError()).as("whole connection closed").isTrue();
                assertThat(cause.isInitiatedByApplication()).as("closed by the broker").isFalse();
                assertThat(((AMQP.Connection.Close) cause.getReason()).getReplyCode()).isEqualTo(403);
            } finally {
                spoofer.abort();
            }
            // the spoofed message never reached the queue
            assertThat(deliveries.poll(300, TimeUnit.MILLISECONDS)).isNull();
        } finally {
            channel.queueDelete(queue);
        }
    }

    private static Delivery take(BlockingQueue<Delivery> deliveries) throws InterruptedException {
        Delivery delivery = deliveries.poll(WAIT_SECONDS, TimeUnit.SECONDS);
        assertThat(delivery).as("a delivery within %d s", WAIT_SECONDS).isNotNull();
        return delivery;
    }

    private static String[] bodies(Delivery... deliveries) {
        String[] bodies = new String[deliveries.length];
        for (int i = 0; i < deliveries.length; i++) {
            bodies[i] = new String(deliveries[i].getBody(), UTF_8);
        }
        return bodies;
    }

    private static String uniqueName(String prefix) {
        return "test." + prefix + "." + UUID.randomUUID();
    }
}
