package dev.skiff.platform.transport.amqp;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.AlreadyClosedException;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import com.rabbitmq.client.ShutdownSignalException;
import com.rabbitmq.client.impl.recovery.AutorecoveringConnection;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.RpcProgress;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.internal.Ids;
import dev.skiff.platform.transport.ContentTypes;
import dev.skiff.platform.transport.ReplyMessage;
import dev.skiff.platform.transport.RequestMessage;
import dev.skiff.platform.transport.Transport;
import java.io.IOException;
import java.time.Clock;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentNavigableMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The client side of the AMQP transport: a channel that publishes requests (with {@code mandatory}, so
 * that a request no queue takes comes back at once as NOT_FOUND) and a reply queue of the client's own,
 * on the main connection. Its reply queue is named for the connection's broker user
 * ({@link AmqpNames#replyQueue}), so that a service replies to it only for requests sent as that user
 * (docs/security.md "Hostile input"); the connection's recovery declares it again under a new name of
 * the same user ({@link AmqpConnections}), which the client follows.
 *
 * <p>By default requests are published without publisher confirms (docs/design-notes.md "Requests are
 * sent without publisher confirms"): a send completes when the request is written, a returned request
 * is reported to {@link Transport.ReplyListener#onUndeliverable}, and a publishing channel the broker
 * closes fails every call waiting for a reply ({@link Transport.ReplyListener#onRepliesLost}), since
 * any of them may have been lost with it. With {@link AmqpOptions#publisherConfirms()} a send completes
 * at the broker's confirm, and a nack, a return or a closed channel fails only the sends not confirmed.
 */
final class AmqpClientChannel implements Transport.ClientChannel {
  private static final Logger log = LoggerFactory.getLogger(AmqpClientChannel.class);
  private static final String DIRECT_REPLY_TO = AmqpNames.DIRECT_REPLY_TO;
  private static final long NACK_SETTLE_DELAY_MS = 100;
  /** Marks a send the broker refused (nack): for a routable request, its queue is full. */
  private static final SkiffException REFUSED = new SkiffException(ErrorCode.CAPACITY, "refused");

  private final AmqpConnections connections;
  private final Clock clock = Clock.systemUTC();
  /** Whether the publishing channel is in confirm mode ({@link AmqpOptions#publisherConfirms()}). */
  private final boolean confirms;
  private final Channel publish;
  private final Channel replies;
  private final Object publishLock = new Object();
  private final ConcurrentNavigableMap<Long, PendingSend> unconfirmed = new ConcurrentSkipListMap<>();
  private final Map<String, PendingSend> byCorrelation = new ConcurrentHashMap<>();
  private final AtomicBoolean closed = new AtomicBoolean();
  private volatile String replyTo;

  private record PendingSend(String correlationId, String routingKey, CompletableFuture<Void> future) {}

  AmqpClientChannel(AmqpConnections connections, Transport.ReplyListener listener) throws IOException {
    this.connections = connections;
    this.confirms = connections.options().publisherConfirms();
    publish = connections.channel();
    if (confirms) {
      publish.confirmSelect();
    }
    if (connections.options().replyMode() == AmqpOptions.ReplyMode.DIRECT_REPLY_TO) {
      replies = publish;
      publish.basicConsume(DIRECT_REPLY_TO, true, replyConsumer(publish, listener));
      replyTo = DIRECT_REPLY_TO;
    } else {
      replies = connections.channel();
      String q = AmqpNames.replyQueue(connections.userName(), Ids.random128());
      // exclusive and auto-deleted: it goes with its consumer, or its connection
      replies.queueDeclare(q, false, true, true, null);
      replyTo = q;
      if (connections.main() instanceof AutorecoveringConnection ac) {
        ac.addQueueRecoveryListener(
            (oldName, newName) -> {
              if (oldName.equals(replyTo)) {
                log.info("reply queue {} recovered as {}", oldName, newName);
                replyTo = newName;
              }
            });
      }
      replies.basicConsume(q, true, replyConsumer(replies, listener));
    }
    publish.addReturnListener(
        ret -> {
          String correlationId = String.valueOf(ret.getProperties().getCorrelationId());
          if (!confirms) {
            listener.onUndeliverable(correlationId, unroutable(ret.getRoutingKey()));
            return;
          }
          PendingSend p = byCorrelation.remove(correlationId);
          if (p != null) {
            p.future.completeExceptionally(unroutable(ret.getRoutingKey()));
          }
        });
    if (confirms) {
      listenForConfirms();
    }
    publish.addShutdownListener(
        cause -> {
          if (confirms) {
            failAll(cause);
          } else if (replies != publish && !cause.isHardError() && !cause.isInitiatedByApplication()) {
            // whichever request made the broker close it, and those after it, were dropped: which ones is
            // not known without confirms, so no call may wait for a reply that may never come
            listener.onRepliesLost(
                "the broker closed the channel requests are sent on (" + Channels.reason(cause) + "), and a request sent on it may"
                    + " not have arrived");
          }
          reopenLater(publish, cause);
        });
    if (replies != publish) {
      replies.addShutdownListener(cause -> reopenLater(replies, cause));
    }
    replies.addShutdownListener(
        cause -> {
          if (!cause.isInitiatedByApplication() || !closed.get()) {
            listener.onRepliesLost(
                (cause.isHardError() ? "the connection to the broker was lost: " : "the broker closed the reply channel: ")
                    + cause.getMessage());
          }
        });
  }

  /** Settles sends at the broker's confirms (acks and nacks). */
  private void listenForConfirms() {
    publish.addConfirmListener(
        (seq, multiple) -> settle(seq, multiple, null),
        (seq, multiple) -> {
          if (connections.isRabbitMq()) {
            settle(seq, multiple, REFUSED);
          } else {
            // Qpid nacks an unroutable mandatory message and sends its return after the nack: give
            // the return a moment to arrive, so the caller learns the precise reason.
            connections.timer().schedule(() -> settle(seq, multiple, REFUSED), NACK_SETTLE_DELAY_MS, TimeUnit.MILLISECONDS);
          }
        });
  }

  /**
   * A channel the broker closed while the connection stays up (a channel error: a publish it refused,
   * whatever the cause) is opened again at once, off the connection's thread, so that the next call
   * finds it working; {@link #send} also opens it if it is still closed. The connection's own losses are
   * left to its recovery, which reopens every channel.
   */
  private void reopenLater(Channel ch, ShutdownSignalException cause) {
    if (cause.isHardError() || cause.isInitiatedByApplication() || closed.get()) {
      return;
    }
    log.warn("the broker closed a channel of this client: {}; opening it again", Channels.reason(cause));
    try {
      connections.timer().execute(() -> reopen(ch));
    } catch (java.util.concurrent.RejectedExecutionException closing) {
      // the transport is closing
    }
  }

  /** Opens a channel the broker closed again, unless this client is closed; under the publish lock. */
  private void reopen(Channel ch) {
    synchronized (publishLock) {
      if (closed.get() || ch.isOpen()) {
        return;
      }
      try {
        if (connections.reopen(ch)) {
          log.info("channel {} of this client is open again", ch.getChannelNumber());
        }
      } catch (RuntimeException e) {
        log.warn("could not open the channel again: {}", Channels.causes(e));
      }
    }
  }

  private DefaultConsumer replyConsumer(Channel ch, Transport.ReplyListener listener) {
    return new DefaultConsumer(ch) {
      @Override
      public void handleDelivery(String tag, Envelope env, AMQP.BasicProperties props, byte[] body) {
        long discarded = Headers.discardedBody(props);
        listener.onReply(discarded > 0 ? tooLarge(props, discarded) : Headers.reply(props, body));
      }
    };
  }

  /** The reply that stands for one whose body was over this client's inbound limit and thrown away. */
  private ReplyMessage tooLarge(AMQP.BasicProperties props, long bytes) {
    ReplyMessage sent = Headers.reply(props, new byte[0]);
    SkiffException e = new SkiffException(
        ErrorCode.INTERNAL,
        "the reply of " + bytes + " bytes is over this client's limit of " + connections.options().maxInboundBytes()
            + " bytes (AmqpOptions.maxInboundBytes): it was thrown away unread");
    return new ReplyMessage(
        sent.correlationId(), false, ContentTypes.PROTOBUF, sent.service(), sent.serviceVersion(), sent.instance(), sent.idempotent(),
        e.toProto().toByteArray(), sent.userId());
  }

  private static SkiffException unroutable(String routingKey) {
    return new SkiffException(
            ErrorCode.NOT_FOUND, AmqpNames.describeKey(routingKey) + " is not running (no queue is bound for it)")
        .withContext("service", AmqpNames.serviceOfKey(routingKey))
        // the broker's return: it routed the request to no queue, so no instance can have run it
        .withProgress(RpcProgress.NOT_RECEIVED);
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
    SkiffException e = new SkiffException(
        ErrorCode.UNAVAILABLE,
        cause.isHardError()
            ? "the broker connection was lost before the request was confirmed"
            : "the broker closed the publishing channel before confirming the request: " + Channels.reason(cause));
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
    if (connections.recovering()) {
      f.completeExceptionally(notSentWhileRecovering());
      return f;
    }
    if (!publish.isOpen()) {
      // the broker closed it and it is not open again yet (while the connection is down, its recovery
      // reopens it, and the publish is refused NOT_SENT). Opened here, not where the request is
      // written: that thread holds its flushes back, and opening a channel waits for the broker's answer
      synchronized (publishLock) {
        try {
          connections.reopen(publish);
        } catch (RuntimeException e) {
          log.debug("could not open the channel again: {}", Channels.causes(e));
        }
      }
    }
    // written by this thread, or, while another writes, by that one with its own in one system call
    // (docs/design-notes.md "Requests that are sent together leave together")
    connections.requests()
        .submit("request", request.body().length, () -> publish(request, f), failure -> settle(f, failure));
    return f;
  }

  private static SkiffException notSentWhileRecovering() {
    return new SkiffException(ErrorCode.UNAVAILABLE, "not sent: the connection to the broker is recovering")
        .withProgress(RpcProgress.NOT_SENT);
  }

  /**
   * Settles a send once the flush after its publish went through or failed: without confirms it is
   * complete when written (a send that already failed stays failed); a failed flush fails it, as the
   * request may not have left (the connection broke: the reply channel's loss may already have been
   * reported, before this request was written).
   */
  private void settle(CompletableFuture<Void> f, Exception failure) {
    if (failure != null) {
      f.completeExceptionally(
          new SkiffException(ErrorCode.UNAVAILABLE, "cannot publish to the broker: " + failure.getMessage(), failure));
    } else if (!confirms) {
      f.complete(null);
    }
  }

  /** Publishes a request now, its flush held back to the end of the run; fails its send if the publish fails. Never throws. */
  private void publish(RequestMessage request, CompletableFuture<Void> f) {
    if (connections.recovering()) {
      // lost since send() looked: the reply address below may be the reply queue's name from before
      f.completeExceptionally(notSentWhileRecovering());
      return;
    }
    String key = AmqpNames.requestKey(request.service(), request.targetInstance(), request.targetVersion());
    AmqpOptions options = connections.options();
    // the reply address as it is now, when the request is written
    AMQP.BasicProperties props =
        Headers.requestProperties(
            request.withReplyTo(replyTo), clock.millis(), options.assertUserId() ? connections.userName() : null, options.messageTtl());
    PendingSend p = confirms ? new PendingSend(request.correlationId(), key, f) : null;
    try {
      synchronized (publishLock) {
        if (!confirms) {
          publish.basicPublish(AmqpNames.RPC_EXCHANGE, key, true, props, request.body());
        } else {
          long seq = publish.getNextPublishSeqNo();
          unconfirmed.put(seq, p);
          byCorrelation.put(request.correlationId(), p);
          try {
            publish.basicPublish(AmqpNames.RPC_EXCHANGE, key, true, props, request.body());
          } catch (IOException | RuntimeException e) {
            unconfirmed.remove(seq);
            throw e;
          }
        }
      }
    } catch (IOException | RuntimeException e) {
      if (p != null) {
        byCorrelation.remove(request.correlationId(), p);
      }
      SkiffException failed = new SkiffException(ErrorCode.UNAVAILABLE, "cannot publish to the broker: " + e.getMessage(), e);
      // a closed channel refuses before it writes anything; other failures may have written part
      f.completeExceptionally(e instanceof AlreadyClosedException ? failed.withProgress(RpcProgress.NOT_SENT) : failed);
    }
  }

  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    Channels.quietly("close channel", () -> Channels.close(publish));
    if (replies != publish) {
      Channels.quietly("close channel", () -> Channels.close(replies));
    }
  }
}
