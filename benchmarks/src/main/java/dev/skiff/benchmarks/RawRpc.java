package dev.skiff.benchmarks;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.BuiltinExchangeType;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import dev.skiff.benchmarks.proto.Echo;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentNavigableMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The baseline: request/reply written by hand on com.rabbitmq:amqp-client, with the same broker topology
 * and delivery guarantees as Skiff's AMQP transport but none of Skiff's own work (no headers, deadlines,
 * per-message TTL, user id, timers, tracing, metrics or handler pool). docs/performance.md describes it.
 */
final class RawRpc {
  /** The durable direct exchange requests go to (Skiff's is {@code skiff.rpc}). */
  static final String EXCHANGE = "bench.raw.rpc";

  /** The durable request queue, also the routing key (Skiff's is {@code skiff.svc.bench.echo}). */
  static final String QUEUE = "bench.raw.echo";

  /** The request queue's expiry when unused, as Skiff declares its service queues (1 h). */
  static final long QUEUE_EXPIRY_MS = 3_600_000L;

  /** Unsettled requests the server holds, as a Skiff server's default (2 × concurrency 16). */
  static final int PREFETCH = 32;

  static final String CONTENT_TYPE = "application/x-protobuf";

  private RawRpc() {}

  static ConnectionFactory factory(String uri) {
    ConnectionFactory cf = new ConnectionFactory();
    try {
      cf.setUri(uri);
    } catch (Exception e) {
      throw new IllegalArgumentException("invalid broker URI", e);
    }
    return cf;
  }

  /**
   * The echo server: consumes the request queue with manual acks and basicQos(32); for each request it
   * decodes the Echo, encodes it again, publishes it to the request's reply-to queue with its correlation
   * id on a second channel, and acks, all on amqp-client's consumer thread.
   */
  static final class Server implements AutoCloseable {
    private final Connection connection;
    private final ExecutorService pool;

    Server(String uri) throws IOException, TimeoutException {
      this(uri, QUEUE, false, false);
    }

    /**
     * A server with optional pieces of Skiff's work added, to attribute Skiff's overhead (see
     * {@link RawDiagnostic}).
     *
     * @param uri the broker
     * @param queue its request queue, also the routing key (several baselines in one JVM each have one)
     * @param skiffReplyProperties reply with the AMQP properties a Skiff server sets (its packed {@code app_id})
     * @param handlerPool hand each request from the consumer thread to a pool of 16 threads, as a Skiff
     *     server does, and decode, reply and ack there
     */
    Server(String uri, String queue, boolean skiffReplyProperties, boolean handlerPool) throws IOException, TimeoutException {
      connection = factory(uri).newConnection("bench-raw-server");
      pool = handlerPool ? Executors.newFixedThreadPool(16) : null;
      Channel consume = connection.createChannel();
      Channel reply = connection.createChannel();
      consume.exchangeDeclare(EXCHANGE, BuiltinExchangeType.DIRECT, true);
      consume.queueDeclare(queue, true, false, false, Map.of("x-expires", QUEUE_EXPIRY_MS));
      consume.queueBind(queue, EXCHANGE, queue);
      consume.queuePurge(queue);
      consume.basicQos(PREFETCH);
      consume.basicConsume(
          queue,
          false,
          new DefaultConsumer(consume) {
            @Override
            public void handleDelivery(String tag, Envelope env, AMQP.BasicProperties props, byte[] body)
                throws IOException {
              if (pool == null) {
                answer(env, props, body);
              } else {
                pool.execute(
                    () -> {
                      try {
                        answer(env, props, body);
                      } catch (IOException e) {
                        throw new UncheckedIOException(e);
                      }
                    });
              }
            }

            private void answer(Envelope env, AMQP.BasicProperties props, byte[] body) throws IOException {
              Echo request = Echo.parseFrom(body);
              AMQP.BasicProperties.Builder rp =
                  new AMQP.BasicProperties.Builder()
                      .correlationId(props.getCorrelationId())
                      .contentType(CONTENT_TYPE)
                      .deliveryMode(1);
              if (skiffReplyProperties) {
                rp.appId("ok;0.0.0;0a1b2c3d");
              }
              reply.basicPublish("", props.getReplyTo(), false, rp.build(), request.toByteArray());
              consume.basicAck(env.getDeliveryTag(), false);
            }
          });
    }

    @Override
    public void close() throws IOException {
      connection.abort(2000); // close, quietly and within 2 s even if the broker is gone
      if (pool != null) {
        pool.shutdownNow();
      }
    }
  }

  /**
   * The caller: publishes each request to the exchange with {@code mandatory}, a correlation id and its
   * own exclusive, server-named reply queue (consumed with auto-ack on a second channel), and completes
   * the call's future when the reply with that correlation id arrives. With confirms, the publishing
   * channel is in confirm mode and outstanding publishes are tracked by sequence number (RabbitMQ's
   * "handling publisher confirms asynchronously" pattern); a nack or a return fails the call.
   */
  static final class Client implements AutoCloseable {
    private final Connection connection;
    private final Channel publish;
    private final boolean confirms;
    private final String replyQueue;
    private final String requestQueue;
    private final Object publishLock = new Object();
    private final Map<String, CompletableFuture<Echo>> pending = new ConcurrentHashMap<>();
    private final ConcurrentNavigableMap<Long, String> unconfirmed = new ConcurrentSkipListMap<>();
    private final AtomicLong sequence = new AtomicLong();
    private final String prefix = Long.toHexString(System.nanoTime()) + "-";
    private final boolean skiffHeaders;
    private final boolean skiffTtl;
    private final boolean skiffUserId;
    private final String userId;

