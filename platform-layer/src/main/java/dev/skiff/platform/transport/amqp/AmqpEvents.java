package dev.skiff.platform.transport.amqp;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.transport.Transport;
import java.io.IOException;
import java.util.HashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Events over the topic exchange {@value AmqpNames#EVENTS_EXCHANGE}: published transient, at most once,
 * with the connection's user as {@code user_id} (which the broker validates, so listeners learn the
 * sender); each subscription has a queue of its own (or its group's), bounded to {@link #QUEUE_BOUND}
 * events, the oldest dropped first.
 */
final class AmqpEvents {
  /** How many events a subscription's queue holds before the oldest are dropped. */
  static final int QUEUE_BOUND = 10_000;
  private static final Logger log = LoggerFactory.getLogger(AmqpEvents.class);

  private final AmqpConnections connections;
  private final Object publishLock = new Object();
  private Channel publishing;

  AmqpEvents(AmqpConnections connections) {
    this.connections = connections;
  }

  void publish(String topic, String contentType, byte[] body) {
    // user_id: the broker refuses it unless it is the connection's user, so subscribers learn who sent it
    AMQP.BasicProperties props =
        new AMQP.BasicProperties.Builder().contentType(contentType).deliveryMode(1).userId(connections.userName()).build();
    try {
      synchronized (publishLock) {
        // a channel the broker closed (a publish its topic permissions refuse) is replaced
        if (publishing == null || !publishing.isOpen()) {
          publishing = connections.channel();
        }
        publishing.basicPublish(AmqpNames.EVENTS_EXCHANGE, topic, false, props, body);
      }
    } catch (IOException | RuntimeException e) {
      throw new SkiffException(ErrorCode.UNAVAILABLE, "cannot publish event " + topic + ": " + Channels.causes(e), e);
    }
  }

  Transport.Subscription subscribe(String pattern, String group, Transport.EventListener listener) {
    try {
      Channel ch = connections.channel();
      String queue;
      Map<String, Object> args = new HashMap<>();
      args.put("x-max-length", QUEUE_BOUND);
      if (group == null) {
        queue = ch.queueDeclare("", false, true, true, args).getQueue();
      } else {
        queue = AmqpNames.eventGroupQueue(group);
        ch.queueDeclare(queue, false, false, true, args);
      }
      ch.queueBind(queue, AmqpNames.EVENTS_EXCHANGE, pattern);
      ch.basicConsume(queue, true, new DefaultConsumer(ch) {
        @Override
        public void handleDelivery(String tag, Envelope env, AMQP.BasicProperties props, byte[] body) {
          long discarded = Headers.discardedBody(props);
          if (discarded > 0) {
            log.warn("event on {} dropped: its {} bytes are over this transport's limit of {} bytes (AmqpOptions.maxInboundBytes)",
                dev.skiff.platform.internal.Printable.of(env.getRoutingKey()), discarded, connections.options().maxInboundBytes());
            return;
          }
          try {
            listener.onEvent(env.getRoutingKey(), props.getContentType(), body, props.getUserId());
          } catch (RuntimeException e) {
            log.warn("event listener for {} failed on {}", pattern, env.getRoutingKey(), e);
          }
        }
      });
      return () -> Channels.quietly("close subscription", () -> Channels.close(ch));
    } catch (IOException | RuntimeException e) {
      throw new SkiffException(ErrorCode.UNAVAILABLE, "cannot subscribe to " + pattern + ": " + Channels.causes(e), e);
    }
  }
}
