package dev.skiff.platform.transport.amqp;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Address;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.PossibleAuthenticationFailureException;
import com.rabbitmq.client.Recoverable;
import com.rabbitmq.client.RecoveryListener;
import com.rabbitmq.client.impl.FrameHandlerFactory;
import com.rabbitmq.client.impl.recovery.AutorecoveringChannel;
import com.rabbitmq.client.impl.recovery.AutorecoveringConnection;
import com.rabbitmq.client.impl.recovery.RecordedBinding;
import com.rabbitmq.client.impl.recovery.TopologyRecoveryFilter;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.internal.Ids;
import dev.skiff.platform.internal.Threads;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import dev.skiff.platform.transport.Transport;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The transport's two connections to the broker and their recovery: the <em>main</em> connection, for
 * calls, their replies, events and topology, opened at once; and the <em>serving</em> connection, opened
 * when the first service is bound, whose deliveries reach the server on the thread that read them from
 * the socket (one thread hand-off fewer per request; docs/design-notes.md). Both recover automatically
 * (amqp-client's connection and topology recovery, every second). On a cluster each connection goes to a
 * node chosen at random among those the options list, and recovers on any of them that answers
 * (docs/operations.md).
 *
 * <p>From the moment the main connection is lost until its recovery has ended, {@link #recovering()} is
 * true: channels work again before the recovery has declared the queues again, and a client's
 * server-named reply queue comes back under a new name, so a request sent in between would name the old
 * queue and its reply would be lost. {@link #whenRecovered()} tells those waiting when it ends.
 */
final class AmqpConnections implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(AmqpConnections.class);

  private final AmqpOptions options;
  /** Makes the serving connection. */
  private final ConnectionFactory servingFactory;
  /** What the serving connection takes: the largest message of the services bound on it. */
  private final InboundLimit servingLimit;
  private final AtomicLong discardedBodies;
  private final AtomicLong discardedBytes;
  private final Connection main;
  private final ExecutorService dispatch;
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(Threads.named("skiff-amqp-timer"));
  private final Object servingLock = new Object();
  private Connection serving;
  private final AtomicBoolean closed = new AtomicBoolean();
  /** What {@link #whenRecovered} hands out while the connection works. */
  private static final CompletableFuture<Void> WORKING = CompletableFuture.completedFuture(null);

  /** Complete while the main connection works; a new, pending one from its loss to its recovery. */
  private volatile CompletableFuture<Void> recovered = CompletableFuture.completedFuture(null);
  /** Told of the main connection's losses and recoveries ({@link #watch}). */
  private final List<Transport.ConnectionListener> watchers = new CopyOnWriteArrayList<>();
  private final boolean rabbitMq;
  /** How many times a connection was lost (each loss starts a recovery). */
  private final AtomicLong losses = new AtomicLong();
  /** Writes the requests of every client on the main connection, several callers' in one system call. */
  private final WriteCombiner requests;
  /** The most requests queued for {@link #requests} before a sender waits to write. */
  static final int MAX_QUEUED_REQUESTS = 1024;
  /** The most request bytes queued for {@link #requests} before a sender waits to write. */
  static final long MAX_QUEUED_REQUEST_BYTES = 8L << 20;

  private AmqpConnections(
      AmqpOptions options, ConnectionFactory servingFactory, InboundLimit servingLimit, Connection main, Cork mainCork,
      ExecutorService dispatch, AtomicLong discardedBodies, AtomicLong discardedBytes) {
    this.options = options;
    this.requests = WriteCombiner.bounded(mainCork, MAX_QUEUED_REQUESTS, MAX_QUEUED_REQUEST_BYTES);
    this.servingFactory = servingFactory;
    this.servingLimit = servingLimit;
    this.discardedBodies = discardedBodies;
    this.discardedBytes = discardedBytes;
    this.main = main;
    this.dispatch = dispatch;
    Object product = main.getServerProperties().get("product");
    this.rabbitMq = product != null && product.toString().contains("RabbitMQ");
    watchRecovery(main, true);
  }

  /**
   * Opens the main connection.
   *
   * @param options the settings
   * @param cork holds back the serving connection's flushes, so that a reply and its ack leave in one write
   * @return the connections
   * @throws SkiffException UNAVAILABLE when the broker cannot be reached; UNAUTHORIZED or FORBIDDEN when it
   *     refuses the credentials or the virtual host ({@link #connectFailure})
   */
  static AmqpConnections open(AmqpOptions options, Cork cork) {
    AtomicLong discardedBodies = new AtomicLong();
    AtomicLong discardedBytes = new AtomicLong();
    InboundLimit mainLimit = new InboundLimit(options.maxInboundBytes(), discardedBodies, discardedBytes);
    // the serving connection takes no more than the services bound on it do (see admitBodiesUpTo)
    InboundLimit servingLimit = new InboundLimit(0, discardedBodies, discardedBytes);
    // each connection has a cork of its own: a server's corked thread (a batch of handlers,
    // HandlerPool) that calls another service sends that request at once, on the main one; only the
    // thread writing the requests queued for the main connection (requests()) holds its flushes back
    Cork mainCork = Cork.writersOnly();
    ConnectionFactory cf = factory(options, mainCork, mainLimit);
    ConnectionFactory servingFactory = factory(options, cork, servingLimit);
    ExecutorService pool = Executors.newFixedThreadPool(options.consumerThreads(), Threads.named("skiff-amqp-dispatch"));
    try {
      return new AmqpConnections(
          options, servingFactory, servingLimit, cf.newConnection(pool, nodes(options), options.connectionName()), mainCork,
          pool, discardedBodies, discardedBytes);
    } catch (IOException | TimeoutException | RuntimeException e) {
      pool.shutdownNow();
      throw connectFailure(options, e);
    }
  }

  /**
   * Why a connection could not be opened, as its caller can act on it: the broker refused the user name
   * or password ({@link ErrorCode#UNAUTHORIZED}: waiting would not help), refused the user the virtual
   * host or has none of that name ({@link ErrorCode#FORBIDDEN}), or could not be reached or closed the
   * connection for another reason ({@link ErrorCode#UNAVAILABLE}); each with the broker's own words.
   */
  static SkiffException connectFailure(AmqpOptions options, Exception e) {
    String at = "cannot connect to the broker at " + redactedUri(options) + ": ";
    if (e instanceof PossibleAuthenticationFailureException) {
      // AuthenticationFailureException, or an older broker's close of the connection during the login
      return new SkiffException(
          ErrorCode.UNAUTHORIZED, at + "the broker refused the user name or password (" + Channels.causes(e) + ")", e);
    }
    int code = Channels.replyCode(e);
    String words = Channels.brokerWords(e, Channels.causes(e));
    if (code == AMQP.NOT_ALLOWED || code == AMQP.ACCESS_REFUSED) {
      return new SkiffException(ErrorCode.FORBIDDEN, at + words, e);
    }
    return new SkiffException(ErrorCode.UNAVAILABLE, at + words, e);
  }

  /**
   * A connection factory whose connections apply an inbound limit and, given a cork, hold back corked
   * flushes.
   */
  private static ConnectionFactory factory(AmqpOptions options, Cork cork, InboundLimit limit) {
    ConnectionFactory cf =
        new ConnectionFactory() {
          @Override
          protected synchronized FrameHandlerFactory createFrameHandlerFactory() throws IOException {
            FrameHandlerFactory limited = limit.wrap(super.createFrameHandlerFactory());
            return cork == null ? limited : cork.wrap(limited);
          }
        };
    try {
      // credentials, virtual host and TLS from the first node's URI: every node's are the same (BrokerNodes)
      cf.setUri(BrokerNodes.first(options.uri()));
    } catch (Exception e) {
      // neither the cause nor its message: amqp-client's may quote the user-info it could not decode
      throw new IllegalArgumentException("invalid broker URI " + redactedUri(options) + " (refused by the AMQP client: "
          + e.getClass().getSimpleName() + ")");
    }
    cf.setAutomaticRecoveryEnabled(true);
    cf.setTopologyRecoveryEnabled(true);
    // a reply queue comes back under a new name: its old one may still be held by the broker for the
    // connection that was lost (an exclusive queue lives until the broker notices), which would refuse
    // it RESOURCE_LOCKED; the client follows the rename (AmqpClientChannel)
    cf.setRecoveredQueueNameSupplier(
        q -> AmqpNames.isReplyQueueName(q.getName()) ? AmqpNames.renamedReplyQueue(q.getName(), Ids.random128())
            : q.isServerNamed() ? "" : q.getName());
    // a service queue's binding to the RPC exchange is not made again by the recovery: under a routing
    // rule the service's requests go through its split instead, and the queue bound again besides took a
    // copy of each of them, which ran twice (once per queue) until the binding service's next pass
    // unbound it; each instance binds it again itself once recovered, unless a split exists (AmqpServerBinding)
    cf.setTopologyRecoveryFilter(new TopologyRecoveryFilter() {
      @Override
      public boolean filterBinding(RecordedBinding b) {
        return !AmqpNames.isServiceQueueBinding(b.getSource(), b.getDestination(), b.getRoutingKey());
      }
    });
    cf.setNetworkRecoveryInterval(1000);
    cf.setRequestedHeartbeat(10);
    cf.setConnectionTimeout(5000);
    // InboundLimit passes on no body over options.maxInboundBytes(); amqp-client's own check (which
    // fails the whole connection) stays as the backstop, one byte above it
    cf.setMaxInboundMessageBodySize(options.maxInboundBytes() == Integer.MAX_VALUE ? Integer.MAX_VALUE : options.maxInboundBytes() + 1);
    cf.setThreadFactory(Threads.named("skiff-amqp-io"));
    cf.setExceptionHandler(new DriverErrors());
    return cf;
  }

  /**
   * The broker's nodes, which amqp-client tries in a random order at each connection and at each
   * recovery (its address resolver shuffles them every time): a connection whose node dies recovers on
   * another one that answers, and the clients of a cluster spread over its nodes.
   */
  private static List<Address> nodes(AmqpOptions options) {
    return BrokerNodes.addresses(options.uri());
  }

  private static String redactedUri(AmqpOptions options) {
    return AmqpOptions.redact(options.uri());
  }

  /** @return the settings */
  AmqpOptions options() {
    return options;
  }

  /** @return the user the connections authenticated as (what the broker puts in {@code user_id}) */
  String userName() {
    return servingFactory.getUsername();
  }

  /** @return whether the broker is RabbitMQ (which sends a return before the nack of a mandatory message) */
  boolean isRabbitMq() {
    return rabbitMq;
  }

  /** @return whether the main connection is lost or recovering (see the class comment) */
  boolean recovering() {
    return !recovered.isDone();
  }

  /** @return completes when the main connection works (at once unless {@link #recovering()}) */
  CompletableFuture<Void> whenRecovered() {
    CompletableFuture<Void> r = recovered;
    // every call asks this before it is sent: no allocation while the connection works
    return r.isDone() ? WORKING : r.thenApply(v -> v);
  }

  private void beginRecovering() {
    boolean began;
    synchronized (this) {
      began = recovered.isDone() && !closed.get();
      if (began) {
        recovered = new CompletableFuture<>();
      }
    }
    if (began) {
      tell(Transport.ConnectionListener::lost);
    }
  }

  private void endRecovering() {
    boolean ended;
    synchronized (this) {
      ended = !recovered.isDone();
      recovered.complete(null);
    }
    if (ended && !closed.get()) {
      tell(Transport.ConnectionListener::recovered);
    }
  }

  private void tell(java.util.function.Consumer<Transport.ConnectionListener> notice) {
    for (Transport.ConnectionListener w : watchers) {
      try {
        notice.accept(w);
      } catch (RuntimeException e) {
        log.warn("a connection watcher failed", e);
      }
    }
  }

  /**
   * @param listener told when the main connection is lost and when its recovery has ended
   * @return closing it stops the notices
   */
  Transport.Subscription watch(Transport.ConnectionListener listener) {
    watchers.add(java.util.Objects.requireNonNull(listener, "listener"));
    return () -> watchers.remove(listener);
  }

  /**
   * @return what writes the clients' requests on the main connection: a thread that publishes while
   *     another is writing leaves its request to that one, which writes them all with one flush
   */
  WriteCombiner requests() {
    return requests;
  }

  /** @return how many times a sender found {@link #requests()} at its bound and waited to write */
  long requestWaits() {
    return requests.waits();
  }

  /** @return how many message bodies over a connection's limit were thrown away unread */
  long discardedBodies() {
    return discardedBodies.get();
  }

  /** @return the bytes of those bodies */
  long discardedBytes() {
    return discardedBytes.get();
  }

  /**
   * Raises what the serving connection takes to a service's largest message, if that is more than it
   * takes now (several services may be bound on it: it takes the largest of theirs, each service then
   * refusing what is over its own); never more than {@link AmqpOptions#maxInboundBytes()}.
   *
   * @param maxMessageBytes the service's largest message, or 0 for the transport's limit
   */
  void admitBodiesUpTo(int maxMessageBytes) {
    int want = maxMessageBytes <= 0 ? options.maxInboundBytes() : Math.min(maxMessageBytes, options.maxInboundBytes());
    synchronized (servingLock) {
      if (want > servingLimit.maxBodyBytes()) {
        servingLimit.maxBodyBytes(want);
      }
    }
  }

  /**
   * Opens again a channel of the main connection that the broker closed (a channel error, such as a
   * publish it refused), with its listeners, consumers and the queues declared on it, as a recovery
   * would; the connection itself is fine. Does nothing while the connection is down (its recovery
   * reopens every channel).
   *
   * @param ch a channel of the main connection
   * @return whether the channel is open
   */
  boolean reopen(Channel ch) {
    if (ch.isOpen()) {
      return true;
    }
    if (closed.get() || !main.isOpen() || recovering()
        || !(main instanceof AutorecoveringConnection ac) || !(ch instanceof AutorecoveringChannel arc)) {
      return false;
    }
    ac.recoverChannelAndTopology(arc);
    return ch.isOpen();
  }

  /** @return how many times one of the connections was lost (and a recovery began) */
  long losses() {
    return losses.get();
  }

  /** @return a single thread for the transport's delayed work */
  ScheduledExecutorService timer() {
    return timer;
  }

  /** @return the main connection */
  Connection main() {
    return main;
  }

  /**
   * @return a new channel on the main connection
   * @throws IOException when the broker refuses it
   */
  Channel channel() throws IOException {
    return main.createChannel();
  }

  /**
   * The connection that serves, opened at the first call: its consumers' deliveries are dispatched on
   * its reading thread (no hand-off between reading a request and giving it to the server, which never
   * blocks on it).
   *
   * @return the serving connection
   * @throws IOException when it cannot be opened
   */
  Connection serving() throws IOException {
    synchronized (servingLock) {
      if (serving == null) {
        if (closed.get()) {
          throw new IOException("the transport is closed");
        }
        try {
          serving = servingFactory.newConnection(new InlineExecutor(), nodes(options), options.connectionName() + " (serving)");
        } catch (TimeoutException e) {
          throw new IOException("timed out connecting", e);
        }
        watchRecovery(serving, false);
      }
      return serving;
    }
  }

  /**
   * Logs a connection's recovery and, for the main connection, marks it as recovering.
   *
   * @param conn the connection
   * @param calls whether it carries this transport's calls and their replies
   */
  private void watchRecovery(Connection conn, boolean calls) {
    if (calls) {
      // runs before the recovery starts (amqp-client calls shutdown listeners first): no request may be
      // sent from the loss on, not only from the first reconnection attempt
      conn.addShutdownListener(
          cause -> {
            if (!cause.isInitiatedByApplication()) {
              beginRecovering();
            }
          });
    }
    if (conn instanceof Recoverable r) {
      r.addRecoveryListener(
          new RecoveryListener() {
            @Override
            public void handleRecovery(Recoverable recoverable) {
              // called once queues (renamed reply queues included) and consumers are back
              if (calls) {
                endRecovering();
              }
              log.info("broker connection recovered: {}", redactedUri(options));
            }

            @Override
            public void handleRecoveryStarted(Recoverable recoverable) {
              losses.incrementAndGet();
              if (calls) {
                beginRecovering();
              }
              log.warn("broker connection lost, recovering: {}", redactedUri(options));
            }
          });
    }
  }

  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    endRecovering();
    Connection servingConnection;
    synchronized (servingLock) {
      servingConnection = serving;
    }
    try {
      if (servingConnection != null) {
        servingConnection.close(5000);
      }
      main.close(5000);
    } catch (IOException | RuntimeException e) {
      log.debug("closing connection", e);
    } finally {
      if (servingConnection != null) {
        servingConnection.abort(1000);
      }
      main.abort(1000);
      dispatch.shutdownNow();
      timer.shutdownNow();
    }
  }

  /** Runs each task on the thread that submits it: the serving connection's reading thread. */
  private static final class InlineExecutor extends AbstractExecutorService {
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
    public List<Runnable> shutdownNow() {
      shutdown = true;
      return List.of();
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
}