    Client(String uri, boolean confirms) throws IOException, TimeoutException {
      this(uri, QUEUE, confirms, false, false, false);
    }

    /**
     * A client that can send the AMQP properties a Skiff client sets, to attribute Skiff's overhead (see
     * {@link RawDiagnostic}).
     *
     * @param uri the broker
     * @param queue the server's request queue, also the routing key
     * @param confirms whether to publish with publisher confirms
     * @param skiffHeaders send the properties of a Skiff request (ids, endpoint, and the packed {@code app_id}: deadline, send time, caller, trace context)
     * @param skiffTtl send a Skiff request's per-message TTL ({@code expiration})
     * @param skiffUserId send a Skiff request's validated {@code user_id}
     */
    Client(String uri, String queue, boolean confirms, boolean skiffHeaders, boolean skiffTtl, boolean skiffUserId)
        throws IOException, TimeoutException {
      this.requestQueue = queue;
      this.confirms = confirms;
      this.skiffHeaders = skiffHeaders;
      this.skiffTtl = skiffTtl;
      this.skiffUserId = skiffUserId;
      ConnectionFactory cf = factory(uri);
      userId = cf.getUsername();
      connection = cf.newConnection(confirms ? "bench-raw-client-confirms" : "bench-raw-client");
      publish = connection.createChannel();
      if (confirms) {
        publish.confirmSelect();
        publish.addConfirmListener(
            (seq, multiple) -> settle(seq, multiple, false), (seq, multiple) -> settle(seq, multiple, true));
      }
      publish.addReturnListener(
          ret -> fail(ret.getProperties().getCorrelationId(), "unroutable: " + ret.getRoutingKey()));
      Channel replies = connection.createChannel();
      replyQueue = replies.queueDeclare().getQueue();
      replies.basicConsume(
          replyQueue,
          true,
          new DefaultConsumer(replies) {
            @Override
            public void handleDelivery(String tag, Envelope env, AMQP.BasicProperties props, byte[] body) {
              CompletableFuture<Echo> f = pending.remove(props.getCorrelationId());
              if (f == null) {
                return;
              }
              try {
                f.complete(Echo.parseFrom(body));
              } catch (IOException | RuntimeException e) {
                f.completeExceptionally(e);
              }
            }
          });
    }

    /**
     * Sends a request.
     *
     * @param request the request
     * @return its reply
     */
    CompletableFuture<Echo> call(Echo request) {
      String id = prefix + sequence.incrementAndGet();
      CompletableFuture<Echo> f = new CompletableFuture<>();
      pending.put(id, f);
      AMQP.BasicProperties.Builder b =
          new AMQP.BasicProperties.Builder()
              .correlationId(id)
              .replyTo(replyQueue)
              .contentType(CONTENT_TYPE)
              .deliveryMode(1);
      AMQP.BasicProperties props = skiffProperties(b);
      byte[] body = request.toByteArray();
      try {
        synchronized (publishLock) {
          if (confirms) {
            unconfirmed.put(publish.getNextPublishSeqNo(), id);
          }
          publish.basicPublish(EXCHANGE, requestQueue, true, props, body);
        }
      } catch (IOException | RuntimeException e) {
        pending.remove(id);
        f.completeExceptionally(e);
      }
      return f;
    }

    /** The same properties, sizes and value types as dev.skiff.platform.transport.amqp.Headers sets. */
    private AMQP.BasicProperties skiffProperties(AMQP.BasicProperties.Builder b) {
      if (skiffTtl) {
        b.expiration("5000");
      }
      if (skiffUserId) {
        b.userId(userId);
      }
      if (!skiffHeaders) {
        return b.build();
      }
      long deadline = System.currentTimeMillis() + 5000;
      String traceparent = "00-" + hex32() + "-" + hex32().substring(16) + "-00";
      b.messageId(hex32()).type(Bench.ENDPOINT);
      return b.appId(deadline + ";" + (deadline - 5000) + ";bench.caller;0a1b2c3d;" + traceparent).build();
    }

    private static String hex32() {
      ThreadLocalRandom r = ThreadLocalRandom.current();
      char[] out = new char[32];
      for (int part = 0; part < 2; part++) {
        long v = r.nextLong();
        for (int i = 0; i < 16; i++) {
          out[part * 16 + i] = Character.forDigit((int) ((v >>> (60 - 4 * i)) & 0xF), 16);
        }
      }
      return new String(out);
    }

    private void settle(long seq, boolean multiple, boolean nack) {
      if (multiple) {
        ConcurrentNavigableMap<Long, String> head = unconfirmed.headMap(seq, true);
        if (nack) {
          head.values().forEach(id -> fail(id, "nack"));
        }
        head.clear();
      } else {
        String id = unconfirmed.remove(seq);
        if (nack && id != null) {
          fail(id, "nack");
        }
      }
    }

    private void fail(String correlationId, String why) {
      CompletableFuture<Echo> f = correlationId == null ? null : pending.remove(correlationId);
      if (f != null) {
        f.completeExceptionally(new IOException("request " + correlationId + " failed: " + why));
      }
    }

    @Override
    public void close() throws IOException {
      connection.abort(2000); // close, quietly and within 2 s even if the broker is gone
    }
  }
}
