package dev.skiff.platform.config;

import java.util.Locale;
import java.util.Optional;

/**
 * How the queues a service's requests wait in (its service queue, its version queues and its
 * dead-letter queue) are kept by the broker: on one node, or replicated over a cluster. Set per service
 * process with {@code SKIFF_QUEUE_TYPE} ({@link Settings}); docs/operations.md says which to choose.
 */
public enum QueueType {
  /**
   * RabbitMQ's classic queue: held by one node. The fastest; on a single broker nothing is lost by it.
   * On a cluster, while that node is down the queue is unavailable, the requests in it are out of reach
   * (lost, if the node does not come back), and the service's instances cannot consume from it.
   */
  CLASSIC,
  /**
   * RabbitMQ's quorum queue: replicated over three nodes (Raft), so it keeps serving, with the requests
   * already in it, when one node dies. Slower than classic (every request is written to a majority's
   * disk log before it is confirmed).
   */
  QUORUM;

  /** @return the value of RabbitMQ's {@code x-queue-type} argument: {@code classic} or {@code quorum} */
  public String amqpName() {
    return name().toLowerCase(Locale.ROOT);
  }

  /**
   * Reads a value as {@code SKIFF_QUEUE_TYPE} spells it.
   *
   * @param value {@code classic} or {@code quorum}, in any case; blank or null for none
   * @return the type, empty for a blank value
   * @throws IllegalArgumentException naming {@code SKIFF_QUEUE_TYPE} for any other value
   */
  public static Optional<QueueType> parse(String value) {
    if (value == null || value.isBlank()) {
      return Optional.empty();
    }
    return switch (value.trim().toLowerCase(Locale.ROOT)) {
      case "classic" -> Optional.of(CLASSIC);
      case "quorum" -> Optional.of(QUORUM);
      // the value is a setting, not a secret, but bound what is echoed
      default -> throw new IllegalArgumentException("SKIFF_QUEUE_TYPE must be 'classic' or 'quorum', not '"
          + (value.length() > 40 ? value.substring(0, 40) + "..." : value) + "'");
    };
  }
}
