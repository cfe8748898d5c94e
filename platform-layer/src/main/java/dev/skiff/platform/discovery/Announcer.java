package dev.skiff.platform.discovery;

import dev.skiff.platform.internal.Lifecycle;
import dev.skiff.platform.internal.Threads;
import dev.skiff.platform.server.ServerBuilder;
import dev.skiff.platform.pubsub.PubSub;
import dev.skiff.platform.transport.Transport;
import dev.skiff.proto.v1.InstanceAnnouncement;
import java.time.Clock;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Announces one service instance on the platform's pub/sub: at once when started, then every heartbeat
 * interval, and a last time (state {@code STOPPING}) when closed, so that discovery deregisters a clean
 * stop at once and forgets an instance it has not heard from for {@code expireAfter} (a {@code kill -9}).
 * Events go to topic {@code discovery.instance.SERVICE}; with no discovery service running they are
 * dropped by the broker, so announcing costs nothing when there is no kernel.
 *
 * <p>{@link dev.skiff.platform.server.Server} starts one when its service starts (unless disabled with
 * {@code ServerBuilder.announce(false)}). Thread-safe; owns one named daemon thread; does not own the
 * transport. A failed publish (broker down) is logged and retried at the next heartbeat.
 */
public final class Announcer implements AutoCloseable {
  /** The topic prefix; the service name follows. */
  public static final String TOPIC_PREFIX = "discovery.instance.";
  /** The pattern that matches every announcement. */
  public static final String TOPIC_PATTERN = "discovery.instance.#";
  /** How often an instance announces itself unless told otherwise. */
  public static final Duration DEFAULT_HEARTBEAT = Duration.ofSeconds(2);
  /** How many missed heartbeats make an instance dead. */
  public static final int MISSED_HEARTBEATS = 3;

  private static final Logger log = LoggerFactory.getLogger(Announcer.class);


  private final PubSub events;
  private final InstanceAnnouncement template;
  private final Duration heartbeat;
  private final Clock clock;
  private final String topic;
  private final Lifecycle lifecycle;
  private final ScheduledExecutorService timer;

  /**
   * @param transport where to publish (not owned)
   * @param announcement what to announce: service, version, instance, host, start time, endpoints; the
   *     state, heartbeat, expiry and send time are filled in here
   * @param heartbeat how often to announce; the instance expires after {@value #MISSED_HEARTBEATS} of
   *     them are missed
   * @param clock the time source
   */
  public Announcer(Transport transport, InstanceAnnouncement announcement, Duration heartbeat, Clock clock) {
    Objects.requireNonNull(transport, "transport");
    Objects.requireNonNull(announcement, "announcement");
    Objects.requireNonNull(heartbeat, "heartbeat");
    if (heartbeat.isNegative() || heartbeat.isZero()) {
      throw new IllegalArgumentException("heartbeat must be positive: " + heartbeat);
    }
    this.events = new PubSub(transport);
    this.heartbeat = heartbeat;
    this.clock = Objects.requireNonNull(clock, "clock");
    this.template =
        announcement.toBuilder()
            .setHeartbeatMs(heartbeat.toMillis())
            .setExpireAfterMs(heartbeat.toMillis() * MISSED_HEARTBEATS)
            .build();
    this.topic = TOPIC_PREFIX + announcement.getService();
    this.lifecycle = new Lifecycle("announcer of " + announcement.getService() + " instance " + announcement.getInstance());
    this.timer =
        Executors.newSingleThreadScheduledExecutor(Threads.named("skiff-announcer-" + announcement.getService()));
  }

  /**
   * Announces now and then at every heartbeat.
   *
   * @return this
   * @throws IllegalStateException if started before
   */
  public Announcer start() {
    lifecycle.start(
        () -> timer.scheduleAtFixedRate(() -> send(InstanceAnnouncement.State.RUNNING), 0, heartbeat.toMillis(), TimeUnit.MILLISECONDS),
        timer::shutdownNow);
    return this;
  }

  /** @return what this announcer publishes (state RUNNING) */
  public InstanceAnnouncement announcement() {
    return template.toBuilder().setState(InstanceAnnouncement.State.RUNNING).build();
  }

  private void send(InstanceAnnouncement.State s) {
    try {
      events.publish(topic, template.toBuilder().setState(s).setSentMs(clock.millis()).build());
    } catch (RuntimeException e) {
      log.debug("announcement of {} not sent ({}); next at the next heartbeat", template.getInstance(), e.getMessage());
    }
  }

  /** Stops the heartbeats and announces that the instance is stopping. Idempotent. */
  @Override
  public void close() {
    Lifecycle.State was = lifecycle.beginClose();
    if (was == Lifecycle.State.CLOSED) {
      return;
    }
    timer.shutdownNow();
    try {
      timer.awaitTermination(1, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (was == Lifecycle.State.RUNNING) {
      send(InstanceAnnouncement.State.STOPPING);
    }
    lifecycle.closed();
  }
}
