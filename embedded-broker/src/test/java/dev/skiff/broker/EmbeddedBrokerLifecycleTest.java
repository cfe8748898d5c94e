package dev.skiff.broker;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class EmbeddedBrokerLifecycleTest {

    @Test
    void aStartedBrokerCarriesAMessageAndASecondStartsAfterTheFirstIsClosed() throws Exception {
        EmbeddedBroker first = EmbeddedBroker.start();
        try {
            assertThat(first.port()).isPositive();
            assertThat(first.amqpUri()).isEqualTo("amqp://guest:guest@127.0.0.1:" + first.port());
            assertRoundTrip(first, "first");
        } finally {
            first.close();
        }

        try (EmbeddedBroker second = EmbeddedBroker.start()) {
            assertRoundTrip(second, "second");
        }
    }

    @Test
    void twoBrokersRunAtOnceIndependently() throws Exception {
        try (EmbeddedBroker a = EmbeddedBroker.start(); EmbeddedBroker b = EmbeddedBroker.start()) {
            assertThat(a.port()).isNotEqualTo(b.port());
            assertRoundTrip(a, "on a");
            assertRoundTrip(b, "on b");
        }
    }

    @Test
    void closeIsIdempotentStopsListeningAndDeletesTheWorkDir() throws Exception {
        EmbeddedBroker broker = EmbeddedBroker.start();
        int port = broker.port();
        assertThat(broker.workDir()).isDirectory();

        broker.close();
        broker.close();

        assertThat(Files.exists(broker.workDir())).isFalse();
        ConnectionFactory factory = new ConnectionFactory();
        factory.setUri("amqp://guest:guest@127.0.0.1:" + port);
        factory.setConnectionTimeout(2_000);
        assertThatThrownBy(factory::newConnection).isInstanceOf(IOException.class);
    }

    @Test
    void aRequestedPortIsUsedAndATakenPortFailsClearly() throws Exception {
        int port;
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = probe.getLocalPort();
        }
        try (EmbeddedBroker broker = EmbeddedBroker.start(port)) {
            assertThat(broker.port()).isEqualTo(port);
            assertRoundTrip(broker, "fixed port");

            assertThatThrownBy(() -> EmbeddedBroker.start(port))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("did not start")
                    .hasMessageContaining(Integer.toString(port))
                    .hasMessageContaining("in use");
        }
    }

    @Test
    void anOutOfRangePortIsRejected() {
        assertThatThrownBy(() -> EmbeddedBroker.start(-1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> EmbeddedBroker.start(65_536)).isInstanceOf(IllegalArgumentException.class);
    }

    /** Declares a queue, publishes to it and consumes the message back with basicConsume. */
    private static void assertRoundTrip(EmbeddedBroker broker, String text) throws Exception {
        ConnectionFactory factory = new ConnectionFactory();
        factory.setUri(broker.amqpUri());
        try (Connection connection = factory.newConnection()) {
            Channel channel = connection.createChannel();
            channel.queueDeclare("lifecycle", false, false, false, null);
            BlockingQueue<String> received = new LinkedBlockingQueue<>();
            channel.basicConsume("lifecycle", true,
                    (tag, delivery) -> received.add(new String(delivery.getBody(), UTF_8)), tag -> { });
            channel.basicPublish("", "lifecycle", null, text.getBytes(UTF_8));

            assertThat(received.poll(10, TimeUnit.SECONDS)).as("message on %s", broker).isEqualTo(text);
        }
    }
}
