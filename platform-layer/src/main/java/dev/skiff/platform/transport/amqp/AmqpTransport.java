package dev.skiff.platform.transport.amqp;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.BuiltinExchangeType;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import com.rabbitmq.client.Recoverable;
import com.rabbitmq.client.RecoveryListener;
import com.rabbitmq.client.ShutdownSignalException;
import com.rabbitmq.client.impl.FrameHandlerFactory;
import com.rabbitmq.client.impl.recovery.AutorecoveringConnection;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.transport.ReplyMessage;
import dev.skiff.platform.transport.RequestMessage;
import dev.skiff.platform.transport.Transport;
import java.io.IOException;
import java.time.Clock;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentNavigableMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The RabbitMQ transport: one AMQP connection for calls, their replies and events, and a second one,
 * opened when the first service is bound, for the requests of the services served on it; both with
 * automatic connection and topology recovery. The second connection hands each request to the server
 * on the thread that read it from the socket, saving a thread hand-off per request.
 *
 * <p>Topology (see docs/wire-protocol.md): requests are published to the durable direct exchange
 * {@value #EXCHANGE} with routing key {@code SERVICE} (any instance) or {@code SERVICE@INSTANCE} (one
 * instance). Each service has a durable queue {@code skiff.svc.SERVICE} shared by its instances
 * (competing consumers); each instance has an exclusive queue {@code skiff.inst.SERVICE.INSTANCE}.
 * Requests are published with publisher confirms and {@code mandatory}, so a request nobody can
 * receive fails at once.
 *
 * <p>Thread-safe. Owns its connections and threads: {@link #close()} releases them.
 */
public final class AmqpTransport implements Transport {
  /** The exchange every request is published to. */
  public static final String EXCHANGE = "skiff.rpc";
  /** The topic exchange events are published to. */
  public static final String EVENTS_EXCHANGE = "skiff.events";
  /** How many events a subscription's queue holds before the oldest are dropped. */
  static final int EVENT_QUEUE_BOUND = 10_000;

  private static final Logger log = LoggerFactory.getLogger(AmqpTransport.class);
  private static final String DIRECT_REPLY_TO = "amq.rabbitmq.reply-to";
  private static final long NACK_SETTLE_DELAY_MS = 100;
  /** Marks a send the broker refused (nack): for a routable request, its queue is full. */
  private static final SkiffException REFUSED = new SkiffException(ErrorCode.CAPACITY, "refused");

  private final AmqpOptions options;
  /** Holds back flushes so that a reply and its ack leave in one write. */
  private final Cork cork;
  private final ConnectionFactory factory;
  private final Connection connection;
  private final ExecutorService consumerPool;
  private final Object servingLock = new Object();
  /**
   * The connection services are served on, opened at the first {@link #bind}: its deliveries are handed
   * to the server on the thread that reads them from the socket (docs/design-notes.md).
   */
  private Connection serving;
  private final String userName;
  private final Clock clock;
  private final boolean returnsBeforeConfirms;
  private Channel admin;
  private final Object eventLock = new Object();
  private Channel events;
  private final AtomicBoolean closed = new AtomicBoolean();
  /**
   * From the start of a connection recovery until its end. Channels work again before the recovery has
   * declared the queues again, and a client's server-named reply queue comes back under a new name:
   * a request sent in between would name the old queue, and its reply would be lost.
   */
  private volatile boolean recovering;
  private final ScheduledExecutorService timer =
      Executors.newSingleThreadScheduledExecutor(named("skiff-amqp-timer"));

  private AmqpTransport(AmqpOptions options, ConnectionFactory factory, Connection connection, ExecutorService pool, Cork cork) {
    this.options = options;
    this.factory = factory;
    this.cork = cork;
    this.connection = connection;
    this.consumerPool = pool;
    this.userName = factory.getUsername();
    this.clock = Clock.systemUTC();
    Object product = connection.getServerProperties().get("product");
    this.returnsBeforeConfirms = product != null && product.toString().contains("RabbitMQ");
  }

  /**
   * Connects to a broker with default options.
   *
   * @param uri the broker URI, e.g. {@code amqp://guest:guest@localhost:5672}
   * @return the connected transport
   * @throws SkiffException UNAVAILABLE when the broker cannot be reached
   */
  public static AmqpTransport connect(String uri) {
    return connect(AmqpOptions.of(uri));
  }

  /**
   * Connects to a broker.
   *
   * @param options the settings
   * @return the connected transport
   * @throws SkiffException UNAVAILABLE when the broker cannot be reached
   */
  public static AmqpTransport connect(AmqpOptions options) {
    Cork cork = new Cork();
    ConnectionFactory cf =
        new ConnectionFactory() {
          @Override
          protected synchronized FrameHandlerFactory createFrameHandlerFactory() throws IOException {
            return cork.wrap(super.createFrameHandlerFactory());
          }
        };
    try {
      cf.setUri(options.uri());
    } catch (Exception e) {
      throw new IllegalArgumentException("invalid broker URI " + AmqpOptions.redact(options.uri()), e);
    }
    cf.setAutomaticRecoveryEnabled(true);
    cf.setTopologyRecoveryEnabled(true);
    cf.setNetworkRecoveryInterval(1000);
    cf.setRequestedHeartbeat(10);
    cf.setConnectionTimeout(5000);
    cf.setMaxInboundMessageBodySize(options.maxInboundBytes());
    cf.setThreadFactory(named("skiff-amqp-io"));
    ExecutorService pool =
        Executors.newFixedThreadPool(options.consumerThreads(), named("skiff-amqp-dispatch"));
    Connection conn;
    try {
      conn = cf.newConnection(pool, options.connectionName());
    } catch (IOException | java.util.concurrent.TimeoutException | RuntimeException e) {
      pool.shutdownNow();
      throw new SkiffException(
          ErrorCode.UNAVAILABLE,
          "cannot connect to the broker at " + AmqpOptions.redact(options.uri()) + ": " + causes(e),
          e);
    }
    AmqpTransport t = new AmqpTransport(options, cf, conn, pool, cork);
    t.watchRecovery(conn, true);
    try {
      // declared on a channel that lives as long as the transport, so that topology recovery can
      // declare it again after the broker restarts
      t.admin = conn.createChannel();
      t.admin.exchangeDeclare(EXCHANGE, BuiltinExchangeType.DIRECT, true);
      t.admin.exchangeDeclare(EVENTS_EXCHANGE, BuiltinExchangeType.TOPIC, true);
    } catch (IOException | RuntimeException e) {
      t.close();
      throw new SkiffException(ErrorCode.UNAVAILABLE, "cannot declare exchange " + EXCHANGE + ": " + causes(e), e);
    }
    return t;
  }

  /**
   * Logs a connection's recovery and, for the main connection, refuses calls while it recovers.
   *
   * @param conn the connection
   * @param calls whether it carries this transport's calls and their replies
   */
  private void watchRecovery(Connection conn, boolean calls) {
    if (conn instanceof Recoverable r) {
      r.addRecoveryListener(
          new RecoveryListener() {
            @Override
            public void handleRecovery(Recoverable recoverable) {
              // called once queues (renamed reply queues included) and consumers are back
              if (calls) {
                recovering = false;
              }
              log.info("broker connection recovered: {}", AmqpOptions.redact(options.uri()));
            }

            @Override
            public void handleRecoveryStarted(Recoverable recoverable) {
              if (calls) {
                recovering = true;
              }
              log.warn("broker connection lost, recovering: {}", AmqpOptions.redact(options.uri()));
            }
          });
    }
  }

  /**
   * The connection that serves: its consumers' deliveries are dispatched on its reading thread (no
   * hand-off between reading a request and giving it to the server, which never blocks on it).
   */
  private Connection serving() throws IOException {
    synchronized (servingLock) {
      if (serving == null) {
        if (closed.get()) {
          throw new IOException("the transport is closed");
        }
        try {
          serving = factory.newConnection(new InlineExecutor(), options.connectionName() + " (serving)");
        } catch (java.util.concurrent.TimeoutException e) {
          throw new IOException("timed out connecting", e);
        }
        watchRecovery(serving, false);
      }
      return serving;
    }
  }

  /** Runs each task on the thread that submits it: the serving connection's reading thread. */
  private static final class InlineExecutor extends java.util.concurrent.AbstractExecutorService {
    private volatile boolean shutdown;

    @Override
    public void execute(Runnable task) {
      task.run();
    }

    @Override
    public void shutdown() {
      shutdown = true;
    }

    @Override
    public java.util.List<Runnable> shutdownNow() {
      shutdown = true;
      return java.util.List.of();
    }

    @Override
    public boolean isShutdown() {
      return shutdown;
    }

    @Override
    public boolean isTerminated() {
      return shutdown;
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) {
      return shutdown;
    }
  }

  /** @return the options this transport was created with */
  public AmqpOptions options() {
    return options;
  }

  @Override
  public String describe() {
    return "amqp " + AmqpOptions.redact(options.uri());
  }

  /**
   * The queue of a service, shared by its instances.
   *
   * @param service the service
   * @return the queue name
   */
  public static String serviceQueue(String service) {
    return "skiff.svc." + service;
  }

  /**
   * The routing key that reaches one instance of a service.
   *
   * @param service the service
   * @param instanceId the instance
   * @return the routing key
   */
  public static String instanceRoutingKey(String service, String instanceId) {
    return service + "@" + instanceId;
  }

  /**
   * The queue of one version of a service, shared by that version's instances: it takes the requests
   * pinned to the version (routing key {@link #versionRoutingKey}) and, under a routing rule, the
   * version's share of the service's traffic (docs/routing.md).
   *
   * @param service the service
   * @param version the version
   * @return the queue name
   */
  public static String versionQueue(String service, String version) {
    return "skiff.ver." + service + "." + version;
  }

  /**
   * The routing key that reaches any instance of one version of a service.
   *
   * @param service the service
   * @param version the version
   * @return the routing key
   */
  public static String versionRoutingKey(String service, String version) {
    return service + "#" + version;
  }

  /**
   * The consistent-hash exchange that splits a routed service's traffic between its versions. It exists
   * only while the service is under a routing rule; the binding service creates and removes it.
   *
   * @param service the service
   * @return the exchange name
   */
  public static String routeExchange(String service) {
    return "skiff.route." + service;
  }

  /**
   * Whether an exchange exists, asked on a channel of its own (a passive declare of a missing exchange
   * closes its channel).
   *
   * @param exchange the exchange
   * @return true if it exists
   * @throws SkiffException UNAVAILABLE when the broker cannot be asked
   */
  public boolean exchangeExists(String exchange) {
    try {
      Channel ch = connection.createChannel();
      try {
        ch.exchangeDeclarePassive(exchange);
        return true;
      } catch (IOException e) {
        return false;
      } finally {
        quietly("close channel", () -> closeChannel(ch));
      }
    } catch (IOException | RuntimeException e) {
      throw new SkiffException(ErrorCode.UNAVAILABLE, "cannot reach the broker: " + causes(e), e);
    }
  }

  /**
   * Opens a channel on this transport's connection, for tools that manage topology (the binding
   * service). The caller owns it and closes it; a failed operation closes it (AMQP channel errors).
   *
   * @return a new channel
   * @throws SkiffException UNAVAILABLE when the broker cannot be reached
   */
  public Channel openChannel() {
    try {
      return connection.createChannel();
    } catch (IOException | RuntimeException e) {
      throw new SkiffException(ErrorCode.UNAVAILABLE, "cannot open a channel on " + describe() + ": " + causes(e), e);
    }
  }

  private Map<String, Object> sharedQueueArgs(BindOptions bind) {
    Map<String, Object> args = new HashMap<>();
    args.put("x-expires", options.serviceQueueExpiry().toMillis());
    if (bind.maxQueueDepth() > 0) {
      args.put("x-max-length", bind.maxQueueDepth());
      args.put("x-overflow", "reject-publish");
    }
    return args;
  }

  /** Declares a queue shared by instances; one created with other arguments is used as it is. */
  private Channel declareShared(Connection conn, Channel consume, String queue, Map<String, Object> args) throws IOException {
    try {
      consume.queueDeclare(queue, true, false, false, args);
      return consume;
    } catch (IOException e) {
      if (!causes(e).contains("PRECONDITION_FAILED")) {
        throw e;
      }
      // Another instance (an older version, or other settings) created the queue with other
      // arguments. The queue is the service's: use it as it is rather than refuse to serve.
      log.warn("queue {} exists with other arguments than {} asks for; using it as it is ({})", queue, args, causes(e));
      Channel fresh = conn.createChannel();
      fresh.queueDeclarePassive(queue);
      return fresh;
    }
  }

  @Override
  public ServerBinding bind(String service, String instanceId, BindOptions bind, InboundHandler handler) {
    try {
      Connection conn = serving();
      Channel consume = conn.createChannel();
      String svcQueue = serviceQueue(service);
      Map<String, Object> args = sharedQueueArgs(bind);
      consume = declareShared(conn, consume, svcQueue, args);
      String verQueue = bind.version() == null ? null : versionQueue(service, bind.version());
      if (verQueue != null) {
        consume = declareShared(conn, consume, verQueue, args);
        consume.queueBind(verQueue, EXCHANGE, versionRoutingKey(service, bind.version()));
      }
      Channel reply = conn.createChannel();
      consume.basicQos(bind.prefetch());
      // Under a routing rule the service's traffic goes through its route exchange instead of the
      // service queue (docs/routing.md); binding the queue again would deliver each request twice.
      if (!exchangeExists(routeExchange(service))) {
        consume.queueBind(svcQueue, EXCHANGE, service);
      }
      String instQueue = "skiff.inst." + service + "." + instanceId;
      consume.queueDeclare(instQueue, false, true, true, null);
      consume.queueBind(instQueue, EXCHANGE, instanceRoutingKey(service, instanceId));
      AmqpServerBinding b = new AmqpServerBinding(service, consume, reply, handler, verQueue == null ? 2 : 3);
      b.tags.add(consume.basicConsume(svcQueue, false, b.consumer(svcQueue, false)));
      b.tags.add(consume.basicConsume(instQueue, false, b.consumer(instQueue, true)));
      if (verQueue != null) {
        b.tags.add(consume.basicConsume(verQueue, false, b.consumer(verQueue, false)));
      }
      return b;
    } catch (IOException | RuntimeException e) {
      throw new SkiffException(
          ErrorCode.UNAVAILABLE, "cannot bind service " + service + " on " + describe() + ": " + e, e);
    }
  }

  @Override
  public ClientChannel openClient(ReplyListener replies) {
    try {
      return new AmqpClientChannel(replies);
    } catch (IOException | RuntimeException e) {
      throw new SkiffException(ErrorCode.UNAVAILABLE, "cannot open a client channel on " + describe() + ": " + e, e);
    }
  }

  @Override
  public void publish(String topic, String contentType, byte[] body) {
    AMQP.BasicProperties props = new AMQP.BasicProperties.Builder().contentType(contentType).deliveryMode(1).build();
    try {
      synchronized (eventLock) {
        if (events == null) {
          events = connection.createChannel();
        }
        events.basicPublish(EVENTS_EXCHANGE, topic, false, props, body);
      }
    } catch (IOException | RuntimeException e) {
      throw new SkiffException(ErrorCode.UNAVAILABLE, "cannot publish event " + topic + ": " + causes(e), e);
    }
  }

  @Override
  public Subscription subscribe(String pattern, String group, EventListener listener) {
    try {
      Channel ch = connection.createChannel();
      String queue;
      Map<String, Object> args = new HashMap<>();
      args.put("x-max-length", EVENT_QUEUE_BOUND);
      if (group == null) {
        queue = ch.queueDeclare("", false, true, true, args).getQueue();
      } else {
        queue = "skiff.events." + group;
        ch.queueDeclare(queue, false, false, true, args);
      }
      ch.queueBind(queue, EVENTS_EXCHANGE, pattern);
      ch.basicConsume(queue, true, new DefaultConsumer(ch) {
        @Override
        public void handleDelivery(String tag, Envelope env, AMQP.BasicProperties props, byte[] body) {
          try {
            listener.onEvent(env.getRoutingKey(), props.getContentType(), body);
          } catch (RuntimeException e) {
            log.warn("event listener for {} failed on {}", pattern, env.getRoutingKey(), e);
          }
        }
      });
      return () -> quietly("close subscription", () -> closeChannel(ch));
    } catch (IOException | RuntimeException e) {
      throw new SkiffException(ErrorCode.UNAVAILABLE, "cannot subscribe to " + pattern + ": " + causes(e), e);
    }
  }

  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    Connection servingConnection;
    synchronized (servingLock) {
      servingConnection = serving;
    }
    try {
      if (servingConnection != null) {
        servingConnection.close(5000);
      }
      connection.close(5000);
    } catch (IOException | RuntimeException e) {
      log.debug("closing connection", e);
    } finally {
      if (servingConnection != null) {
        servingConnection.abort(1000);
      }
      connection.abort(1000);
      consumerPool.shutdownNow();
      timer.shutdownNow();
    }
  }

  /** The messages of a failure and its causes, e.g. an IOException whose cause names the missing vhost. */
  private static String causes(Throwable e) {
    StringBuilder b = new StringBuilder();
    for (Throwable t = e; t != null && b.length() < 500; t = t.getCause()) {
      if (b.length() > 0) {
        b.append("; caused by ");
      }
      b.append(t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage());
    }
    return b.toString();
  }

  static ThreadFactory named(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }

  private static void quietly(String what, IoAction a) {
    try {
      a.run();
    } catch (IOException | RuntimeException e) {
      log.debug("{} failed: {}", what, e.toString());
    }
  }

  @FunctionalInterface
  private interface IoAction {
    void run() throws IOException;
  }

  private final class AmqpServerBinding implements ServerBinding {
    private final String service;
    private final Channel consume;
    private final Channel reply;
    private final InboundHandler handler;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final java.util.concurrent.CountDownLatch cancelled;
    private final java.util.List<String> tags = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final WriteCombiner out = new WriteCombiner(cork);

    AmqpServerBinding(String service, Channel consume, Channel reply, InboundHandler handler, int consumers) {
      this.service = service;
      this.consume = consume;
      this.reply = reply;
      this.handler = handler;
      this.cancelled = new java.util.concurrent.CountDownLatch(consumers);
    }

    DefaultConsumer consumer(String queue, boolean instanceAddressed) {
      return new DefaultConsumer(consume) {
        @Override
        public void handleCancelOk(String consumerTag) {
          // dispatched after every delivery that came before the cancel
          cancelled.countDown();
        }

        @Override
        public void handleDelivery(String tag, Envelope env, AMQP.BasicProperties props, byte[] body) {
          RequestMessage req = Headers.request(service, props, body);
          handler.onRequest(
              req, new AmqpDelivery(env.getDeliveryTag(), queue, props, req, env.isRedeliver(), instanceAddressed));
        }
      };
    }

    /**
     * Cancels both consumers and waits until every delivery that arrived before the cancel has been
     * handed to the handler, so that none reaches it after the caller has drained its work.
     */
    @Override
    public void stopConsuming() {
      for (String tag : tags) {
        quietly("cancel", () -> consume.basicCancel(tag));
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
      quietly("close channel", () -> closeChannel(consume));
      quietly("close channel", () -> closeChannel(reply));
    }

    private final class AmqpDelivery implements Delivery {
      private final long tag;
      private final String queue;
      private final AMQP.BasicProperties props;
      private final RequestMessage request;
      private final String replyTo;
      private final boolean redelivered;
      private final boolean instanceAddressed;

      AmqpDelivery(
          long tag,
          String queue,
          AMQP.BasicProperties props,
          RequestMessage request,
          boolean redelivered,
          boolean instanceAddressed) {
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
          quietly("requeue", () -> consume.basicNack(tag, false, true));
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

  private static void closeChannel(Channel ch) throws IOException {
    if (ch.isOpen()) {
      try {
        ch.close();
      } catch (java.util.concurrent.TimeoutException | com.rabbitmq.client.AlreadyClosedException e) {
        ch.abort();
      }
    }
  }

  private final class AmqpClientChannel implements ClientChannel {
    private final Channel publish;
    private final Channel replies;
    private final Object publishLock = new Object();
    private final ConcurrentNavigableMap<Long, PendingSend> unconfirmed = new ConcurrentSkipListMap<>();
    private final Map<String, PendingSend> byCorrelation = new ConcurrentHashMap<>();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final ReplyListener listener;
    private volatile String replyTo;

    AmqpClientChannel(ReplyListener listener) throws IOException {
      publish = connection.createChannel();
      publish.confirmSelect();
      DefaultConsumer consumer;
      this.listener = listener;
      if (options.replyMode() == AmqpOptions.ReplyMode.DIRECT_REPLY_TO) {
        replies = publish;
        consumer = replyConsumer(publish, listener);
        publish.basicConsume(DIRECT_REPLY_TO, true, consumer);
        replyTo = DIRECT_REPLY_TO;
      } else {
        replies = connection.createChannel();
        consumer = replyConsumer(replies, listener);
        String q = replies.queueDeclare().getQueue();
        replyTo = q;
        if (connection instanceof AutorecoveringConnection ac) {
          ac.addQueueRecoveryListener(
              (oldName, newName) -> {
                if (oldName.equals(replyTo)) {
                  log.info("reply queue {} recovered as {}", oldName, newName);
                  replyTo = newName;
                }
              });
        }
        replies.basicConsume(q, true, consumer);
      }
      publish.addReturnListener(
          ret -> {
            PendingSend p = byCorrelation.remove(String.valueOf(ret.getProperties().getCorrelationId()));
            if (p != null) {
              p.future.completeExceptionally(unroutable(ret.getRoutingKey()));
            }
          });
      publish.addConfirmListener(
          (seq, multiple) -> settle(seq, multiple, null),
          (seq, multiple) -> {
            if (returnsBeforeConfirms) {
              settle(seq, multiple, REFUSED);
            } else {
              // Qpid nacks an unroutable mandatory message and sends its return after the nack: give
              // the return a moment to arrive, so the caller learns the precise reason.
              timer.schedule(() -> settle(seq, multiple, REFUSED), NACK_SETTLE_DELAY_MS, TimeUnit.MILLISECONDS);
            }
          });
      publish.addShutdownListener(this::failAll);
      replies.addShutdownListener(
          cause -> {
            if (!cause.isInitiatedByApplication() || !closed.get()) {
              listener.onRepliesLost("the connection to the broker was lost: " + cause.getMessage());
            }
          });
    }

    private DefaultConsumer replyConsumer(Channel ch, ReplyListener listener) {
      return new DefaultConsumer(ch) {
        @Override
        public void handleDelivery(String tag, Envelope env, AMQP.BasicProperties props, byte[] body) {
          listener.onReply(Headers.reply(props, body));
        }
      };
    }

    private SkiffException unroutable(String routingKey) {
      int hash = routingKey.indexOf('#');
      if (hash >= 0) {
        return new SkiffException(
                ErrorCode.NOT_FOUND,
                "version " + routingKey.substring(hash + 1) + " of service " + routingKey.substring(0, hash)
                    + " is not running (no queue is bound for it)")
            .withContext("service", routingKey.substring(0, hash));
      }
      int at = routingKey.indexOf('@');
      if (at >= 0) {
        return new SkiffException(
                ErrorCode.NOT_FOUND,
                "instance " + routingKey.substring(at + 1) + " of service " + routingKey.substring(0, at)
                    + " is not running (no queue is bound for it)")
            .withContext("service", routingKey.substring(0, at));
      }
      return new SkiffException(
              ErrorCode.NOT_FOUND, "service " + routingKey + " is not running (no queue is bound for it)")
          .withContext("service", routingKey);
    }

    private void settle(long seq, boolean multiple, SkiffException error) {
      if (multiple) {
        ConcurrentNavigableMap<Long, PendingSend> head = unconfirmed.headMap(seq, true);
        for (PendingSend p : head.values()) {
          finish(p, error);
        }
        head.clear();
      } else {
        PendingSend p = unconfirmed.remove(seq);
        if (p != null) {
          finish(p, error);
        }
      }
    }

    private void finish(PendingSend p, SkiffException error) {
      byCorrelation.remove(p.correlationId, p);
      if (error == null) {
        p.future.complete(null);
      } else if (error == REFUSED) {
        p.future.completeExceptionally(
            new SkiffException(
                    ErrorCode.CAPACITY,
                    "the broker refused the request to " + p.routingKey
                        + ": the service's queue is full (or the broker is out of resources); back off and retry later")
                .withContext("service", p.routingKey));
      } else {
        p.future.completeExceptionally(error);
      }
    }

    private void failAll(ShutdownSignalException cause) {
      SkiffException e =
          new SkiffException(ErrorCode.UNAVAILABLE, "the broker connection was lost before the request was confirmed");
      for (Long seq : unconfirmed.keySet()) {
        PendingSend p = unconfirmed.remove(seq);
        if (p != null) {
          finish(p, e);
        }
      }
    }

    @Override
    public CompletableFuture<Void> send(RequestMessage request) {
      CompletableFuture<Void> f = new CompletableFuture<>();
      if (closed.get()) {
        f.completeExceptionally(new SkiffException(ErrorCode.UNAVAILABLE, "the client is closed"));
        return f;
      }
      if (recovering) {
        f.completeExceptionally(
            new SkiffException(
                    ErrorCode.UNAVAILABLE, "not sent: the connection to the broker is recovering; retry shortly")
                .withContext(SkiffException.CONTEXT_SENT, "no"));
        return f;
      }
      String key =
          request.targetInstance() != null
              ? instanceRoutingKey(request.service(), request.targetInstance())
              : request.targetVersion() != null
                  ? versionRoutingKey(request.service(), request.targetVersion())
                  : request.service();
      AMQP.BasicProperties props =
          Headers.requestProperties(
              request.withReplyTo(replyTo), clock.millis(), options.assertUserId() ? userName : null,
              options.messageTtl());
      PendingSend p = new PendingSend(request.correlationId(), key, f);
      try {
        synchronized (publishLock) {
          long seq = publish.getNextPublishSeqNo();
          unconfirmed.put(seq, p);
          byCorrelation.put(request.correlationId(), p);
          try {
            publish.basicPublish(EXCHANGE, key, true, props, request.body());
          } catch (IOException | RuntimeException e) {
            unconfirmed.remove(seq);
            throw e;
          }
        }
      } catch (IOException | RuntimeException e) {
        byCorrelation.remove(request.correlationId(), p);
        SkiffException failed = new SkiffException(ErrorCode.UNAVAILABLE, "cannot publish to the broker: " + e.getMessage(), e);
        // a closed channel refuses before it writes anything; other failures may have written part
        f.completeExceptionally(
            e instanceof com.rabbitmq.client.AlreadyClosedException ? failed.withContext(SkiffException.CONTEXT_SENT, "no") : failed);
      }
      return f;
    }

    @Override
    public void close() {
      if (!closed.compareAndSet(false, true)) {
        return;
      }
      quietly("close channel", () -> closeChannel(publish));
      if (replies != publish) {
        quietly("close channel", () -> closeChannel(replies));
      }
    }
  }

  private record PendingSend(String correlationId, String routingKey, CompletableFuture<Void> future) {}
}
