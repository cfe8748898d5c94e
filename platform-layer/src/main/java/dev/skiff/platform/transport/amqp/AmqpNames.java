package dev.skiff.platform.transport.amqp;

/**
 * Every name Skiff gives to RabbitMQ objects: exchanges, queues and routing keys (docs/wire-protocol.md,
 * docs/routing.md). The one place these rules live; the transport, the binding service's topology and
 * the tests all name things through here.
 *
 * <pre>
 *   skiff.rpc                         direct exchange every request is published to
 *   skiff.events                      topic exchange for events
 *   skiff.svc.S                       queue of service S, shared by its instances
 *   skiff.ver.S#V                     queue of version V of S, shared by that version's instances
 *   skiff.inst.S@I                    queue of instance I of S, exclusive to it
 *   skiff.dead.S                      queue of the requests of S set aside (dead letters), shared
 *   skiff.route.S                     consistent-hash exchange splitting S between versions under a rule
 *   skiff.route.S#V=P                 fanout exchange carrying version V's share of P percent into it
 *   skiff.events.G                    queue shared by the subscribers of event group G
 *   skiff.reply.U.N                   reply queue N of a client connected as broker user U, exclusive to it
 *   keys: S (any instance), S#V (version V), S@I (instance I)
 * </pre>
 */
public final class AmqpNames {
  /** The exchange every request is published to. */
  public static final String RPC_EXCHANGE = "skiff.rpc";
  /** The topic exchange events are published to. */
  public static final String EVENTS_EXCHANGE = "skiff.events";
  /**
   * RabbitMQ's direct reply-to pseudo-queue: a request sent with this reply address by a channel that
   * consumes from it arrives with an address the broker made for that channel
   * ({@value #DIRECT_REPLY_TO}{@code .…}), which only that channel receives from.
   */
  public static final String DIRECT_REPLY_TO = "amq.rabbitmq.reply-to";
  /** The start of every client reply queue's name: {@code skiff.reply.USER.NAME}. */
  public static final String REPLY_QUEUE_PREFIX = "skiff.reply.";
  /** The longest queue name the broker takes, in bytes. */
  static final int MAX_QUEUE_NAME_BYTES = 255;

  private AmqpNames() {}

  /**
   * @param service the service
   * @return the queue of the service, shared by its instances
   */
  public static String serviceQueue(String service) {
    return "skiff.svc." + service;
  }

  /**
   * The queue of one version of a service, shared by that version's instances: it takes the requests
   * pinned to the version (routing key {@link #versionKey}) and, under a routing rule, the version's
   * share of the service's traffic (docs/routing.md).
   *
   * <p>The version follows a {@code #}, which no service name has, as in the version's routing key: with a
   * dot, {@code a.b} at version {@code c.1} and {@code a.b.c} at version {@code 1} would share a queue.
   *
   * @param service the service
   * @param version the version
   * @return the queue name
   */
  public static String versionQueue(String service, String version) {
    return "skiff.ver." + service + "#" + version;
  }

  /**
   * @param service the service
   * @param instanceId the instance
   * @return the queue of one instance, exclusive to it; the instance follows an {@code @}, which no service
   *     name has, as in the instance's routing key
   */
  public static String instanceQueue(String service, String instanceId) {
    return "skiff.inst." + service + "@" + instanceId;
  }

  /**
   * The queue where a service's instances set aside the requests none of them can handle (dead
   * letters, docs/security.md "Hostile input"): bounded, never consumed by the service itself.
   *
   * @param service the service
   * @return the queue name
   */
  public static String deadLetterQueue(String service) {
    return "skiff.dead." + service;
  }

  /**
   * The queue the broker dead-letters the requests a full service queue refused (or, for a quorum queue,
   * the oldest it dropped to take a new one) into: the service's instances consume it and answer each
   * with CAPACITY, so that its caller learns at once without publisher confirms (docs/design-notes.md
   * "Requests are sent without publisher confirms"). Declared only for a service with a bounded queue.
   *
   * @param service the service
   * @return the queue name
   */
  public static String refusalQueue(String service) {
    return "skiff.refused." + service;
  }

  /**
   * The reply queue of a client connected as a broker user: bound to that user by its name, so that a
   * service can tell whether a request's reply address is its caller's own ({@link #isReplyAddressOf}),
   * and so that a user's permissions can give it its own reply queues only (docs/security.md).
   *
   * @param user the broker user the client connects as
   * @param name a name unique among the user's reply queues, without a dot
   * @return the queue name, {@code skiff.reply.USER.NAME}
   * @throws IllegalArgumentException if the name is empty or has a dot, or the queue name is longer than
   *     the broker takes (255 bytes)
   */
  public static String replyQueue(String user, String name) {
    if (name.isEmpty() || name.indexOf('.') >= 0) {
      throw new IllegalArgumentException("a reply queue's own name must be non-empty and have no dot: " + name);
    }
    String q = REPLY_QUEUE_PREFIX + user + "." + name;
    if (q.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > MAX_QUEUE_NAME_BYTES) {
      throw new IllegalArgumentException(
          "the broker user name is too long for a reply queue name (at most " + (MAX_QUEUE_NAME_BYTES - q.length() + user.length())
              + " characters)");
    }
    return q;
  }

