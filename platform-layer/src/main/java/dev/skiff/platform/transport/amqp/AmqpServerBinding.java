package dev.skiff.platform.transport.amqp;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import dev.skiff.platform.transport.ReplyMessage;
import dev.skiff.platform.transport.RequestMessage;
import dev.skiff.platform.transport.Transport;
import java.io.IOException;
import java.time.Clock;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server side of the AMQP transport: one service instance bound to its queues on the serving
 * connection (the service queue, its version's queue and its own instance queue), each delivery handed
 * to the server with the means to answer and settle it.
 */
final class AmqpServerBinding implements Transport.ServerBinding {
  private static final Logger log = LoggerFactory.getLogger(AmqpServerBinding.class);

  private final String service;
  private final Channel consume;
  private final Channel reply;
  private final Transport.InboundHandler handler;
  private final Clock clock;
  private final AtomicBoolean closed = new AtomicBoolean();
  private final CountDownLatch cancelled;
  private final List<String> tags = new CopyOnWriteArrayList<>();
  private final WriteCombiner out;

  private AmqpServerBinding(
      String service, Channel consume, Channel reply, Transport.InboundHandler handler, int consumers, Cork cork, Clock clock) {
    this.service = service;
    this.consume = consume;
    this.reply = reply;
    this.handler = handler;
    this.cancelled = new CountDownLatch(consumers);
    this.out = new WriteCombiner(cork);
    this.clock = clock;
  }

  /**
   * Declares an instance's queues, binds them and starts consuming.
   *
   * @param connections the transport's connections
   * @param cork the write corking of the connections
   * @param topology to ask whether the service is under a routing rule
   * @param service the service
   * @param instanceId the instance
   * @param bind prefetch, queue bound, version
   * @param handler receives the requests
   * @return the binding
   * @throws IOException when the broker refuses
   */
  static AmqpServerBinding open(
      AmqpConnections connections, Cork cork, AmqpRoutingTopology topology, String service, String instanceId,
      Transport.BindOptions bind, Transport.InboundHandler handler) throws IOException {
    Connection conn = connections.serving();
    Channel consume = conn.createChannel();
    String svcQueue = AmqpNames.serviceQueue(service);
    Map<String, Object> args = sharedQueueArgs(connections.options(), bind);
    consume = declareShared(conn, consume, svcQueue, args);
    String verQueue = bind.version() == null ? null : AmqpNames.versionQueue(service, bind.version());
    if (verQueue != null) {
      consume = declareShared(conn, consume, verQueue, args);
      consume.queueBind(verQueue, AmqpNames.RPC_EXCHANGE, AmqpNames.versionKey(service, bind.version()));
    }
    Channel reply = conn.createChannel();
    consume.basicQos(bind.prefetch());
    // Under a routing rule the service's traffic goes through its split instead of the service queue
    // (docs/routing.md); binding the queue again would deliver each request twice.
    if (!topology.splitExists(service)) {
      consume.queueBind(svcQueue, AmqpNames.RPC_EXCHANGE, AmqpNames.serviceKey(service));
    }
    String instQueue = AmqpNames.instanceQueue(service, instanceId);
    consume.queueDeclare(instQueue, false, true, true, null);
    consume.queueBind(instQueue, AmqpNames.RPC_EXCHANGE, AmqpNames.instanceKey(service, instanceId));
    AmqpServerBinding b =
        new AmqpServerBinding(service, consume, reply, handler, verQueue == null ? 2 : 3, cork, Clock.systemUTC());
    b.tags.add(consume.basicConsume(svcQueue, false, b.consumer(svcQueue, false)));
    b.tags.add(consume.basicConsume(instQueue, false, b.consumer(instQueue, true)));
    if (verQueue != null) {
      b.tags.add(consume.basicConsume(verQueue, false, b.consumer(verQueue, false)));
    }
    return b;
  }

  private static Map<String, Object> sharedQueueArgs(AmqpOptions options, Transport.BindOptions bind) {
    Map<String, Object> args = new HashMap<>();
    args.put("x-expires", options.serviceQueueExpiry().toMillis());
    if (bind.maxQueueDepth() > 0) {
      args.put("x-max-length", bind.maxQueueDepth());
      args.put("x-overflow", "reject-publish");
    }
    return args;
  }

  /** Declares a queue shared by instances; one created with other arguments is used as it is. */
  private static Channel declareShared(Connection conn, Channel consume, String queue, Map<String, Object> args) throws IOException {
    try {
      consume.queueDeclare(queue, true, false, false, args);
      return consume;
    } catch (IOException e) {
      if (!Channels.causes(e).contains("PRECONDITION_FAILED")) {
        throw e;
      }
      // Another instance (an older version, or other settings) created the queue with other
      // arguments. The queue is the service's: use it as it is rather than refuse to serve.
      log.warn("queue {} exists with other arguments than {} asks for; using it as it is ({})", queue, args, Channels.causes(e));
      Channel fresh = conn.createChannel();
      fresh.queueDeclarePassive(queue);
      return fresh;
    }
  }

  private DefaultConsumer consumer(String queue, boolean instanceAddressed) {
    return new DefaultConsumer(consume) {
      @Override
      public void handleCancelOk(String consumerTag) {
        // dispatched after every delivery that came before the cancel
        cancelled.countDown();
      }

      @Override
      public void handleDelivery(String tag, Envelope env, AMQP.BasicProperties props, byte[] body) {
        RequestMessage req = Headers.request(service, props, body);
        handler.onRequest(req, new AmqpDelivery(env.getDeliveryTag(), queue, props, req, env.isRedeliver(), instanceAddressed));
      }
    };
  }

  /**
   * Cancels the consumers and waits until every delivery that arrived before the cancel has been handed
   * to the handler, so that none reaches it after the caller has drained its work.
   */
  @Override
  public void stopConsuming() {
    for (String tag : tags) {
      Channels.quietly("cancel", () -> consume.basicCancel(tag));
    }
    try {
      if (consume.isOpen() && !cancelled.await(5, TimeUnit.SECONDS)) {
        log.warn("consumers of {} did not confirm their cancellation within 5 s", consume);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    Channels.quietly("close channel", () -> Channels.close(consume));
    Channels.quietly("close channel", () -> Channels.close(reply));
  }

  /** One request taken from a queue, to be answered and settled. */
  private final class AmqpDelivery implements Transport.Delivery {
    private final long tag;
    private final String queue;
    private final AMQP.BasicProperties props;
    private final RequestMessage request;
    private final String replyTo;
    private final boolean redelivered;
    private final boolean instanceAddressed;

    AmqpDelivery(long tag, String queue, AMQP.BasicProperties props, RequestMessage request, boolean redelivered, boolean instanceAddressed) {
      this.tag = tag;
      this.queue = queue;
      this.props = props;
      this.request = request;
      this.replyTo = request.replyTo();
      this.redelivered = redelivered;
      this.instanceAddressed = instanceAddressed;
    }

    @Override
    public void reply(ReplyMessage r) {
      if (replyTo == null || replyTo.isEmpty()) {
        return;
      }
      out.submit("reply", () -> publishReply(r));
    }

    @Override
    public void ack() {
      out.submit("ack", () -> consume.basicAck(tag, false));
    }

    @Override
    public void replyAndAck(ReplyMessage r) {
      // one write for both, and for others' (WriteCombiner); the ack is sent even if the reply fails
      out.submit(
          "reply and ack",
          () -> {
            try {
              publishReply(r);
            } finally {
              consume.basicAck(tag, false);
            }
          });
    }

    private void publishReply(ReplyMessage r) throws IOException {
      if (replyTo != null && !replyTo.isEmpty()) {
        reply.basicPublish("", replyTo, false, Headers.replyProperties(r), r.body());
      }
    }

    @Override
    public void requeue() {
      // A copy goes back to the queue as a fresh message (a nack would mark it redelivered, which
      // reads as "its handler may have run"); only then is the original settled. If the copy cannot
      // be published, the original goes back with a nack instead.
      try {
        reply.basicPublish("", queue, false, Headers.requeueProperties(props, clock.millis()), request.body());
        consume.basicAck(tag, false);
      } catch (IOException | RuntimeException e) {
        Channels.quietly("requeue", () -> consume.basicNack(tag, false, true));
      }
    }

    @Override
    public boolean instanceAddressed() {
      return instanceAddressed;
    }

    @Override
    public boolean redelivered() {
      return redelivered;
    }
  }
}
