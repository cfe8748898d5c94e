package dev.skiff.kernel.discovery;

import dev.skiff.kernel.Bound;
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
 * service does not depend on the discovery service being up.
 *
 * <p><b>Bounded</b> ({@link Bound}, docs/security.md "Hostile input"): at most {@code maxCount} instances
 * and {@code maxBytes} bytes of announcements (their serialized size). At the bound an announcement of a
 * new instance is refused, and counted; the instances known are kept and go on being heard (a heartbeat
 * that would pass the byte bound keeps the instance's earlier announcement). Thread-safe; owns one named
 * thread.
 */
public final class Registry implements AutoCloseable {
  /** How long an instance that declared no expiry lives without announcements. */
  public static final Duration DEFAULT_EXPIRY = Duration.ofSeconds(6);
  /** How often expiry is checked. */
  public static final Duration SWEEP = Duration.ofMillis(250);
  /** The default bound: 10,000 instances, 32 MiB of announcements. */
  public static final Bound.Limits DEFAULT_LIMITS = new Bound.Limits(10_000, 32L << 20);

  private static final Comparator<InstanceInfo> ORDER =
      Comparator.comparing((InstanceInfo i) -> i.getAnnouncement().getService())
          .thenComparing(i -> i.getAnnouncement().getVersion())
          .thenComparing(i -> i.getAnnouncement().getInstance());

  private final Map<String, InstanceInfo> instances = new ConcurrentHashMap<>();
  private final List<Consumer<String>> listeners = new CopyOnWriteArrayList<>();
  private final Clock clock;
  private final ScheduledExecutorService sweeper;
  private final AtomicBoolean started = new AtomicBoolean();
  private final Bound bound;
  /** The serialized size of the instances held; guarded by {@code this}, as every change is. */
  private long bytes;
  private Transport.Subscription subscription;

  /**
   * @param env environment variables
   * @return the bound {@code SKIFF_REGISTRY_MAX_INSTANCES} and {@code SKIFF_REGISTRY_MAX_BYTES} set,
   *     by default {@link #DEFAULT_LIMITS}
   * @throws IllegalArgumentException naming a variable whose value is not a positive whole number
   */
  public static Bound.Limits limitsFromEnvironment(Map<String, String> env) {
    return Bound.Limits.fromEnvironment(env, "SKIFF_REGISTRY_MAX_INSTANCES", DEFAULT_LIMITS.maxCount(),
        "SKIFF_REGISTRY_MAX_BYTES", DEFAULT_LIMITS.maxBytes());
  }

  /** @param clock the time source; bounded by {@link #DEFAULT_LIMITS} */
  public Registry(Clock clock) {
    this(clock, new Bound("registry", DEFAULT_LIMITS, false));
  }

  /**
   * @param clock the time source
   * @param bound how many instances and bytes it holds at most
   */
  public Registry(Clock clock, Bound bound) {
    this.clock = Objects.requireNonNull(clock, "clock");
    this.bound = Objects.requireNonNull(bound, "bound");
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
    boolean changed;
    synchronized (this) {
      InstanceInfo before = instances.get(key);
      if (a.getState() == InstanceAnnouncement.State.STOPPING) {
        if (before == null) {
          return;
        }
        forget(key, before);
        changed = true;
      } else {
        InstanceInfo now = InstanceInfo.newBuilder().setAnnouncement(a).setLastSeenMs(clock.millis()).build();
        long size = bytes + now.getSerializedSize() - (before == null ? 0 : before.getSerializedSize());
        if (!bound.fits(instances.size() + (before == null ? 1 : 0), size)) {
          if (before == null) {
            bound.hit("an announcement of a new instance was refused");
            return;
          }
          bound.hit("a larger announcement of a known instance was refused (its earlier one is kept)");
          now = before.toBuilder().setLastSeenMs(clock.millis()).build();
          size = bytes;
        }
        instances.put(key, now);
        bytes = size;
        changed = before == null || !before.getAnnouncement().getVersion().equals(now.getAnnouncement().getVersion());
      }
      bound.holds(instances.size(), bytes);
    }
    if (changed) {
      fire(a.getService());
    }
  }

  /** Removes an instance unless it changed since it was read; the caller holds the lock. */
  private boolean forget(String key, InstanceInfo i) {
    if (!instances.remove(key, i)) {
      return false;
    }
    bytes -= i.getSerializedSize();
    return true;
  }

  /** Forgets the instances not heard from within their expiry. */
  public void expire() {
    long now = clock.millis();
    for (Map.Entry<String, InstanceInfo> e : instances.entrySet()) {
      InstanceInfo i = e.getValue();
      long ttl = i.getAnnouncement().getExpireAfterMs() > 0 ? i.getAnnouncement().getExpireAfterMs() : DEFAULT_EXPIRY.toMillis();
      if (now - i.getLastSeenMs() > ttl) {
        boolean gone;
        synchronized (this) {
          gone = forget(e.getKey(), i);
          bound.holds(instances.size(), bytes);
        }
        if (gone) {
          fire(i.getAnnouncement().getService());
        }
      }
    }
  }

  /** @return the registry's bound (its size, what it refused) */
  public Bound bound() {
    return bound;
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
