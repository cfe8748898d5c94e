package dev.skiff.platform.transport.amqp;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.BuiltinExchangeType;
import com.rabbitmq.client.Channel;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.RpcProgress;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.transport.RoutingTopology;
import dev.skiff.platform.transport.Transport;
import java.io.IOException;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * The RabbitMQ transport: one AMQP connection for calls, their replies and events, and a second one,
 * opened when the first service is bound, for the requests of the services served on it; both with
 * automatic connection and topology recovery ({@link AmqpConnections}). The second connection hands each
 * request to the server on the thread that read it from the socket, saving a thread hand-off per request.
 *
 * <p>Topology (see docs/wire-protocol.md; every name from {@link AmqpNames}): requests are published to
 * the durable direct exchange {@value AmqpNames#RPC_EXCHANGE} with routing key {@code SERVICE} (any
 * instance), {@code SERVICE#VERSION} (one version) or {@code SERVICE@INSTANCE} (one instance). Each
 * service has a durable queue {@code skiff.svc.SERVICE} shared by its instances (competing consumers);
 * each instance has an exclusive queue {@code skiff.inst.SERVICE.INSTANCE}. Requests are published with
 * publisher confirms and {@code mandatory}, so a request nobody can receive fails at once.
 *
 * <p>The parts: {@link AmqpServerBinding} (serving), {@link AmqpClientChannel} (calling),
 * {@link AmqpEvents} (events), {@link AmqpRoutingTopology} (routing, for the binding service),
 * {@link DeadLetters} (the requests services set aside). No message can fail a connection: a body over
 * a connection's limit is thrown away as it arrives ({@link InboundLimit}), and a channel the broker
 * closes is opened again ({@link AmqpConnections#reopen}).
 *
 * <p>Thread-safe. Owns its connections and threads: {@link #close()} releases them.
 */
public final class AmqpTransport implements Transport {
  /** How often {@link #connectWhenReachable} tries again. */
  private static final long RETRY_CONNECT_MILLIS = 1000;

  private final AmqpConnections connections;
  /** Holds back flushes so that a reply and its ack leave in one write. */
  private final Cork cork;
  private final AmqpEvents events;
  private final AmqpRoutingTopology topology;
  /** Holds the exchanges' declarations: topology recovery declares them again after a broker restart. */
  private final Channel admin;
  private final AtomicBoolean closed = new AtomicBoolean();

  private AmqpTransport(AmqpConnections connections, Cork cork, Channel admin) {
    this.connections = connections;
    this.cork = cork;
    this.admin = admin;
    this.events = new AmqpEvents(connections);
    this.topology = new AmqpRoutingTopology(connections);
  }

  /**
   * Connects to a broker with default options.
   *
   * @param uri the broker URI, e.g. {@code amqp://guest:guest@localhost:5672}
   * @return the connected transport
   * @throws SkiffException UNAVAILABLE when the broker cannot be reached; UNAUTHORIZED when it refuses the
   *     user name or password, FORBIDDEN when it refuses the user the virtual host or has none of that name
   */
  public static AmqpTransport connect(String uri) {
    return connect(AmqpOptions.of(uri));
  }

  /**
   * Connects to a broker and declares the exchanges every service uses.
   *
   * @param options the settings
   * @return the connected transport
   * @throws SkiffException UNAVAILABLE when the broker cannot be reached; UNAUTHORIZED when it refuses the
   *     user name or password, FORBIDDEN when it refuses the user the virtual host or has none of that name
   */
  public static AmqpTransport connect(AmqpOptions options) {
    Cork cork = new Cork();
    AmqpConnections connections = AmqpConnections.open(options, cork);
    try {
      // declared on a channel that lives as long as the transport, so that topology recovery can
      // declare it again after the broker restarts
      Channel admin = connections.channel();
      try {
        admin.exchangeDeclare(AmqpNames.RPC_EXCHANGE, BuiltinExchangeType.DIRECT, true);
        admin.exchangeDeclare(AmqpNames.EVENTS_EXCHANGE, BuiltinExchangeType.TOPIC, true);
      } catch (IOException e) {
        if (Channels.replyCode(e) != AMQP.ACCESS_REFUSED) {
          throw e;
        }
        // a service's least-privilege user may not declare them (docs/security.md): the production
        // set-up declared them, and they are durable; only check that they are there
        admin = connections.channel();
        admin.exchangeDeclarePassive(AmqpNames.RPC_EXCHANGE);
        admin.exchangeDeclarePassive(AmqpNames.EVENTS_EXCHANGE);
      }
      return new AmqpTransport(connections, cork, admin);
    } catch (IOException | RuntimeException e) {
      connections.close();
      throw new SkiffException(
          ErrorCode.UNAVAILABLE, "cannot declare exchange " + AmqpNames.RPC_EXCHANGE + ": " + Channels.causes(e), e);
    }
  }

  /**
   * Connects, waiting for the broker while it cannot be reached: how a service started before its broker
   * comes up (docs/reliability.md, "Starting while a dependency is down"). Tries again every second. A
   * broker that answers but refuses the credentials or the virtual host is not waited for: that is a
   * mistake, not an outage.
   *
   * @param options the settings
   * @param maxWait how long to wait at most; null to wait as long as it takes
   * @param waiting told why the broker cannot be reached yet: at the first failure and every 30 s after
   * @return the connected transport
   * @throws SkiffException UNAVAILABLE when {@code maxWait} has passed; UNAUTHORIZED or FORBIDDEN at once when
   *     the broker refused the user name or password, or the virtual host
   * @throws InterruptedException if the thread is interrupted while waiting
   */
  public static AmqpTransport connectWhenReachable(AmqpOptions options, Duration maxWait, Consumer<String> waiting)
      throws InterruptedException {
    long start = System.nanoTime();
    long lastTold = 0;
    while (true) {
      try {
        return connect(options);
      } catch (SkiffException e) {
        if (e.code() == ErrorCode.UNAUTHORIZED || e.code() == ErrorCode.FORBIDDEN) {
          throw e; // the broker answered: waiting would not change its answer
        }
        long waited = System.nanoTime() - start;
        if (maxWait != null && waited >= maxWait.toNanos()) {
          throw new SkiffException(
              ErrorCode.UNAVAILABLE,
              "the broker at " + AmqpOptions.redact(options.uri()) + " could not be reached within " + maxWait.toSeconds() + " s: "
                  + e.description());
        }
        if (lastTold == 0 || waited - lastTold >= TimeUnit.SECONDS.toNanos(30)) {
          lastTold = Math.max(1, waited);
          waiting.accept(e.description() + "; trying again every second"
              + (maxWait == null ? "" : " for up to " + maxWait.toSeconds() + " s"));
        }
        Thread.sleep(RETRY_CONNECT_MILLIS);
      }
    }
  }

  /**
   * What the transport has met on its connections, for operators and tests.
   *
   * @param connectionLosses how many times one of its connections was lost (each followed by a recovery)
   * @param discardedBodies message bodies over the inbound limit, thrown away as they arrived, unread
   * @param discardedBytes the bytes of those bodies
   * @param requestWaits how many times a caller's request found the queue of requests to write at its
   *     bound (a socket the broker stopped reading: a resource alarm, a slow network) and the caller
   *     waited to write it
   */
  public record Stats(long connectionLosses, long discardedBodies, long discardedBytes, long requestWaits) {}

  /** @return what the transport has met so far */
  public Stats stats() {
    return new Stats(connections.losses(), connections.discardedBodies(), connections.discardedBytes(), connections.requestWaits());
  }

  /**
   * The requests a service's instances set aside, to inspect, replay or discard (docs/security.md
   * "Hostile input").
   *
   * @param service the service
   * @return its dead letters, on this transport's connection
   */
  public DeadLetters deadLetters(String service) {
    return new DeadLetters(connections, dev.skiff.platform.Names.checkService(service), java.time.Clock.systemUTC());
  }

  /** @return the options this transport was created with */
  public AmqpOptions options() {
    return connections.options();
  }

  @Override
  public String describe() {
    return "amqp " + AmqpOptions.redact(connections.options().uri());
  }

  @Override
  public ServerBinding bind(String service, String instanceId, BindOptions bind, InboundHandler handler) {
    try {
      return AmqpServerBinding.open(connections, cork, topology, service, instanceId, bind, handler);
    } catch (IOException | RuntimeException e) {
      String why = Channels.causes(e);
      if (Channels.replyCode(e) == AMQP.ACCESS_REFUSED) {
        // not an outage: this broker user may not use the service's queues (least privilege of another service)
        throw new SkiffException(ErrorCode.FORBIDDEN, "cannot bind service " + service + " on " + describe() + ": the broker "
            + "refused it: " + Channels.brokerWords(e, why) + " (its broker user must be the service's own: 'skiff credentials create "
            + service + "', docs/security.md)", e);
      }
      throw new SkiffException(ErrorCode.UNAVAILABLE, "cannot bind service " + service + " on " + describe() + ": " + why, e);
    }
  }

  @Override
  public ClientChannel openClient(ReplyListener replies) {
    try {
      return new AmqpClientChannel(connections, replies);
    } catch (IOException | RuntimeException e) {
      // nothing was sent on a channel that could not be opened
      throw new SkiffException(ErrorCode.UNAVAILABLE, "cannot open a client channel on " + describe() + ": " + e, e)
          .withProgress(RpcProgress.NOT_SENT);
    }
  }

  @Override
  public java.util.concurrent.CompletableFuture<Void> whenReady() {
    return connections.whenRecovered();
  }

  @Override
  public void publish(String topic, String contentType, byte[] body) {
    events.publish(topic, contentType, body);
  }

  @Override
  public Subscription subscribe(String pattern, String group, EventListener listener) {
    return events.subscribe(pattern, group, listener);
  }

  /** Told when the main connection (events, calls and replies) is lost and when its recovery has ended. */
  @Override
  public Subscription watchConnection(ConnectionListener listener) {
    return connections.watch(listener);
  }

  /** @return the routing topology on this transport's connection (closed with the transport) */
  @Override
  public Optional<RoutingTopology> routing() {
    return Optional.of(topology);
  }

  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    topology.close();
    Channels.quietly("close channel", () -> Channels.close(admin));
    connections.close();
  }
}
