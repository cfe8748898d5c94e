package dev.skiff.platform.transport;

/**
 * Moves requests and replies between clients and servers. Two implementations ship: RabbitMQ
 * ({@code dev.skiff.platform.transport.amqp.AmqpTransport}) and in-process
 * ({@code dev.skiff.platform.transport.inprocess.InProcessTransport}, for tests).
 *
 * <p>This is a service-provider interface: service authors pick a transport and hand it to a Server or
 * Client; they never call these methods themselves. Implementations are thread-safe.
 */
public interface Transport extends AutoCloseable {
  /** What a version may look like: it becomes part of queue names and routing keys. */
  java.util.regex.Pattern VERSION = java.util.regex.Pattern.compile("[A-Za-z0-9][A-Za-z0-9._+-]{0,63}");

  /**
   * Starts delivering requests for a service instance to a handler: those addressed to the service
   * (shared with its other instances) and those addressed to this instance alone.
   *
   * @param service the service's dotted name
   * @param instanceId this instance's id
   * @param options prefetch and queue bounds
   * @param handler receives each request
   * @return the binding, which stops delivery when closed
   */
  ServerBinding bind(String service, String instanceId, BindOptions options, InboundHandler handler);

  /**
   * How a service instance is bound.
   *
   * @param prefetch how many unsettled requests the transport may hand over at once per source
   * @param maxQueueDepth how many requests may wait for the service before new ones are refused with
   *     CAPACITY; 0 for no bound. Fixed when the service's queue is first created.
   * @param version the instance's version: it also takes the requests pinned to that version and the
   *     version's share under a routing rule (docs/routing.md); null for none
   * @param maxMessageBytes the largest request body the service takes: a transport may throw a larger
   *     one away as it arrives, unread ({@link Delivery#discardedBodyBytes()}); 0 for the transport's
   *     own limit
   */
  record BindOptions(int prefetch, int maxQueueDepth, String version, int maxMessageBytes) {
    /**
     * Without a version, with the transport's message size limit.
     *
     * @param prefetch see above
     * @param maxQueueDepth see above
     */
    public BindOptions(int prefetch, int maxQueueDepth) {
      this(prefetch, maxQueueDepth, null, 0);
    }

    /**
     * With the transport's message size limit.
     *
     * @param prefetch see above
     * @param maxQueueDepth see above
     * @param version see above
     */
    public BindOptions(int prefetch, int maxQueueDepth, String version) {
      this(prefetch, maxQueueDepth, version, 0);
    }

    /** Checks the arguments. */
    public BindOptions {
      if (version != null && !VERSION.matcher(version).matches()) {
        throw new IllegalArgumentException(
            "invalid version '" + version + "': use letters, digits, '.', '_', '+' and '-', e.g. 1.2.0");
      }
      if (prefetch <= 0) {
        throw new IllegalArgumentException("prefetch must be positive: " + prefetch);
      }
      if (maxQueueDepth < 0) {
        throw new IllegalArgumentException("maxQueueDepth must not be negative: " + maxQueueDepth);
      }
      if (maxMessageBytes < 0) {
        throw new IllegalArgumentException("maxMessageBytes must not be negative: " + maxMessageBytes);
      }
    }
  }

  /**
   * Opens a channel that sends requests and receives their replies.
   *
   * @param replies receives every reply, in any thread
   * @return the channel
   */
  ClientChannel openClient(ReplyListener replies);

  /**
   * Publishes an event on a topic: at most once, to every current subscription whose pattern matches.
   * Never blocks on subscribers; an event nobody subscribes to is dropped. The event carries this
   * transport's proven identity (see {@link EventListener#onEvent}).
   *
   * @param topic dot-separated words, e.g. {@code health.com.example.greeter}
   * @param contentType the body's encoding
   * @param body the event
   * @throws dev.skiff.platform.SkiffException UNAVAILABLE when the transport cannot take it
   */
  void publish(String topic, String contentType, byte[] body);

  /**
   * Subscribes to the events of every topic matching a pattern, where {@code *} stands for one word and
   * {@code #} for zero or more.
   *
   * @param pattern e.g. {@code health.#}
   * @param group null to receive every matching event; a name to share the events with every other
   *     subscription of that group (each event reaches one of them): how several copies of a kernel
   *     service split the work
   * @param listener receives the events, on a transport thread: must not block
   * @return the subscription; closing it stops delivery
   */
  Subscription subscribe(String pattern, String group, EventListener listener);

  /** Receives published events. */
  @FunctionalInterface
  interface EventListener {
    /**
     * @param topic the topic it was published on
     * @param contentType the body's encoding
     * @param body the event
     * @param sender the publisher's identity as the transport proves it (over RabbitMQ, the broker-validated
     *     {@code user_id}; in process, {@link dev.skiff.platform.security.ServiceIdentities#IN_PROCESS}), or
     *     null when the event carries none: then it proves nothing about who sent it
     */
    void onEvent(String topic, String contentType, byte[] body, String sender);
  }

