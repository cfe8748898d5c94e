package dev.skiff.platform.transport.amqp;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.BuiltinExchangeType;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import com.rabbitmq.client.impl.recovery.AutorecoveringConnection;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.transport.RoutingTopology;
import java.io.IOException;
import java.util.Map;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Routing by version and weight on a stock RabbitMQ (docs/routing.md): a service's split is an
 * {@code x-consistent-hash} exchange hashing the request id ({@code message_id}), a share is a fanout
 * exchange per version and percentage bound into it with one bucket per percent, a lease is an exclusive
 * consumer on a queue, and a durable log is a stream. Every name comes from {@link AmqpNames}.
 *
 * <p>Operations run on one channel of the main connection, replaced when a failed operation closes it
 * (AMQP closes a channel on any error). Thread-safe: operations are serialised.
 */
final class AmqpRoutingTopology implements RoutingTopology {
  private static final Logger log = LoggerFactory.getLogger(AmqpRoutingTopology.class);
  /** Consistent-hash buckets per percent of traffic: one (see docs/routing.md for why no more). */
  static final int POINTS_PER_PERCENT = 1;
  private static final Map<String, Object> SPLIT_ARGS = Map.of("hash-property", "message_id");
  private static final String SPLIT_TYPE = "x-consistent-hash";

  private final AmqpConnections connections;
  private final Object lock = new Object();
  private Channel ops;

  AmqpRoutingTopology(AmqpConnections connections) {
    this.connections = connections;
  }

  @FunctionalInterface
  private interface Op {
    void run(Channel c) throws IOException;
  }

  /** @return null when the operation succeeded, else why it failed */
  private Exception attempt(String what, Op op) {
    synchronized (lock) {
      try {
        if (ops == null || !ops.isOpen()) {
          ops = connections.channel();
        }
        op.run(ops);
        return null;
      } catch (IOException | RuntimeException e) {
        log.debug("routing topology: {} failed: {}", what, e.toString());
        return e;
      }
    }
  }

  private boolean op(String what, Op op) {
    return attempt(what, op) == null;
  }

  private Outcome queueOp(String what, Op op) {
    Exception failed = attempt(what, op);
    return failed == null ? Outcome.DONE : notFound(failed) ? Outcome.MISSING : Outcome.FAILED;
  }

  /** @return whether the broker closed the channel with 404 NOT_FOUND */
  static boolean notFound(Throwable e) {
    return Channels.replyCode(e) == AMQP.NOT_FOUND;
  }

  @Override
  public Outcome bindVersion(String service, String version) {
    return queueOp("bind version", c -> c.queueBind(
        AmqpNames.versionQueue(service, version), AmqpNames.RPC_EXCHANGE, AmqpNames.versionKey(service, version)));
  }

  /**
   * Deletes the queue when a passive declare finds it without consumers and without messages. Not
   * {@code queue.delete} with if-unused and if-empty: RabbitMQ refuses those flags on a quorum queue (the
   * type of every service queue on a cluster) with NOT_IMPLEMENTED, a connection error, which closed the
   * binding leader's connection at each try and left the queue. The check and the delete are two steps:
   * an instance of the version that starts consuming between them has its queue deleted under it, and
   * declares it again when its consumer is cancelled (a version that left the registry seldom comes
   * back within that moment).
   */
  @Override
  public boolean deleteVersionIfIdle(String service, String version) {
    String queue = AmqpNames.versionQueue(service, version);
    AMQP.Queue.DeclareOk found;
    try {
      Channel ch = connections.channel();
      try {
        found = ch.queueDeclarePassive(queue);
      } catch (IOException e) {
        return notFound(e); // gone already
      } finally {
        Channels.quietly("close channel", () -> Channels.close(ch));
      }
    } catch (IOException | RuntimeException e) {
      log.debug("routing topology: checking {} failed: {}", queue, e.toString());
      return false;
    }
    if (found.getConsumerCount() > 0 || found.getMessageCount() > 0) {
      return false;
    }
    return op("delete version queue", c -> c.queueDelete(queue));
  }

