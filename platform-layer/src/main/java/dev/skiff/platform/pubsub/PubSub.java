package dev.skiff.platform.pubsub;

import com.google.protobuf.Message;
import dev.skiff.platform.internal.Codec;
import dev.skiff.platform.transport.ContentTypes;
import dev.skiff.platform.transport.Transport;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Typed publish/subscribe of protobuf events over a transport: how services announce themselves, publish
 * their health, and ship trace spans, each on its own topic (e.g. {@code health.com.example.greeter}).
 * Delivery is at most once; an event published while nobody subscribes is dropped.
 *
 * <pre>{@code
 * PubSub events = new PubSub(transport);
 * try (Transport.Subscription s = events.subscribe("health.#", null, HealthReport.class,
 *     (topic, report) -> latest.put(report.getInstance(), report))) {
 *   events.publish("health." + service, report);
 * }
 * }</pre>
 *
 * <p>Thread-safe. Does not own the transport.
 */
public final class PubSub {
  private static final Logger log = LoggerFactory.getLogger(PubSub.class);

  private final Transport transport;
  private final AtomicLong malformed = new AtomicLong();

  /** @param transport the transport to publish and subscribe on */
  public PubSub(Transport transport) {
    this.transport = Objects.requireNonNull(transport, "transport");
  }

  /**
   * Publishes an event.
   *
   * @param topic dot-separated words
   * @param event the event
   * @throws dev.skiff.platform.SkiffException UNAVAILABLE when the transport cannot take it
   */
  public void publish(String topic, Message event) {
    transport.publish(topic, ContentTypes.PROTOBUF, event.toByteArray());
  }

  /**
   * Subscribes to events of one type. Events that do not decode as that type are counted
   * ({@link #malformedEvents()}), logged and skipped.
   *
   * @param pattern topic pattern: {@code *} one word, {@code #} zero or more
   * @param group null for every event, or a group name to share the events among its members
   * @param type the event's class
   * @param handler receives the topic and the event, on a transport thread: must not block
   * @param <T> the event type
   * @return the subscription
   */
  public <T extends Message> Transport.Subscription subscribe(
      String pattern, String group, Class<T> type, BiConsumer<String, T> handler) {
    Objects.requireNonNull(handler, "handler");
    return subscribeWithSender(pattern, group, type, (topic, event, sender) -> handler.accept(topic, event));
  }

  /** Receives the events of one type with their senders. */
  @FunctionalInterface
  public interface SenderAwareHandler<T> {
    /**
     * @param topic the topic it was published on
     * @param event the event
     * @param sender the publisher's identity as the transport proves it, or null when unknown (see
     *     {@link Transport.EventListener#onEvent}): what a receiver checks before it believes an event
     *     about a service ({@link dev.skiff.platform.security.ServiceIdentities#mayActAs})
     */
    void onEvent(String topic, T event, String sender);
  }

  /**
   * Subscribes to events of one type, learning who sent each. Events that do not decode as that type
   * are counted ({@link #malformedEvents()}), logged and skipped.
   *
   * @param pattern topic pattern: {@code *} one word, {@code #} zero or more
   * @param group null for every event, or a group name to share the events among its members
   * @param type the event's class
   * @param handler receives the topic, the event and its sender, on a transport thread: must not block
   * @param <T> the event type
   * @return the subscription
   */
  public <T extends Message> Transport.Subscription subscribeWithSender(
      String pattern, String group, Class<T> type, SenderAwareHandler<T> handler) {
    T prototype = com.google.protobuf.Internal.getDefaultInstance(type);
    return transport.subscribe(pattern, group, (topic, contentType, body, sender) -> {
      T event;
      try {
        event = Codec.decode(body, contentType, prototype);
      } catch (RuntimeException e) {
        malformed.incrementAndGet();
        log.warn("skipped an event on {} that is not a {}: {}", topic, type.getSimpleName(), e.getMessage());
        return;
      }
      handler.onEvent(topic, event, sender);
    });
  }

  /** @return how many events were skipped because they did not decode */
  public long malformedEvents() {
    return malformed.get();
  }
}