  /**
   * Watches the connection that events travel on: told when it is lost (events published from then on
   * until it is back never arrive) and when it is back, with every subscription working again. What a
   * subscriber that must not miss an event uses to catch up (the token verifier's revocations). A
   * transport that never loses events (in process) never calls it.
   *
   * @param listener told of each loss and recovery, on a transport thread: must not block
   * @return closing it stops the notices
   */
  default Subscription watchConnection(ConnectionListener listener) {
    java.util.Objects.requireNonNull(listener, "listener");
    return () -> {};
  }

  /**
   * When a client channel can be opened and can send: at once normally; while the transport recovers
   * its broker connection, when the recovery has ended (sends refused in between fail NOT_SENT). A
   * client waits on it, within a call's deadline, instead of failing the call (or, before its first
   * call, opening its channel) while the broker restarts.
   *
   * @return a stage that completes when channels may be opened again; never fails
   */
  default java.util.concurrent.CompletableFuture<Void> whenReady() {
    return java.util.concurrent.CompletableFuture.completedFuture(null);
  }

  /** Hears of the loss and recovery of the connection events travel on ({@link #watchConnection}). */
  interface ConnectionListener {
    /** The connection is lost: events may be missed until {@link #recovered()}. */
    void lost();

    /** The connection is back and every subscription receives events again. */
    void recovered();
  }

  /** A subscription to events. */
  interface Subscription extends AutoCloseable {
    /** Stops delivery. Idempotent. */
    @Override
    void close();
  }

  /**
   * The broker topology behind routing by version and weight, for the binding service (docs/routing.md).
   * Owned by the transport: closed when it closes.
   *
   * @return the topology, or empty where this transport does not route by version and weight
   */
  default java.util.Optional<RoutingTopology> routing() {
    return java.util.Optional.empty();
  }

  /** @return a short description for logs and errors, e.g. the broker address (no password) */
  String describe();

  /** Closes the transport and everything opened through it. Idempotent. */
  @Override
  void close();

  /** Receives requests for a bound service instance. */
  @FunctionalInterface
  interface InboundHandler {
    /**
     * Called for each request, on a transport thread: must not block.
     *
     * @param request the request
     * @param delivery how to answer and settle it; exactly one of ack/requeue must follow
     */
    void onRequest(RequestMessage request, Delivery delivery);
  }

  /** One delivered request, to be answered and settled. */
  interface Delivery {
    /**
     * Sends a reply to the request's caller. Does nothing when the request has no reply address.
     *
     * @param reply the reply
     */
    void reply(ReplyMessage reply);

    /** Settles the request as done; it will not be delivered again. */
    void ack();

    /**
     * {@link #reply} and then {@link #ack}; a transport may send both at once.
     *
     * @param reply the reply
     */
    default void replyAndAck(ReplyMessage reply) {
      reply(reply);
      ack();
    }

    /**
     * Hands the request, not started, back to the service's queue for another instance (or this one
     * again). It arrives there as a fresh delivery, not as a redelivery: nothing of it has run.
     */
    void requeue();

    /** @return true if it was addressed to this instance alone, so a requeue cannot reach another */
    boolean instanceAddressed();

    /**
     * Whether the request's reply address belongs to its proven sender, so that a reply may go there
     * (docs/security.md "Hostile input"). Over RabbitMQ: a reply queue named for the sender's
     * broker-validated user, or a direct reply-to address; never another client's reply queue or a
     * durable queue that a request merely names. A request without a reply address passes (nothing is
     * sent). A server refuses a request that fails this, unanswered; the transport sends no reply there
     * whatever it is asked.
     *
     * @return whether a reply may be sent to the request's reply address; true by default
     */
    default boolean replyAddressAllowed() {
      return true;
    }

    /**
     * Whether this is not a request to run but one the service's full queue refused (over its
     * {@link BindOptions#maxQueueDepth}), which the transport hands over only so that it is answered:
     * the server answers it CAPACITY at once, whatever its state, and runs nothing.
     *
     * @return true for a refused request; false by default
     */
    default boolean overflowed() {
      return false;
    }

    /**
     * Whether this request was delivered before to a consumer that went away without settling it (an
     * instance that died, a connection that broke), so its handler may have run, in part or whole.
     *
     * @return true for such a redelivery
     */
    boolean redelivered();

    /**
     * How many times this request was delivered before to a consumer that went away without settling
     * it: the count a server compares with its delivery limit, so that a request that kills every
     * instance taking it is set aside rather than delivered for ever.
     *
     * @return the count; by default 1 for a redelivery, else 0
     */
    default int deliveries() {
      return redelivered() ? 1 : 0;
    }

