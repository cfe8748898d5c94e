package dev.skiff.platform.transport.amqp;

import dev.skiff.platform.config.QueueType;
import dev.skiff.platform.config.Settings;
import dev.skiff.platform.internal.Redaction;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * Settings of an {@link AmqpTransport}. Immutable; start from {@link #of(String)} and change fields
 * with the {@code with*} methods.
 *
 * @param uri the broker, e.g. {@code amqp://guest:guest@localhost:5672}; for a cluster, the URIs of its
 *     nodes separated by commas, which must differ only in host and port (same scheme, user, password and
 *     virtual host): each connection, and each reconnection after a node is lost, tries them in a random
 *     order until one answers (docs/operations.md)
 * @param connectionName the name the broker shows for the connection
 * @param replyMode how replies come back
 * @param serviceQueueExpiry how long a service queue outlives its last consumer before the broker
 *     deletes it
 * @param assertUserId whether requests carry the connection's user name in the AMQP {@code user_id}
 *     property, which RabbitMQ validates, so that servers learn the caller's proven identity. On by
 *     default; off only for benchmarks: servers then treat the caller as unauthenticated (docs/security.md).
 *     Replies and events carry it whatever this says
 * @param maxInboundBytes the largest message body the connection accepts at all; the platform's own,
 *     smaller per-service limit answers with a clear error below this
 * @param consumerThreads threads that dispatch the replies and events of the transport's main
 *     connection (they only hand work over, never block); requests for the services served on the
 *     transport are dispatched on the reading thread of a connection of their own
 * @param messageTtl whether requests carry their remaining time as the AMQP per-message TTL
 *     ({@code expiration}), so that the broker discards a request still queued when its caller has given
 *     up; off, the server still drops such a request (unrun) when it takes it, and the broker does less
 *     work per message
 * @param deadLetters the bounds of each service's dead-letter queue, where the requests its instances
 *     cannot handle are set aside (docs/security.md "Hostile input")
 * @param queueType how the service queues, version queues and dead-letter queues declared on this
 *     transport are kept: classic (one node) or quorum (replicated over the cluster); a queue that already
 *     exists is used as it is, whatever its type
 * @param publisherConfirms whether requests are published with RabbitMQ publisher confirms. Off by
 *     default: the broker's confirm of every request costs it work on each call, and what a caller needs
 *     from it comes another way (docs/design-notes.md "Requests are sent without publisher confirms"): a
 *     request no queue takes comes back at once ({@code mandatory}: NOT_FOUND), one a full service queue
 *     refuses is dead-lettered to the service's refusal queue, whose instances answer CAPACITY, and a
 *     lost connection or publishing channel fails the calls waiting at once. On, a send also completes
 *     only when the broker has taken the request, and a refusal fails only the requests it concerns;
 *     needed for a service queue created with {@code reject-publish} by a Skiff before this setting
 */
public record AmqpOptions(
    String uri,
    String connectionName,
    ReplyMode replyMode,
    Duration serviceQueueExpiry,
    boolean assertUserId,
    int maxInboundBytes,
    int consumerThreads,
    boolean messageTtl,
    DeadLetters deadLetters,
    QueueType queueType,
    boolean publisherConfirms) {

  /**
   * The bounds of a service's dead-letter queue ({@link AmqpNames#deadLetterQueue}), fixed when the
   * queue is first created: past either bound the oldest dead letters are dropped (RabbitMQ
   * {@code x-max-length}, {@code x-max-length-bytes}, {@code x-overflow=drop-head}), and the queue is
   * deleted after it has gone unused (no instance started, nobody inspected it) for the expiry.
   *
   * @param maxMessages the most dead letters kept
   * @param maxBytes the most bytes of dead letters kept
   * @param expiry how long the queue outlives its last use
   */
  public record DeadLetters(int maxMessages, long maxBytes, Duration expiry) {
    /** The defaults: 10,000 dead letters, 256 MiB, 14 days. */
    public static final DeadLetters DEFAULTS = new DeadLetters(10_000, 256L << 20, Duration.ofDays(14));

    /** Checks the arguments. */
    public DeadLetters {
      Objects.requireNonNull(expiry, "expiry");
      if (maxMessages <= 0 || maxBytes <= 0 || expiry.isNegative() || expiry.isZero()) {
        throw new IllegalArgumentException("dead-letter bounds must be positive: " + maxMessages + " messages, " + maxBytes
            + " bytes, expiry " + expiry);
      }
    }
  }

  /** How a client receives its replies. */
  public enum ReplyMode {
    /**
     * An exclusive, auto-deleted queue per client channel. The default: it works on every AMQP 0-9-1
     * broker and measured about 12% faster than direct reply-to at 16 and 64 calls in flight.
     */
    REPLY_QUEUE,
    /** RabbitMQ's direct reply-to pseudo-queue ({@code amq.rabbitmq.reply-to}): no queue declared. */
    DIRECT_REPLY_TO
  }

  /** The broker used when nothing else is configured ({@link Settings#DEFAULT_AMQP_URI}). */
  public static final String DEFAULT_URI = Settings.DEFAULT_AMQP_URI;

  /** Checks the arguments. */
  public AmqpOptions {
    Objects.requireNonNull(uri, "uri");
    Objects.requireNonNull(connectionName, "connectionName");
    Objects.requireNonNull(replyMode, "replyMode");
    Objects.requireNonNull(serviceQueueExpiry, "serviceQueueExpiry");
    Objects.requireNonNull(deadLetters, "deadLetters");
    if (serviceQueueExpiry.isNegative() || serviceQueueExpiry.isZero()) {
      throw new IllegalArgumentException("serviceQueueExpiry must be positive: " + serviceQueueExpiry);
    }
    if (maxInboundBytes <= 0) {
      throw new IllegalArgumentException("maxInboundBytes must be positive: " + maxInboundBytes);
    }
    if (consumerThreads <= 0) {
      throw new IllegalArgumentException("consumerThreads must be positive: " + consumerThreads);
    }
    Objects.requireNonNull(queueType, "queueType");
    BrokerNodes.check(uri);
  }

  /** The URI without its password ({@link #redact}), and the other fields. */
  @Override
  public String toString() {
    return "AmqpOptions[uri=" + Redaction.of(uri) + ", connectionName=" + connectionName + ", replyMode=" + replyMode
        + ", serviceQueueExpiry=" + serviceQueueExpiry + ", assertUserId=" + assertUserId + ", maxInboundBytes="
        + maxInboundBytes + ", consumerThreads=" + consumerThreads + ", messageTtl=" + messageTtl + ", deadLetters="
        + deadLetters + ", queueType=" + queueType + ", publisherConfirms=" + publisherConfirms + "]";
  }

  /**
   * Defaults for a broker.
   *
   * @param uri the broker URI
   * @param uri the broker URI, or the URIs of a cluster's nodes separated by commas
   * @return options with defaults: reply queue, 1 h queue expiry, user id asserted, 64 MiB inbound
   *     limit, 2 consumer threads, per-message TTL on, dead-letter queues of {@link DeadLetters#DEFAULTS},
   *     quorum queues when the URI lists several nodes and classic queues otherwise, no publisher confirms
   */
  public static AmqpOptions of(String uri) {
    Objects.requireNonNull(uri, "uri");
    // a list of nodes is a cluster: its queues are replicated unless asked otherwise (docs/operations.md)
    QueueType type = BrokerNodes.split(uri).size() > 1 ? QueueType.QUORUM : QueueType.CLASSIC;
    return new AmqpOptions(
        uri, "skiff", ReplyMode.REPLY_QUEUE, Duration.ofHours(1), true, 64 << 20, 2, true, DeadLetters.DEFAULTS, type, false);
  }

  /**
   * @param type how the queues this transport declares are kept (see {@link #queueType()})
   * @return a copy
   */
  public AmqpOptions withQueueType(QueueType type) {
    return with(c -> c.queueType = type);
  }

  /** The fields of a copy being made, one of them changed ({@link #with}). */
  private static final class Copy {
    String uri;
    String connectionName;
    ReplyMode replyMode;
    Duration serviceQueueExpiry;
    boolean assertUserId;
    int maxInboundBytes;
    int consumerThreads;
    boolean messageTtl;
    DeadLetters deadLetters;
    QueueType queueType;
    boolean publisherConfirms;

    Copy(AmqpOptions o) {
      uri = o.uri;
      connectionName = o.connectionName;
      replyMode = o.replyMode;
      serviceQueueExpiry = o.serviceQueueExpiry;
      assertUserId = o.assertUserId;
      maxInboundBytes = o.maxInboundBytes;
      consumerThreads = o.consumerThreads;
      messageTtl = o.messageTtl;
      deadLetters = o.deadLetters;
      queueType = o.queueType;
      publisherConfirms = o.publisherConfirms;
    }

    AmqpOptions build() {
      return new AmqpOptions(uri, connectionName, replyMode, serviceQueueExpiry, assertUserId, maxInboundBytes, consumerThreads,
          messageTtl, deadLetters, queueType, publisherConfirms);
    }
  }

  /** @return a copy with what {@code change} sets changed, checked as any new options are */
  private AmqpOptions with(java.util.function.Consumer<Copy> change) {
    Copy c = new Copy(this);
    change.accept(c);
    return c.build();
  }

  /** @return the URI of each node {@link #uri()} lists, in its order (one for a single broker) */
  public List<String> nodeUris() {
    return BrokerNodes.split(uri);
  }

  /** @param name the connection name @return a copy */
  public AmqpOptions withConnectionName(String name) {
    return with(c -> c.connectionName = name);
  }

  /** @param mode the reply mode @return a copy */
  public AmqpOptions withReplyMode(ReplyMode mode) {
    return with(c -> c.replyMode = mode);
  }

  /** @param expiry the service queue expiry @return a copy */
  public AmqpOptions withServiceQueueExpiry(Duration expiry) {
    return with(c -> c.serviceQueueExpiry = expiry);
  }

  /** @param assert_ whether to assert the user id @return a copy */
  public AmqpOptions withAssertUserId(boolean assert_) {
    return with(c -> c.assertUserId = assert_);
  }

  /** @param bytes the inbound body limit @return a copy */
  public AmqpOptions withMaxInboundBytes(int bytes) {
    return with(c -> c.maxInboundBytes = bytes);
  }

  /** @param threads the consumer dispatch threads @return a copy */
  public AmqpOptions withConsumerThreads(int threads) {
    return with(c -> c.consumerThreads = threads);
  }

  /** @param ttl whether requests carry a per-message TTL (see {@link #messageTtl()}) @return a copy */
  public AmqpOptions withMessageTtl(boolean ttl) {
    return with(c -> c.messageTtl = ttl);
  }

  /** @param confirms whether requests are published with confirms (see {@link #publisherConfirms()}) @return a copy */
  public AmqpOptions withPublisherConfirms(boolean confirms) {
    return with(c -> c.publisherConfirms = confirms);
  }

  /** @param bounds the bounds of dead-letter queues created from now on @return a copy */
  public AmqpOptions withDeadLetters(DeadLetters bounds) {
    return with(c -> c.deadLetters = bounds);
  }

  /**
   * A URI, or a text with URIs in it (an error message), with every password replaced by {@code ***}, for
   * logs and errors: {@code amqp://guest:***@host:5672/vh}. The URI is split by its structure, not by a
   * pattern: its user-info runs from {@code scheme://} to the last {@code @} before the end of the line,
   * so a password holding {@code @ / : # ?} or spaces, percent-encoded or not, is hidden whole even when
   * the URI does not parse; the user name (before the first {@code :}) is kept, and user-info with no
   * {@code :} (a user alone, or a token) is hidden too. A URI in a text is found by its scheme
   * ({@code amqp://}, {@code https://}, ...); a value of one word without a scheme
   * ({@code user:password@host}) is hidden up to its last {@code @}.
   *
   * @param uri a broker URI, or a text containing URIs; null gives "null"
   * @return the same text with every URI's password hidden
   */
  public static String redact(String uri) {
    return Redaction.of(uri);
  }
}
