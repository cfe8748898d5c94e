package dev.skiff.cli;

import dev.skiff.platform.discovery.Announcer;
import dev.skiff.platform.health.ServiceMonitor;
import dev.skiff.platform.trace.SpanSink;
import dev.skiff.platform.transport.amqp.AmqpNames;

/**
 * The RabbitMQ permissions of a broker user, as the regular expressions RabbitMQ matches resource names
 * against (docs/security.md has them as a table): configure (declare, delete), write (publish to an
 * exchange, bind a queue), read (consume a queue, bind from an exchange), and the topic permissions on
 * the events exchange (which routing keys the user may publish events on).
 *
 * @param configure the configure regex
 * @param write the write regex
 * @param read the read regex
 * @param topicWrite the routing keys the user may publish on {@value AmqpNames#EVENTS_EXCHANGE}
 * @param topicRead the routing keys the user may bind to on {@value AmqpNames#EVENTS_EXCHANGE}
 */
record BrokerPermissions(String configure, String write, String read, String topicWrite, String topicRead) {
  /** Everything in the virtual host: the kernel's user and administrators. */
  static final BrokerPermissions ALL = new BrokerPermissions(".*", ".*", ".*", ".*", ".*");

  /** The event topics only the service they name may publish on: announcements, health, spans. */
  private static final String KERNEL_TOPICS =
      "(" + quote(trimDot(Announcer.TOPIC_PREFIX)) + "|" + quote(trimDot(ServiceMonitor.TOPIC_PREFIX)) + "|"
          + quote(trimDot(SpanSink.TOPIC_PREFIX)) + ")";

  /**
   * The least a service needs to serve and call (every name from {@link AmqpNames}): configure only its
   * own queues (shared, version, instance, its event groups, its dead letters, its refusals), its clients' reply
   * queues ({@code skiff.reply.S.*}, {@link AmqpNames#replyQueue}) and server-named ones (subscription
   * queues, {@code amq.gen-*}); write to the RPC and events exchanges, to the default exchange (replies
   * go to the caller's reply queue through it) and its own queues (to bind them); read (consume) only its
   * own queues, its reply queues and server-named ones, and bind from the two exchanges. Events about a
   * service (announcements, health, spans) only under its own name; any other event topic.
   *
   * @param service the service's name, which is also its broker user's
   * @return its permissions
   */
  static BrokerPermissions forService(String service) {
    return forService(service, service);
  }

  /**
   * The same for a service whose broker user has another name (the gateway's, {@code skiff-gateway} for
   * {@code skiff.gateway}): queues and event topics by the service's name, reply queues by the user's
   * (clients name them for the user they connect as).
   *
   * @param service the service's name
   * @param user its broker user
   * @return its permissions
   */
  static BrokerPermissions forService(String service, String user) {
    String s = quote(service);
    String own = quote(AmqpNames.serviceQueue(service)) + "|" + quote(prefix(AmqpNames.versionQueue(service, "x"))) + ".+|"
        + quote(prefix(AmqpNames.instanceQueue(service, "x"))) + ".+|" + quote(AmqpNames.eventGroupQueue(service)) + "(\\..+)?|"
        + quote(AmqpNames.deadLetterQueue(service)) + "|" + quote(AmqpNames.refusalQueue(service));
    String serverNamed = "amq\\.gen-.+";
    // its clients' reply queues: named for its user, then a name without a dot (so not another user's)
    String replies = quote(AmqpNames.REPLY_QUEUE_PREFIX + user + ".") + "[^.]+";
    String exchanges = quote(AmqpNames.RPC_EXCHANGE) + "|" + quote(AmqpNames.EVENTS_EXCHANGE);
    return new BrokerPermissions(
        "^(" + own + "|" + replies + "|" + serverNamed + ")$",
        "^(" + exchanges + "|amq\\.default|" + own + "|" + serverNamed + ")$",
        "^(" + exchanges + "|" + own + "|" + replies + "|" + serverNamed + "|amq\\.rabbitmq\\.reply-to)$",
        "^(?!" + KERNEL_TOPICS + "\\.).+$|^" + KERNEL_TOPICS + "\\." + s + "$",
        ".*");
  }

  /** {@code skiff.ver.S#x} to {@code skiff.ver.S#}: the fixed part of a name made with a placeholder. */
  private static String prefix(String nameWithX) {
    return nameWithX.substring(0, nameWithX.length() - 1);
  }

  private static String trimDot(String topicPrefix) {
    return topicPrefix.endsWith(".") ? topicPrefix.substring(0, topicPrefix.length() - 1) : topicPrefix;
  }

  /**
   * Escapes text for a RabbitMQ (PCRE) regular expression.
   *
   * @param text a literal name
   * @return a regex matching exactly it
   */
  static String quote(String text) {
    StringBuilder b = new StringBuilder(text.length() + 8);
    for (char c : text.toCharArray()) {
      if ("\\^$.|?*+()[]{}-#".indexOf(c) >= 0) {
        b.append('\\');
      }
      b.append(c);
    }
    return b.toString();
  }
}