    /**
     * The size of the request's body when the transport threw it away as it arrived, unread, for being
     * over the limit the service was bound with ({@link BindOptions#maxMessageBytes()}); the request's
     * body is then empty.
     *
     * @return the size in bytes, or 0 when the request has its body
     */
    default long discardedBodyBytes() {
      return 0;
    }

    /**
     * Settles a request no instance can handle by setting it aside where it is kept for people to
     * inspect and replay (over RabbitMQ, the service's dead-letter queue), with why: it is not delivered
     * again. Sends the reply first, when there is one and a reply address.
     *
     * @param reply the answer to the caller, or null for none
     * @param code a short code for why, e.g. {@code too-large}
     * @param reason why, in a sentence
     */
    default void setAside(ReplyMessage reply, String code, String reason) {
      if (reply != null) {
        reply(reply);
      }
      ack();
    }
  }

  /** Delivery of requests to one service instance. */
  interface ServerBinding extends AutoCloseable {
    /** Stops taking new requests; requests already handed over may still be answered and settled. */
    void stopConsuming();

    /**
     * Stops taking new requests, for now, from every source of the binding: the service's shared queue,
     * its version's queue, and the instance's own queue. Requests already handed over run on and are
     * answered and settled as usual. Requests for the service go to its other instances; while none is
     * taking them, they wait as they would for an instance to start (over RabbitMQ, in their queues).
     * Those addressed to this instance wait for {@link #resume}. Idempotent; does nothing once the binding
     * stopped consuming or closed.
     */
    void pause();

    /**
     * Takes requests again after {@link #pause}. Idempotent; does nothing unless paused, nor once the
     * binding stopped consuming or closed. {@link #stopConsuming} and {@link #close} work in either state.
     */
    void resume();

    /** Stops delivery and releases the binding's resources. Idempotent. */
    @Override
    void close();

    /**
     * How many requests set aside ({@link Delivery#setAside}) wait to be inspected: those of every
     * instance of the service. May ask the broker: not for a hot path.
     *
     * @return the count, or -1 when the transport keeps none or cannot tell now
     */
    default long setAsideWaiting() {
      return -1;
    }

    /**
     * Runs work that answers several requests one after another, holding back the writes of their
     * replies until it ends, so that they leave together (one system call, one segment for the broker)
     * rather than one by one. Only for work that does not block: replies held wait for all of it.
     *
     * @param batch answers requests on this thread
     */
    default void holdingWrites(Runnable batch) {
      batch.run();
    }

    /**
     * Sends at once, from this thread, the writes {@link #holdingWrites} holds back, and those the
     * transport's own delivering thread holds back (a transport may hold the replies of the handlers
     * it runs itself until it has delivered what has arrived): for work that runs longer than expected
     * (a handler that blocked), so that the replies already made reach their callers.
     */
    default void flushHeldWrites() {
      // nothing held back by default
    }
  }

  /** Sends requests; replies arrive at the {@link ReplyListener} given when it was opened. */
  interface ReplyListener {
    /**
     * Called for each reply, on a transport thread: must not block.
     *
     * @param reply the reply
     */
    void onReply(ReplyMessage reply);

    /**
     * Called when replies to requests already sent can no longer arrive (the connection, and with it
     * the reply queue, was lost). Calls waiting for them should fail now rather than at their deadline.
     *
     * @param reason why, for the error message
     */
    void onRepliesLost(String reason);

    /**
     * Called when the transport learns, after its {@link ClientChannel#send} completed, that one request
     * will get no reply: no queue took it (NOT_FOUND), for instance. Its call should fail now with the
     * error rather than at its deadline. Called on a transport thread: must not block.
     *
     * @param correlationId the request's correlation id
     * @param error why it will get no reply
     */
    void onUndeliverable(String correlationId, dev.skiff.platform.SkiffException error);
  }

  /** A sending channel. */
  interface ClientChannel extends AutoCloseable {
    /**
     * Sends a request. The returned stage completes when the transport has accepted it (for RabbitMQ,
     * when it is written to the connection, or, with publisher confirms, when the broker confirmed it),
     * or fails with a {@link dev.skiff.platform.SkiffException}: NOT_FOUND when no queue exists for the
     * target (a transport that learns this later reports it to {@link ReplyListener#onUndeliverable}),
     * UNAVAILABLE when the transport cannot take it, with
     * {@link dev.skiff.platform.SkiffException#progress()} {@link dev.skiff.platform.RpcProgress#NOT_SENT}
     * when the request certainly never left this process (the client may then send it again whatever
     * the endpoint).
     *
     * @param request the request; its reply address is filled in by the channel
     * @return completion of the hand-over, not of the call
     */
    java.util.concurrent.CompletableFuture<Void> send(RequestMessage request);

    /** Closes the channel. Idempotent. */
    @Override
    void close();
  }
}
