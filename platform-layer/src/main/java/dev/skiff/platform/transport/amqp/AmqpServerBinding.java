package dev.skiff.platform.transport.amqp;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import com.rabbitmq.client.Recoverable;
import com.rabbitmq.client.RecoveryListener;
import dev.skiff.platform.config.QueueType;
import dev.skiff.platform.transport.ReplyMessage;
import dev.skiff.platform.transport.RequestMessage;
import dev.skiff.platform.transport.Transport;
import java.io.IOException;
import java.time.Clock;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server side of the AMQP transport: one service instance bound to its queues on the serving
 * connection (the service queue, its version's queue and its own instance queue), each delivery handed
 * to the server with the means to answer and settle it.
 *
 * <p>Hostile input (docs/security.md): the serving connection takes bodies up to the largest message
 * size of the services bound on it and throws larger ones away as they arrive ({@link InboundLimit}); a
 * redelivered request is not handed over but put back into its queue with its count of deliveries that
 * ended unsettled ({@link Headers#DELIVERIES}), so that the server can set it aside at its limit; a
 * request set aside goes to the service's dead-letter queue, declared here on a channel of its own.
 *
 * <p>Pausing cancels the consumers and resuming consumes again with the same consumer objects. The
 * instance queue is exclusive but not auto-delete, so that cancelling its consumer on a pause does not
 * delete it (and the requests waiting in it): it goes when the binding closes, or with its connection.
 */
final class AmqpServerBinding implements Transport.ServerBinding {
  private static final Logger log = LoggerFactory.getLogger(AmqpServerBinding.class);

  /** Refusals kept at most: answered within milliseconds while an instance runs, else of no use. */
  static final int REFUSALS_MAX_MESSAGES = 10_000;
  /** Bytes of refusals kept at most (their bodies come with them). */
  static final long REFUSALS_MAX_BYTES = 64L << 20;
  /** How long a refusal waits for an instance to answer it before the broker drops it. */
  static final long REFUSALS_TTL_MILLIS = 60_000;

  private final String service;
  private final Channel consume;
  private final Channel reply;
  /** Holds the dead-letter queue's declaration, for the connection's recovery; null if refused. */
  private final Channel deadLetters;
  private final Transport.InboundHandler handler;
  private final Clock clock;
  private final String instanceQueue;
  private final String instanceId;
  /** Where requests no instance can handle are set aside: the service's dead-letter queue. */
  private final String deadLetterQueue;
  private final Connection connection;
  /** This connection's broker user: replies and requeued requests are sent as it. */
  private final String user;
  private final AtomicBoolean closed = new AtomicBoolean();
  private final List<Source> sources = new CopyOnWriteArrayList<>();
  private final WriteCombiner out;
  /** Settles the consume channel's deliveries, a run of them with one ack where it can. */
  private final Acknowledger acks;
  private final Cork cork;
  /** Guards the consuming state: paused, stopped. */
  private final Object state = new Object();
  private boolean paused;
  private boolean stopped;
  /** The version's queue this instance consumes, or null when it serves no version. */
  private volatile String versionQueue;
  /**
   * Whether a request not pinned to the version came through its version's queue: the service is under a
   * routing rule (its split sends the version's share there), so when this instance stops it re-routes
   * what it held, and sweeps the queue if it was the version's last consumer ({@link #sweepVersionQueue}).
   */
  private volatile boolean routedByRule;
  private volatile long stoppedNanos;
  /** Binds the service queue again after a recovery of the connection (in {@link #open}); null if it does not recover. */
  private RecoveryListener rebind;

  private AmqpServerBinding(
      String service, String instanceId, Connection connection, Channel consume, Channel reply, Channel deadLetters,
      Transport.InboundHandler handler, String instanceQueue, String user, Cork cork, Clock clock) {
    this.service = service;
    this.deadLetters = deadLetters;
    this.instanceId = instanceId;
    this.connection = connection;
    this.deadLetterQueue = AmqpNames.deadLetterQueue(service);
    this.user = user;
    this.consume = consume;
    this.reply = reply;
    this.handler = handler;
    this.instanceQueue = instanceQueue;
    this.acks = new Acknowledger(consume);
    this.out = new WriteCombiner(cork, acks::writeDue);
    this.cork = cork;
    this.clock = clock;
  }

  /**
   * Binds the service queue to the RPC exchange unless the service is under a routing rule: then its
   * traffic goes through its split instead (docs/routing.md), and the queue bound as well would take a
   * copy of each request, which would run twice.
   */
  private static void bindServiceQueueUnlessRouted(AmqpRoutingTopology topology, Channel ch, String service) throws IOException {
    if (!topology.splitExists(service)) {
      ch.queueBind(AmqpNames.serviceQueue(service), AmqpNames.RPC_EXCHANGE, AmqpNames.serviceKey(service));
    }
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
    connections.admitBodiesUpTo(bind.maxMessageBytes());
    Connection conn = connections.serving();
    Channel deadLetters = declareDeadLetters(
        conn, connections.options().deadLetters(), connections.options().queueType(), AmqpNames.deadLetterQueue(service));
    Channel consume = conn.createChannel();
    String svcQueue = AmqpNames.serviceQueue(service);
    String refusals = bind.maxQueueDepth() > 0 ? AmqpNames.refusalQueue(service) : null;
    if (refusals != null) {
      consume = declareShared(conn, consume, refusals, refusalQueueArgs(connections.options()));
    }
    Map<String, Object> args = sharedQueueArgs(connections.options(), bind, refusals);
    consume = declareShared(conn, consume, svcQueue, args);
    String verQueue = bind.version() == null ? null : AmqpNames.versionQueue(service, bind.version());
    if (verQueue != null) {
      consume = declareShared(conn, consume, verQueue, args);
      consume.queueBind(verQueue, AmqpNames.RPC_EXCHANGE, AmqpNames.versionKey(service, bind.version()));
    }
    Channel reply = conn.createChannel();
    consume.basicQos(bind.prefetch());
    bindServiceQueueUnlessRouted(topology, consume, service);
    String instQueue = AmqpNames.instanceQueue(service, instanceId);
    // exclusive (deleted with the connection) but not auto-delete: a pause cancels its consumer
    consume.queueDeclare(instQueue, false, true, false, null);
    consume.queueBind(instQueue, AmqpNames.RPC_EXCHANGE, AmqpNames.instanceKey(service, instanceId));
    AmqpServerBinding b =
        new AmqpServerBinding(
            service, instanceId, conn, consume, reply, deadLetters, handler, instQueue, connections.userName(), cork, Clock.systemUTC());
    b.versionQueue = verQueue;
    b.sources.add(b.new Source(svcQueue, false, false));
    b.sources.add(b.new Source(instQueue, true, false));
    if (verQueue != null) {
      b.sources.add(b.new Source(verQueue, false, false));
    }
    if (refusals != null) {
      b.sources.add(b.new Source(refusals, false, true));
    }
    for (Source s : b.sources) {
      s.consume();
    }
    if (conn instanceof Recoverable r) {
      // the recovery leaves the service queue's binding alone (AmqpConnections): bind it again unless the
      // service is under a routing rule, as at the start
      Channel bindOn = consume;
      b.rebind = new RecoveryListener() {
        @Override
        public void handleRecovery(Recoverable recovered) {
          if (b.closed.get()) {
            return;
          }
          try {
            bindServiceQueueUnlessRouted(topology, bindOn, service);
          } catch (IOException | RuntimeException e) {
            // not bound: a routing rule may be in force, and a request reaching both its split and this
            // queue would run twice; the binding service binds it when no rule is, and a queue that
            // survived the loss kept its binding
            log.warn("service queue {} not bound again after the recovery: {}", svcQueue, Channels.causes(e));
          }
        }

        @Override
        public void handleRecoveryStarted(Recoverable recovering) {
          // nothing before the recovery
        }
      };
      r.addRecoveryListener(b.rebind);
    }
    return b;
  }

  /**
   * The arguments of a service queue (and its version queues). A bounded one refuses what comes past
   * its bound into the service's refusal queue ({@link AmqpNames#refusalQueue}), where the instances
   * answer each with CAPACITY: a classic queue refuses the new request ({@code reject-publish-dlx}); a
   * quorum queue, which cannot, drops its oldest waiting request ({@code drop-head}) into it instead.
   */
  private static Map<String, Object> sharedQueueArgs(AmqpOptions options, Transport.BindOptions bind, String refusals) {
    Map<String, Object> args = new HashMap<>();
    args.put("x-expires", options.serviceQueueExpiry().toMillis());
    if (options.queueType() != QueueType.CLASSIC) {
      // classic is the broker's default: its queues are declared as before, so queues created by an
      // earlier Skiff keep matching their declaration
      args.put("x-queue-type", options.queueType().amqpName());
    }
    if (bind.maxQueueDepth() > 0) {
      args.put("x-max-length", bind.maxQueueDepth());
      args.put("x-overflow", options.queueType() == QueueType.CLASSIC ? "reject-publish-dlx" : "drop-head");
      args.put("x-dead-letter-exchange", "");
      args.put("x-dead-letter-routing-key", refusals);
    }
    return args;
  }

  /**
   * The arguments of a service's refusal queue: bounded by count and bytes (the oldest dropped first),
   * each refusal dropped after a minute unanswered, the queue deleted as its service queue is.
   */
  private static Map<String, Object> refusalQueueArgs(AmqpOptions options) {
    Map<String, Object> args = new HashMap<>();
    args.put("x-expires", options.serviceQueueExpiry().toMillis());
    args.put("x-max-length", REFUSALS_MAX_MESSAGES);
    args.put("x-max-length-bytes", REFUSALS_MAX_BYTES);
    args.put("x-overflow", "drop-head");
    args.put("x-message-ttl", REFUSALS_TTL_MILLIS);
    if (options.queueType() != QueueType.CLASSIC) {
      args.put("x-queue-type", options.queueType().amqpName());
    }
    return args;
  }

  /**
   * Declares the service's dead-letter queue: durable, bounded (the oldest dropped first), deleted after
   * going unused for the expiry. It is a new queue, so no queue created by an earlier Skiff changes. It is
   * declared on a channel of its own that lives as long as the binding, so that the connection's
   * recovery declares it again. A broker that refuses it (a user whose permissions predate it, or a queue
   * of other arguments) is logged and the service serves on: the requests it sets aside are then logged
   * and dropped.
   *
   * @return the channel holding the declaration, or null when the broker refused it
   */
  private static Channel declareDeadLetters(Connection conn, AmqpOptions.DeadLetters bounds, QueueType type, String queue)
      throws IOException {
    Map<String, Object> args = new HashMap<>();
    args.put("x-max-length", bounds.maxMessages());
    args.put("x-max-length-bytes", bounds.maxBytes());
    args.put("x-overflow", "drop-head");
    args.put("x-expires", bounds.expiry().toMillis());
    if (type == QueueType.CLASSIC) {
      // kept on disk rather than in memory; a quorum queue always is (and refuses the argument)
      args.put("x-queue-mode", "lazy");
    } else {
      args.put("x-queue-type", type.amqpName());
    }
    Channel ch = conn.createChannel();
    try {
      ch.queueDeclare(queue, true, false, false, args);
      return ch;
    } catch (IOException e) {
      log.warn("cannot declare the dead-letter queue {} ({}): requests set aside will be logged and dropped; "
          + "docs/security.md \"Hostile input\" says how to set it up", queue, Channels.causes(e));
      Channels.quietly("close channel", () -> Channels.close(ch));
      return null;
    }
  }

  /** Declares a queue shared by instances; one created with other arguments is used as it is. */
  private static Channel declareShared(Connection conn, Channel consume, String queue, Map<String, Object> args) throws IOException {
    try {
      consume.queueDeclare(queue, true, false, false, args);
      return consume;
    } catch (IOException e) {
      if (Channels.replyCode(e) != AMQP.PRECONDITION_FAILED) {
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

  /**
   * One queue the binding consumes from, with one consumer object for the binding's life: consumed
   * from again after each cancel. Each consumer tag's cancellation completes at its cancel-ok, which the
   * client dispatches after every delivery that came before the cancel.
   */
  private final class Source {
    private final String queue;
    /** Whether this is the refusal queue: its messages are answered CAPACITY, never run. */
    private final boolean refusals;
    private final DefaultConsumer consumer;
    private final Map<String, CompletableFuture<Void>> cancellations = new java.util.concurrent.ConcurrentHashMap<>();
    private volatile String tag;

    Source(String queue, boolean instanceAddressed, boolean refusals) {
      this.queue = queue;
      this.refusals = refusals;
      this.consumer = new DefaultConsumer(consume) {
        @Override
        public void handleCancelOk(String consumerTag) {
          cancelled(consumerTag);
        }

        @Override
        public void handleCancel(String consumerTag) {
          cancelled(consumerTag); // by the broker: the queue was deleted
        }

        @Override
        public void handleDelivery(String tag, Envelope env, AMQP.BasicProperties props, byte[] body) {
          acks.delivered(env.getDeliveryTag());
          if (refusals) {
            refused(env, props, body);
            return;
          }
          long discarded = Headers.discardedBody(props);
          int deliveries = Headers.deliveries(props, user);
          if (env.isRedeliver() && discarded == 0) {
            // its last delivery ended unsettled: count it in a copy before anything runs it again
            countRedelivery(env.getDeliveryTag(), queue, props, body, deliveries + 1);
            return;
          }
          try {
            RequestMessage req = Headers.request(service, props, body, user);
            if (!routedByRule && cameByRule(queue, req)) {
              routedByRule = true;
            }
            handler.onRequest(
                req, new AmqpDelivery(env.getDeliveryTag(), queue, props, req, deliveries, discarded, instanceAddressed, false));
          } catch (RuntimeException e) {
            // not the request's fault alone: back to the queue, counted as a delivery that ended unsettled
            log.error("{}: a request from {} could not be taken: {}", service, queue, e.toString());
            nack(env.getDeliveryTag());
          }
        }
      };
    }

    /**
     * Hands a request the full service queue refused to the server, to be answered CAPACITY; anything
     * else the broker dead-lettered here (a request that expired in the queue: its caller has stopped
     * waiting) is dropped. Never requeued: a refusal that cannot be answered is dropped with a log.
     */
    private void refused(Envelope env, AMQP.BasicProperties props, byte[] body) {
      if (!Headers.deadLetteredForLength(props)) {
        out.submit("drop", () -> acks.ackLater(env.getDeliveryTag()));
        return;
      }
      try {
        RequestMessage req = Headers.request(service, props, body, user);
        handler.onRequest(
            req, new AmqpDelivery(env.getDeliveryTag(), queue, props, req, 0, Headers.discardedBody(props), false, true));
      } catch (RuntimeException e) {
        log.warn("{}: a refused request could not be answered: {}", service, e.toString());
        out.submit("drop", () -> acks.ackLater(env.getDeliveryTag()));
      }
    }

    /** Starts consuming; called with no consumer of this source active. */
    void consume() throws IOException {
      String t = consume.basicConsume(queue, false, consumer);
      cancellations.put(t, new CompletableFuture<>());
      tag = t;
    }

    private void cancelled(String consumerTag) {
      CompletableFuture<Void> f = cancellations.remove(consumerTag);
      if (f != null) {
        f.complete(null);
      }
    }

    /** Cancels the current consumer, if any; its cancel-ok completes its cancellation. */
    void cancel() {
      String t = tag;
      tag = null;
      if (t != null) {
        Channels.quietly("cancel", () -> consume.basicCancel(t));
      }
    }
  }

  /**
   * Puts a redelivered request back into its queue as a fresh message carrying its count of deliveries
   * that ended unsettled ({@link Headers#DELIVERIES}), then settles the original: the count lives in the
   * message, so it grows across instances and restarts, and the server sets the request aside at its
   * limit. If the copy cannot be published, the original goes back with a nack.
   */
  private void countRedelivery(long tag, String queue, AMQP.BasicProperties props, byte[] body, int deliveries) {
    out.submit(
        "count a redelivery",
        () -> {
          try {
            reply.basicPublish("", queue, false, Headers.countedProperties(props, clock.millis(), user, deliveries), body);
            acks.ackLater(tag);
          } catch (IOException | RuntimeException e) {
            nack(tag);
          }
        });
  }

  /** @return how the consume channel's deliveries were acknowledged (for tests and benchmarks) */
  Acknowledger acknowledger() {
    return acks;
  }

  /** Puts a delivery back into its queue with a nack, at once. */
  private void nack(long tag) {
    Channels.quietly("requeue", () -> consume.basicNack(tag, false, true));
    acks.settled(tag);
  }

  @Override
  public void holdingWrites(Runnable batch) {
    try {
      cork.run(batch::run);
    } catch (IOException e) {
      // the held flush failed: the connection broke, and its recovery deals with it (as WriteCombiner)
      log.debug("flushing held replies failed: {}", e.toString());
    }
  }

  @Override
  public void flushHeldWrites() {
    // a batch whose handler blocks holds its acks as well as its replies: both go now
    Channels.quietly("write due acks", acks::writeDue);
    cork.flushAll();
  }

  @Override
  public long setAsideWaiting() {
    if (closed.get() || !connection.isOpen()) {
      return -1;
    }
    // a channel of its own: a passive declare of a missing queue closes its channel
    try {
      Channel ch = connection.createChannel();
      try {
        return ch.queueDeclarePassive(deadLetterQueue).getMessageCount();
      } finally {
        Channels.quietly("close channel", () -> Channels.close(ch));
      }
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  @Override
  public void pause() {
    synchronized (state) {
      if (paused || stopped || closed.get()) {
        return;
      }
      paused = true;
      sources.forEach(Source::cancel);
    }
    log.info("{}: stopped taking requests (paused)", service);
  }

  @Override
  public void resume() {
    synchronized (state) {
      if (!paused || stopped || closed.get()) {
        return;
      }
      paused = false;
      for (Source s : sources) {
        try {
          s.consume();
        } catch (IOException | RuntimeException e) {
          log.warn("{}: could not consume from {} again: {}", service, s.queue, Channels.causes(e));
        }
      }
    }
    log.info("{}: taking requests again (resumed)", service);
  }

  /**
   * Cancels the consumers and waits until every delivery that arrived before the cancel has been handed
   * to the handler, so that none reaches it after the caller has drained its work. After a pause, waits
   * for the pause's cancels in the same way.
   */
  @Override
  public void stopConsuming() {
    List<CompletableFuture<Void>> pending = new java.util.ArrayList<>();
    synchronized (state) {
      stopped = true;
      stoppedNanos = System.nanoTime();
      for (Source s : sources) {
        s.cancel();
        pending.addAll(s.cancellations.values());
      }
    }
    try {
      if (consume.isOpen()) {
        CompletableFuture.allOf(pending.toArray(CompletableFuture[]::new)).get(5, TimeUnit.SECONDS);
      }
    } catch (TimeoutException | ExecutionException e) {
      log.warn("consumers of {} did not confirm their cancellation within 5 s", consume);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    if (rebind != null && connection instanceof Recoverable r) {
      r.removeRecoveryListener(rebind);
    }
    if (stopped) {
      sweepVersionQueue();
    }
    // not auto-delete (see the class comment): delete it, or it would stay until the connection closes
    Channels.quietly("delete instance queue", () -> consume.queueDelete(instanceQueue));
    Channels.quietly("close channel", () -> Channels.close(consume));
    Channels.quietly("close channel", () -> Channels.close(reply));
    if (deadLetters != null) {
      Channels.quietly("close channel", () -> Channels.close(deadLetters));
    }
  }

  /**
   * Run by the last instance of a version under a routing rule as it closes: the rule's split goes on
   * sending the version's queue its share until the binding service has moved it (it hears of the stop
   * at once; a share's old exchange takes what picked it a moment before for {@code RETIRE_AFTER}, a
   * second), and requests re-routed while the split still had the version come back. With no instance left
   * to take them they would wait there until their callers time out. So, when no other consumer is on the
   * queue, it moves each request there that is not pinned to the version back through the rule (as this
   * instance's hand-backs go, {@link AmqpDelivery#requeue}), until {@link #SWEEP_AT_LEAST} after it stopped
   * consuming and {@link #SWEEP_QUIET} without one, for at most {@link #SWEEP_AT_MOST}. Requests pinned to
   * the version stay (no instance of it runs: they end as they did). Sent as this connection's user, with
   * the original caller kept, as every hand-back is.
   */
  private void sweepVersionQueue() {
    String queue = versionQueue;
    if (queue == null || !routedByRule || !connection.isOpen()) {
      return;
    }
    long moved = 0;
    long start = System.nanoTime();
    long lastMoved = start;
    try {
      Channel ch = connection.createChannel();
      try {
        if (ch.queueDeclarePassive(queue).getConsumerCount() > 0) {
          return; // another instance of the version takes them
        }
        while (System.nanoTime() - start < SWEEP_AT_MOST.toNanos()) {
          com.rabbitmq.client.GetResponse g = ch.basicGet(queue, false);
          long now = System.nanoTime();
          boolean quiet = now - stoppedNanos >= SWEEP_AT_LEAST.toNanos() && now - lastMoved >= SWEEP_QUIET.toNanos();
          if (g == null) {
            if (quiet) {
              break;
            }
            Thread.sleep(20);
            continue;
          }
          AMQP.BasicProperties props = g.getProps();
          RequestMessage req;
          try {
            req = Headers.request(service, props, g.getBody(), user);
          } catch (RuntimeException malformed) {
            ch.basicNack(g.getEnvelope().getDeliveryTag(), false, true);
            break; // not this sweep's to judge: the next instance of the version sets it aside
          }
          if (!cameByRule(queue, req)) {
            // pinned to the version: it stays, at the back of the queue
            ch.basicPublish("", queue, false, Headers.requeueProperties(props, clock.millis(), user), g.getBody());
            ch.basicAck(g.getEnvelope().getDeliveryTag(), false);
            if (quiet) {
              break; // only pinned ones are left
            }
            Thread.sleep(5);
            continue;
          }
          sendThroughRule(ch, props, g.getBody());
          ch.basicAck(g.getEnvelope().getDeliveryTag(), false);
          moved++;
          lastMoved = now;
        }
      } finally {
        Channels.quietly("close channel", () -> Channels.close(ch));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (IOException | RuntimeException e) {
      log.debug("{}: sweeping {} stopped: {}", service, queue, Channels.causes(e));
    }
    if (moved > 0) {
      log.info("{}: moved {} requests the routing rule sent version queue {} after this instance stopped back through the rule",
          service, moved, queue);
    }
  }

  /**
   * Whether a request from a queue came through its version's queue without being pinned to the version:
   * the share of its version a routing rule's split sent there.
   */
  private boolean cameByRule(String queue, RequestMessage req) {
    return req.targetVersion() == null && queue.equals(versionQueue);
  }

  /** Sends a request back through the service's routing (its rule's split) as a fresh message of this connection's user. */
  private void sendThroughRule(Channel ch, AMQP.BasicProperties props, byte[] body) throws IOException {
    ch.basicPublish(AmqpNames.RPC_EXCHANGE, AmqpNames.serviceKey(service), false, Headers.requeueProperties(props, clock.millis(), user), body);
  }

  /** How long after it stopped consuming the last instance of a version sweeps its queue, at least. */
  static final java.time.Duration SWEEP_AT_LEAST = java.time.Duration.ofMillis(1500);
  /** How long the sweep goes on once nothing more comes to move. */
  static final java.time.Duration SWEEP_QUIET = java.time.Duration.ofMillis(500);
  /** How long the sweep goes on at most (a binding service that is down never moves the share). */
  static final java.time.Duration SWEEP_AT_MOST = java.time.Duration.ofSeconds(5);

  /** One request taken from a queue, to be answered and settled. */
  private final class AmqpDelivery implements Transport.Delivery {
    private final long tag;
    private final String queue;
    private final AMQP.BasicProperties props;
    private final RequestMessage request;
    /** Where the reply goes: the request's reply address, or null when it has none or it is not the caller's. */
    private final String replyTo;
    private final boolean replyAddressAllowed;
    private final int deliveries;
    private final long discardedBodyBytes;
    private final boolean instanceAddressed;
    private final boolean overflowed;

    AmqpDelivery(
        long tag, String queue, AMQP.BasicProperties props, RequestMessage request, int deliveries, long discardedBodyBytes,
        boolean instanceAddressed, boolean overflowed) {
      this.overflowed = overflowed;
      this.tag = tag;
      this.queue = queue;
      this.props = props;
      this.request = request;
      String to = request.replyTo();
      this.replyAddressAllowed = to == null || to.isEmpty() || AmqpNames.isReplyAddressOf(to, request.userId());
      this.replyTo = replyAddressAllowed ? to : null;
      this.deliveries = deliveries;
      this.discardedBodyBytes = discardedBodyBytes;
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
      out.submit("ack", () -> acks.ackLater(tag));
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
              acks.ackLater(tag);
            }
          });
    }

    private void publishReply(ReplyMessage r) throws IOException {
      if (replyTo != null && !replyTo.isEmpty()) {
        reply.basicPublish("", replyTo, false, Headers.replyProperties(r, user), r.body());
      }
    }

    @Override
    public void setAside(ReplyMessage r, String code, String reason) {
      Headers.SetAside why = new Headers.SetAside(code, reason, queue, instanceId, deliveries, discardedBodyBytes);
      out.submit(
          "set aside",
          () -> {
            try {
              if (r != null) {
                publishReply(r);
              }
            } finally {
              // published before the ack: if it cannot be, the request stays unsettled and comes back
              reply.basicPublish("", deadLetterQueue, false, Headers.deadLetterProperties(props, clock.millis(), user, why), request.body());
              acks.ackLater(tag);
            }
          });
    }

    @Override
    public void requeue() {
      if (discardedBodyBytes > 0) {
        // the body was never read here: only the broker still has it
        nack(tag);
        return;
      }
      // A copy goes back to the queue as a fresh message (a nack would mark it redelivered, which
      // reads as "its handler may have run"); only then is the original settled. If the copy cannot
      // be published, the original goes back with a nack instead.
      // One that came through the version's queue under a routing rule, not pinned to the version, goes
      // back through the rule, which sends it where the service's traffic goes now (the same version while
      // its share stands: the split hashes the request id), and not to a queue that may have no consumer
      // left (the last instance of a version with a share, stopping; sweepVersionQueue).
      try {
        if (cameByRule(queue, request)) {
          sendThroughRule(reply, props, request.body());
        } else {
          reply.basicPublish("", queue, false, Headers.requeueProperties(props, clock.millis(), user), request.body());
        }
        consume.basicAck(tag, false);
        acks.settled(tag);
      } catch (IOException | RuntimeException e) {
        nack(tag);
      }
    }

    @Override
    public boolean instanceAddressed() {
      return instanceAddressed;
    }

    @Override
    public boolean replyAddressAllowed() {
      return replyAddressAllowed;
    }

    @Override
    public boolean overflowed() {
      return overflowed;
    }

    @Override
    public boolean redelivered() {
      return deliveries > 0;
    }

    @Override
    public int deliveries() {
      return deliveries;
    }

    @Override
    public long discardedBodyBytes() {
      return discardedBodyBytes;
    }
  }
}
