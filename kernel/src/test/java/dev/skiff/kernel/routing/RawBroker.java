package dev.skiff.kernel.routing;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import java.io.IOException;

/**
 * What the routing tests look at or break on the broker behind Skiff's back, over a plain amqp-client
 * connection of their own (Skiff's transports offer no raw channels).
 */
final class RawBroker {
  private static Connection shared;

  private RawBroker() {}

  /**
   * @return a new channel on a connection of the tests' own (opened once per test JVM, closed at its
   *     exit); close the channel when done
   */
  static synchronized Channel channel() {
    try {
      if (shared == null || !shared.isOpen()) {
        ConnectionFactory cf = new ConnectionFactory();
        cf.setUri(TestServices.URI);
        Connection c = cf.newConnection("skiff-routing-test-probe");
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
          try {
            c.close();
          } catch (IOException | RuntimeException e) {
            // the JVM is going
          }
        }, "close-raw-broker"));
        shared = c;
      }
      return shared.createChannel();
    } catch (Exception e) {
      throw new IllegalStateException("cannot reach the broker at " + TestServices.URI + ": " + e, e);
    }
  }

  /**
   * @param exchange an exchange
   * @return whether it exists on the tests' broker (vhost of SKIFF_AMQP_URI)
   */
  static boolean exchangeExists(String exchange) {
    return with(ch -> {
      try {
        ch.exchangeDeclarePassive(exchange);
        return true;
      } catch (IOException e) {
        return false; // and the broker closed the channel
      }
    });
  }

  /**
   * Deletes an exchange-to-exchange binding, as an operator's mistake would.
   *
   * @param destination the bound exchange
   * @param source the exchange it is bound from
   * @param key the binding key
   */
  static void unbindExchange(String destination, String source, String key) {
    with(ch -> {
      ch.exchangeUnbind(destination, source, key);
      return null;
    });
  }

  @FunctionalInterface
  private interface ChannelWork<T> {
    T run(Channel ch) throws IOException;
  }

  private static <T> T with(ChannelWork<T> work) {
    ConnectionFactory cf = new ConnectionFactory();
    try {
      cf.setUri(TestServices.URI);
      try (Connection c = cf.newConnection("skiff-routing-test-probe")) {
        return work.run(c.createChannel());
      }
    } catch (Exception e) {
      throw new IllegalStateException("cannot reach the broker at " + TestServices.URI + ": " + e, e);
    }
  }
}