  /**
   * @param queue a queue name
   * @return whether it is a client reply queue's ({@link #replyQueue}), whoever's
   */
  static boolean isReplyQueueName(String queue) {
    return queue.startsWith(REPLY_QUEUE_PREFIX) && queue.lastIndexOf('.') > REPLY_QUEUE_PREFIX.length();
  }

  /**
   * The same user's reply queue under another name: what a reply queue is declared as again when its
   * connection recovers.
   *
   * @param replyQueue a reply queue's name ({@link #isReplyQueueName})
   * @param name the new own name, without a dot
   * @return the reply queue of the same user with that name
   */
  static String renamedReplyQueue(String replyQueue, String name) {
    return replyQueue.substring(0, replyQueue.lastIndexOf('.') + 1) + name;
  }

  /**
   * Whether a request's reply address belongs to its proven sender, so that a service may publish its
   * reply there: a reply queue of the sender's broker user ({@link #replyQueue}: the prefix with the user,
   * then a name without a dot, so that user {@code a} cannot name a queue of user {@code a.b}), or a
   * direct reply-to address, which the broker delivers only to the channel that sent the request. Any
   * other address (another client's reply queue, a durable queue such as the routing-rule stream, a
   * server-named queue, which names no owner) is not.
   *
   * @param replyTo the request's reply address (not empty)
   * @param user the sender's broker-validated user, or null when the request proves none (then only
   *     direct reply-to)
   * @return whether a reply may go there
   */
  public static boolean isReplyAddressOf(String replyTo, String user) {
    if (replyTo.startsWith(DIRECT_REPLY_TO) && replyTo.length() > DIRECT_REPLY_TO.length() + 1
        && replyTo.charAt(DIRECT_REPLY_TO.length()) == '.') {
      return true;
    }
    if (user == null || user.isEmpty()) {
      return false;
    }
    int from = REPLY_QUEUE_PREFIX.length() + user.length() + 1;
    return replyTo.length() > from
        && replyTo.startsWith(REPLY_QUEUE_PREFIX)
        && replyTo.startsWith(user, REPLY_QUEUE_PREFIX.length())
        && replyTo.charAt(from - 1) == '.'
        && replyTo.indexOf('.', from) < 0;
  }

  /**
   * @param group a subscription group
   * @return the queue the group's subscribers share
   */
  public static String eventGroupQueue(String group) {
    return "skiff.events." + group;
  }

  /**
   * @param service the service
   * @return the routing key that reaches any instance of the service, as its routing rule says
   */
  public static String serviceKey(String service) {
    return service;
  }

  /**
   * @param source a binding's source exchange
   * @param destination its destination
   * @param routingKey its routing key
   * @return whether it is a service queue's binding to the RPC exchange (the one a routing rule replaces)
   */
  static boolean isServiceQueueBinding(String source, String destination, String routingKey) {
    return RPC_EXCHANGE.equals(source) && routingKey != null && destination.equals(serviceQueue(routingKey));
  }

  /**
   * @param service the service
   * @param version the version
   * @return the routing key that reaches any instance of one version of a service
   */
  public static String versionKey(String service, String version) {
    return service + "#" + version;
  }

  /**
   * @param service the service
   * @param instanceId the instance
   * @return the routing key that reaches one instance of a service
   */
  public static String instanceKey(String service, String instanceId) {
    return service + "@" + instanceId;
  }

  /**
   * The routing key of a request: to one instance, else to one version, else to the service.
   *
   * @param service the service
   * @param instanceId the instance addressed, or null
   * @param version the version pinned, or null
   * @return the routing key
   */
  public static String requestKey(String service, String instanceId, String version) {
    if (instanceId != null) {
      return instanceKey(service, instanceId);
    }
    return version != null ? versionKey(service, version) : serviceKey(service);
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
   * @param service the service
   * @param version one of its versions
   * @param percent the version's weight
   * @return the fanout exchange that takes that version's share into the route exchange
   */
  public static String shareExchange(String service, String version, int percent) {
    return routeExchange(service) + "#" + version + "=" + percent;
  }

  /**
   * What a routing key addresses, read back from a returned (unroutable) request.
   *
   * @param routingKey a key made by {@link #requestKey}
   * @return what it names, for an error message: "service S", "version V of service S" or
   *     "instance I of service S"
   */
  public static String describeKey(String routingKey) {
    int hash = routingKey.indexOf('#');
    if (hash >= 0) {
      return "version " + routingKey.substring(hash + 1) + " of service " + routingKey.substring(0, hash);
    }
    int at = routingKey.indexOf('@');
    if (at >= 0) {
      return "instance " + routingKey.substring(at + 1) + " of service " + routingKey.substring(0, at);
    }
    return "service " + routingKey;
  }

  /**
   * @param routingKey a key made by {@link #requestKey}
   * @return the service it addresses
   */
  public static String serviceOfKey(String routingKey) {
    int end = routingKey.length();
    for (int i = 0; i < routingKey.length(); i++) {
      char c = routingKey.charAt(i);
      if (c == '#' || c == '@') {
        end = i;
        break;
      }
    }
    return routingKey.substring(0, end);
  }
}