  @Override
  public Outcome routeToServiceQueue(String service) {
    return queueOp("bind service queue", c -> c.queueBind(
        AmqpNames.serviceQueue(service), AmqpNames.RPC_EXCHANGE, AmqpNames.serviceKey(service)));
  }

  @Override
  public boolean stopRoutingToServiceQueue(String service) {
    return op("unbind service queue", c -> c.queueUnbind(
        AmqpNames.serviceQueue(service), AmqpNames.RPC_EXCHANGE, AmqpNames.serviceKey(service)));
  }

  /**
   * Declares a split: consistent hashing on the request id, which requests carry as their AMQP
   * {@code message_id}. One left by an older version with other arguments is replaced (its bindings are
   * made again by the binding service's same pass; requests to the service are unroutable for that moment).
   */
  @Override
  public boolean declareSplit(String service) {
    String ex = AmqpNames.routeExchange(service);
    Exception failed = attempt("declare split", c -> c.exchangeDeclare(ex, SPLIT_TYPE, true, false, SPLIT_ARGS));
    if (failed == null) {
      return true;
    }
    String why = String.valueOf(failed.getCause() == null ? failed : failed.getCause());
    if (!why.contains("inequivalent arg")) {
      return false;
    }
    log.warn("route exchange {} exists with other arguments; declaring it again ({})", ex, why);
    op("delete split", c -> c.exchangeDelete(ex));
    return op("declare split", c -> c.exchangeDeclare(ex, SPLIT_TYPE, true, false, SPLIT_ARGS));
  }

  /**
   * Whether the split exists, asked on a channel of its own (a passive declare of a missing exchange
   * closes its channel).
   */
  @Override
  public boolean splitExists(String service) {
    try {
      Channel ch = connections.channel();
      try {
        ch.exchangeDeclarePassive(AmqpNames.routeExchange(service));
        return true;
      } catch (IOException e) {
        return false;
      } finally {
        Channels.quietly("close channel", () -> Channels.close(ch));
      }
    } catch (IOException | RuntimeException e) {
      throw new SkiffException(ErrorCode.UNAVAILABLE, "cannot reach the broker: " + Channels.causes(e), e);
    }
  }

  @Override
  public boolean routeToSplit(String service) {
    return op("bind split", c -> c.exchangeBind(
        AmqpNames.routeExchange(service), AmqpNames.RPC_EXCHANGE, AmqpNames.serviceKey(service)));
  }

  @Override
  public boolean deleteSplit(String service) {
    return op("delete split", c -> c.exchangeDelete(AmqpNames.routeExchange(service)));
  }

  @Override
  public boolean addShare(String service, String version, int percent) {
    String share = AmqpNames.shareExchange(service, version, percent);
    return op("declare share", c -> c.exchangeDeclare(share, BuiltinExchangeType.FANOUT, true, false, null))
        & op("bind share", c -> c.queueBind(AmqpNames.versionQueue(service, version), share, ""))
        & op("add share", c -> c.exchangeBind(share, AmqpNames.routeExchange(service), points(percent)));
  }

  @Override
  public boolean removeShare(String service, String version, int percent) {
    return op("remove share", c -> c.exchangeUnbind(
        AmqpNames.shareExchange(service, version, percent), AmqpNames.routeExchange(service), points(percent)));
  }

  @Override
  public boolean deleteShare(String service, String version, int percent) {
    return op("delete share", c -> c.exchangeDelete(AmqpNames.shareExchange(service, version, percent)));
  }

  private static String points(int percent) {
    return Integer.toString(percent * POINTS_PER_PERCENT);
  }

