package dev.skiff.kernel.discovery;

import dev.skiff.kernel.Guard;
import dev.skiff.platform.discovery.Announcer;
import dev.skiff.platform.pubsub.PubSub;
import dev.skiff.platform.transport.Transport;
import dev.skiff.proto.v1.InstanceAnnouncement;
import dev.skiff.proto.v1.InstanceInfo;
import dev.skiff.platform.internal.Threads;
import java.time.Clock;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * The running service instances, as their announcements tell: an instance enters with its first
 * announcement, leaves at once with a STOPPING announcement (a clean stop), and is expired when nothing
 * was heard from it for the time it declared ({@code expire_after_ms}: three heartbeats, 6 s by
 * default) or, when it declared none, {@link #DEFAULT_EXPIRY}. Checked every {@link #SWEEP}.
 *
 * <p>Every copy of the discovery and binding services keeps its own registry from its own subscription
 * (every copy sees every announcement), so copies agree without talking to each other, and the binding
 * service does not depend on the discovery service being up. Thread-safe; owns one named thread.
 */
public final class Registry implements AutoCloseable {
  /** How long an instance that declared no expiry lives without announcements. */
  public static final Duration DEFAULT_EXPIRY = Duration.ofSeconds(6);
  /** How often expiry is checked. */
  public static final Duration SWEEP = Duration.ofMillis(250);

  private static final Comparator<InstanceInfo> ORDER =
      Comparator.comparing((InstanceInfo i) -> i.getAnnouncement().getService())
          .thenComparing(i -> i.getAnnouncement().getVersion())
          .thenComparing(i -> i.getAnnouncement().getInstance());

  private final Map<String, InstanceInfo> instances = new ConcurrentHashMap<>();
  private final List<Consumer<String>> listeners = new CopyOnWriteArrayList<>();
  private final Clock clock;
  private final ScheduledExecutorService sweeper;
  private final AtomicBoolean started = new AtomicBoolean();
  private Transport.Subscription subscription;

  /** @param clock the time source */
  public Registry(Clock clock) {
    this.clock = Objects.requireNonNull(clock, "clock");
    this.sweeper = Executors.newSingleThreadScheduledExecutor(Threads.named("skiff-registry-sweep"));
  }

  /**
   * Subscribes to announcements and starts expiring. An announcement for a service from a sender that
   * may not act as it is refused and counted ({@link Guard#ANNOUNCEMENT}).
   *
   * @param transport where announcements arrive (not owned)
   * @param guard who may announce which service
   * @return this
   * @throws IllegalStateException if started before
   */
  public Registry start(Transport transport, Guard guard) {
    if (!started.compareAndSet(false, true)) {
      throw new IllegalStateException("registry already started");
    }
    subscription = new PubSub(transport).subscribeWithSender(Announcer.TOPIC_PATTERN, null, InstanceAnnouncement.class,
        (topic, a, sender) -> {
          if (guard.mayActAs(Guard.ANNOUNCEMENT, sender, a.getService())) {
            apply(a);
          }
        });
    sweeper.scheduleAtFixedRate(this::expire, SWEEP.toMillis(), SWEEP.toMillis(), TimeUnit.MILLISECONDS);
    return this;
  }

  /**
   * Calls a listener with the service's name whenever an instance of it comes or goes.
   *
   * @param listener receives the service name, on the registry's threads: must not block
   */
  public void onChange(Consumer<String> listener) {
    listeners.add(Objects.requireNonNull(listener, "listener"));
  }

  /**
   * Takes one announcement into account.
   *
   * @param a the announcement
   */
  public void apply(InstanceAnnouncement a) {
    if (a.getService().isEmpty() || a.getInstance().isEmpty()) {
      return;
    }
    String key = a.getService() + "@" + a.getInstance();
    if (a.getState() == InstanceAnnouncement.State.STOPPING) {
      if (instances.remove(key) != null) {
        fire(a.getService());
      }
      return;
    }
    InstanceInfo before =
        instances.put(key, InstanceInfo.newBuilder().setAnnouncement(a).setLastSeenMs(clock.millis()).build());
    if (before == null || !before.getAnnouncement().getVersion().equals(a.getVersion())) {
      fire(a.getService());
    }
  }

  /** Forgets the instances not heard from within their expiry. */
  public void expire() {
    long now = clock.millis();
    for (Map.Entry<String, InstanceInfo> e : instances.entrySet()) {
      InstanceInfo i = e.getValue();
      long ttl = i.getAnnouncement().getExpireAfterMs() > 0 ? i.getAnnouncement().getExpireAfterMs() : DEFAULT_EXPIRY.toMillis();
      if (now - i.getLastSeenMs() > ttl && instances.remove(e.getKey(), i)) {
        fire(i.getAnnouncement().getService());
      }
    }
  }

  private void fire(String service) {
    for (Consumer<String> l : listeners) {
      l.accept(service);
    }
  }

  /**
   * @param service a service, or null or empty for all
   * @return its running instances, sorted by service, version, instance
   */
  public List<InstanceInfo> list(String service) {
    return instances.values().stream()
        .filter(i -> service == null || service.isEmpty() || i.getAnnouncement().getService().equals(service))
        .sorted(ORDER)
        .toList();
  }

  /**
   * @param service a service
   * @return how many instances of each of its versions run
   */
  public Map<String, Integer> versions(String service) {
    Map<String, Integer> v = new java.util.TreeMap<>();
    for (InstanceInfo i : list(service)) {
      v.merge(i.getAnnouncement().getVersion(), 1, Integer::sum);
    }
    return v;
  }

  /** @return the names of the services with a running instance */
  public java.util.Set<String> services() {
    java.util.Set<String> s = new java.util.TreeSet<>();
    instances.values().forEach(i -> s.add(i.getAnnouncement().getService()));
    return s;
  }

  /** @return the time source */
  public Clock clock() {
    return clock;
  }

  /** Stops listening and expiring. Idempotent. */
  @Override
  public void close() {
    Transport.Subscription s = subscription;
    if (s != null) {
      s.close();
    }
    sweeper.shutdownNow();
  }
}