  /**
   * Holds the lease while this channel's exclusive consumer exists. The channel is kept out of the
   * connection's recovery: when the connection is lost (its node died) or the broker cancels the consumer
   * (its queue went with its node), the lease is given up, the channel closed and the queue left out of
   * the recovery, and {@code onLost} is told; the holder asks again with {@code tryLease}. Recovered as an
   * ordinary channel, the consumer came back on a channel nobody watched: its holder believed itself
   * without the lease and could not take it again (the queue's exclusive consumer was its own), and no
   * other copy could either, so nobody led again after a node loss.
   */
  @Override
  public Lease tryLease(String name, Consumer<String> onLost) {
    Channel ch = null;
    try {
      ch = connections.channel();
      Channel held = ch;
      AtomicBoolean released = new AtomicBoolean();
      Consumer<String> lost = why -> {
        if (released.compareAndSet(false, true)) {
          release(held, name);
          onLost.accept(why);
        }
      };
      ch.queueDeclare(name, false, false, false, Map.of("x-expires", 60_000));
      ch.basicConsume(name, true, "", false, true, Map.of(), new DefaultConsumer(ch) {
        @Override
        public void handleCancel(String consumerTag) {
          lost.accept("the broker cancelled the lease's consumer on " + name);
        }
      });
      held.addShutdownListener(cause -> lost.accept(cause.getMessage()));
      return () -> {
        if (released.compareAndSet(false, true)) {
          release(held, name);
        }
      };
    } catch (IOException | RuntimeException e) {
      Channel failed = ch;
      if (failed != null) {
        Channels.quietly("close channel", failed::abort);
      }
      return null;
    }
  }

  /** Closes a lease's channel, which drops it and its consumer from the recovery, and leaves its queue out of it too. */
  private void release(Channel held, String queue) {
    Channels.quietly("release lease", held::abort);
    if (connections.main() instanceof AutorecoveringConnection ac) {
      ac.excludeQueueFromRecovery(queue, false);
    }
  }

  @Override
  public DurableLog openLog(String name, long maxBytes, Consumer<byte[]> reader) {
    try {
      return new StreamLog(name, maxBytes, reader);
    } catch (IOException | RuntimeException e) {
      throw new SkiffException(ErrorCode.UNAVAILABLE, "cannot open the log " + name + ": " + Channels.causes(e), e);
    }
  }

  @Override
  public void close() {
    synchronized (lock) {
      Channel c = ops;
      ops = null;
      if (c != null) {
        Channels.quietly("close channel", c::abort);
      }
    }
  }

  /** A durable log in a RabbitMQ stream, read from its first entry. */
  private final class StreamLog implements DurableLog {
    private final String name;
    private final Channel consume;
    private final Object publishLock = new Object();
    private Channel publish;

    StreamLog(String name, long maxBytes, Consumer<byte[]> reader) throws IOException {
      this.name = name;
      consume = connections.channel();
      consume.queueDeclare(name, true, false, false, Map.of("x-queue-type", "stream", "x-max-length-bytes", maxBytes));
      consume.basicQos(256);
      consume.basicConsume(name, false, Map.of("x-stream-offset", "first"), new DefaultConsumer(consume) {
        @Override
        public void handleDelivery(String tag, Envelope env, AMQP.BasicProperties props, byte[] body) throws IOException {
          // only what this log's own broker user wrote counts: anyone who may publish to the default
          // exchange can put a message into the stream, but not with this user's user_id
          if (connections.userName().equals(props.getUserId())) {
            reader.accept(body);
          } else {
            log.warn("ignored an entry of the log {} written by {}, not by this log's user", name,
                props.getUserId() == null ? "a sender with no proven identity" : "broker user '" + props.getUserId() + "'");
          }
          getChannel().basicAck(env.getDeliveryTag(), false);
        }
      });
    }

    @Override
    public void append(byte[] entry) {
      try {
        synchronized (publishLock) {
          if (publish == null || !publish.isOpen()) {
            publish = connections.channel();
            publish.confirmSelect();
          }
          publish.basicPublish("", name, true,
              new AMQP.BasicProperties.Builder().deliveryMode(2).contentType("application/x-protobuf")
                  .userId(connections.userName()).build(), entry);
          publish.waitForConfirmsOrDie(5000);
        }
      } catch (IOException | InterruptedException | TimeoutException | RuntimeException e) {
        if (e instanceof InterruptedException) {
          Thread.currentThread().interrupt();
        }
        throw new SkiffException(ErrorCode.UNAVAILABLE, "cannot append to the log " + name + ": " + Channels.causes(e), e);
      }
    }

    @Override
    public void close() {
      Channels.quietly("close channel", () -> Channels.close(consume));
      synchronized (publishLock) {
        Channel p = publish;
        Channels.quietly("close channel", () -> Channels.close(p));
      }
    }
  }
}
