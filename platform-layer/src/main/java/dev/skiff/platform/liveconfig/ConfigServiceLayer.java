package dev.skiff.platform.liveconfig;

import com.codahale.metrics.Counter;
import com.codahale.metrics.MetricRegistry;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.config.ConfigException;
import dev.skiff.platform.config.ConfigSource;
import dev.skiff.platform.internal.Printable;
import dev.skiff.platform.internal.Threads;
import dev.skiff.platform.pubsub.PubSub;
import dev.skiff.platform.security.ServiceIdentities;
import dev.skiff.platform.transport.Transport;
import dev.skiff.proto.v1.ConfigChanged;
import dev.skiff.proto.v1.ConfigView;
import dev.skiff.proto.v1.GetConfigRequest;
import java.io.IOException;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The layer of a service's configuration that the config service ({@value #SERVICE}) feeds: the merged
 * view of its layers for this service, region and environment, followed live.
 *
 * <ul>
 *   <li><b>Start.</b> {@link #start} reads the view, waiting up to {@link LiveConfigOptions#firstRead()};
 *       when the config service cannot answer, the instance starts from its last good copy (kept locally,
 *       {@link LiveConfigOptions#cacheDir()}) or, with none, from no values of this layer, and keeps
 *       trying (every 0.5 s, backing off to 10 s) until it catches up.
 *   <li><b>Changes.</b> The config service publishes {@link ConfigChanged} on {@value #CHANGED_TOPIC} after
 *       each change; an event about a layer this instance sees (believed only from a sender that may act
 *       as {@value #SERVICE}) makes it read its view again, so a change is in force within milliseconds.
 *       The view is also read again every {@link LiveConfigOptions#resync()}, which makes good an event
 *       lost while the broker was away.
 *   <li><b>Whole views only.</b> A view replaces the previous one as one value, so a reader sees all of a
 *       change or none of it; a view the service's own validators reject ({@link #checkWith}) is not
 *       taken (counted in {@code skiff.config.refused}, the last good one stays); an older view than the
 *       one held (from a lagging copy of the config service) is ignored.
 * </ul>
 *
 * <p>Thread-safe. Reads and notifications happen on the layer's own thread.
 */
public final class ConfigServiceLayer implements ConfigSource {
  /** The config service. */
  public static final String SERVICE = "skiff.config";
  /** The topic the config service publishes {@link ConfigChanged} on. */
  public static final String CHANGED_TOPIC = "config.changed";

  private static final Logger log = LoggerFactory.getLogger(ConfigServiceLayer.class);
  private static final long RETRY_MIN_MS = 500;
  private static final long RETRY_MAX_MS = 10_000;

  /** The view held: its version, JSON and values; live when it came from the config service. */
  private record View(long version, String json, Map<String, String> values, boolean live) {}

  private final Client client;
  private final PubSub events;
  private final ServiceIdentities identities;
  private final String service;
  private final LiveConfigOptions options;
  private final GetConfigRequest request;
  private final Set<String> layerKeys;
  private final LastGoodCopy copy;
  private final ScheduledExecutorService thread;
  private final Counter refused;
  private final Counter refusedEvents;
  private final Object lock = new Object();
  private volatile View view = new View(0, "", Map.of(), false);
  private volatile Runnable changed = () -> {};
  private volatile Consumer<Map<String, String>> check = values -> {};
  private boolean fetching;
  private boolean again;
  private boolean closed;
  private boolean outage;
  private long retryMs = RETRY_MIN_MS;
  /** The last version refused here: not taken again at a resync (each newer one is looked at). */
  private volatile long refusedVersion = -1;
  private ScheduledFuture<?> next;
  private Transport.Subscription subscription;

  private ConfigServiceLayer(Client client, Transport transport, ServiceIdentities identities, MetricRegistry metrics,
      String service, LiveConfigOptions options) {
    this.client = Objects.requireNonNull(client, "client");
    this.events = new PubSub(transport);
    this.identities = Objects.requireNonNull(identities, "identities");
    this.service = Objects.requireNonNull(service, "service");
    this.options = Objects.requireNonNull(options, "options");
    this.request = GetConfigRequest.newBuilder().setService(service).setRegion(options.region().orElse(""))
        .setEnv(options.env().orElse("")).build();
    this.layerKeys = layerKeys(service, options.region(), options.env());
    this.copy = options.cacheDir().map(d -> new LastGoodCopy(d, service, options.region().orElse(null), options.env().orElse(null),
        transport.describe()))
        .orElse(null);
    this.thread = Executors.newSingleThreadScheduledExecutor(Threads.named("skiff-config-" + service));
    this.refused = metrics.counter("skiff.config.refused");
    this.refusedEvents = metrics.counter("skiff.config.refused-events");
    metrics.gauge("skiff.config.version", () -> () -> view.version());
    metrics.gauge("skiff.config.live", () -> () -> view.live() ? 1 : 0);
  }

  /**
   * Reads this service's view from the config service (or, when it cannot answer in time, from the last
   * good copy) and returns the layer holding it. Changes are followed once {@link #watch} is called
   * (which {@link dev.skiff.platform.config.LayeredConfig.Builder#build()} does).
   *
   * @param client the service's client (its calls are how the config service knows who asks)
   * @param transport the transport change events arrive on
   * @param identities who may speak for the config service
   * @param metrics where its counters go
   * @param service the service whose configuration this is
   * @param options region, environment, local copy, waits
   * @return the layer
   */
  public static ConfigServiceLayer start(Client client, Transport transport, ServiceIdentities identities, MetricRegistry metrics,
      String service, LiveConfigOptions options) {
    ConfigServiceLayer layer = new ConfigServiceLayer(client, transport, identities, metrics, service, options);
    layer.firstRead();
    return layer;
  }

  /** The keys of the layers an instance of this service, region and environment sees. */
  private static Set<String> layerKeys(String service, Optional<String> region, Optional<String> env) {
    Set<String> keys = new LinkedHashSet<>();
    keys.add("global");
    keys.add("service/" + service);
    region.ifPresent(r -> {
      keys.add("region/" + r);
      keys.add("region/" + r + "/service/" + service);
    });
    env.ifPresent(e -> {
      keys.add("env/" + e);
      keys.add("env/" + e + "/service/" + service);
    });
    return Set.copyOf(keys);
  }

  private void firstRead() {
    try {
      ConfigView v = client.call(SERVICE, "get", request, ConfigView.class, CallOptions.timeout(options.firstRead()).withIdempotent(true));
      if (take(v.getVersion(), v.getJson(), true)) {
        log.info("config: {} starts from version {} of the config service", service, v.getVersion());
      }
    } catch (SkiffException e) {
      outage = true;
      Optional<LastGoodCopy.View> saved = readCopy();
      if (saved.isPresent() && take(saved.get().version(), saved.get().json(), false)) {
        log.warn("config: the config service cannot answer ({}): {} starts from its last good copy, version {} ({}), and catches up "
            + "when the config service is back", e.code(), service, saved.get().version(), copy.file());
      } else if (e.code() == ErrorCode.BAD_REQUEST || e.code() == ErrorCode.UNAUTHORIZED || e.code() == ErrorCode.FORBIDDEN) {
        log.error("config: the config service refused {}'s view ({}: {}): it starts without that layer", service, e.code(),
            e.description());
      } else {
        log.warn("config: the config service cannot answer ({}) and {} has no last good copy: it starts without that layer "
            + "and catches up when the config service is back", e.code(), service);
      }
    }
  }

  private Optional<LastGoodCopy.View> readCopy() {
    if (copy == null) {
      return Optional.empty();
    }
    try {
      return copy.read();
    } catch (IOException e) {
      log.warn("config: the last good copy cannot be used: {}", e.getMessage());
      return Optional.empty();
    }
  }

  /** Takes a view if it parses and the service's checks accept it; true when taken. */
  private boolean take(long version, String json, boolean live) {
    Map<String, String> values;
    try {
      values = JsonTrees.flatten(json);
      check.accept(values);
    } catch (IllegalArgumentException e) {
      refused.inc();
      refusedVersion = version;
      log.warn("config: version {} for {} is refused here, version {} stays in force: {}", version, service, view.version(),
          e.getMessage());
      return false;
    }
    view = new View(version, json, Map.copyOf(values), live);
    if (live && copy != null) {
      try {
        copy.write(new LastGoodCopy.View(version, json));
      } catch (IOException e) {
        log.warn("config: the last good copy cannot be kept at {}: {}", copy.file(), e.getMessage());
      }
    }
    return true;
  }

  /**
   * Sets the check a view must pass to be taken (the service's validators).
   *
   * @param check throws {@link ConfigException} or {@link IllegalArgumentException} to refuse values
   */
  public void checkWith(Consumer<Map<String, String>> check) {
    this.check = Objects.requireNonNull(check, "check");
  }

  @Override
  public String name() {
    return "config service " + SERVICE;
  }

  @Override
  public Map<String, String> read() {
    return view.values();
  }

  /** @return the version of the view in force (0 before any) */
  public long version() {
    return view.version();
  }

  /** @return whether the view came from the config service (not from the last good copy or nowhere) */
  public boolean live() {
    return view.live();
  }

  @Override
  public void watch(Runnable onChange) {
    this.changed = Objects.requireNonNull(onChange, "onChange");
    synchronized (lock) {
      if (closed) {
        return;
      }
      subscription = events.subscribeWithSender(CHANGED_TOPIC, null, ConfigChanged.class, (topic, event, sender) -> onEvent(event, sender));
      schedule(outage ? RETRY_MIN_MS : options.resync().toMillis());
    }
    // a change made between the first read and the subscription is not missed
    fetch();
  }

  private void onEvent(ConfigChanged event, String sender) {
    if (!identities.mayActAs(sender, SERVICE)) {
      refusedEvents.inc();
      log.warn("config: ignored a change event from {}: only {} may send it",
          sender == null ? "a sender with no proven identity" : "broker user '" + Printable.of(sender) + "'", SERVICE);
      return;
    }
    if (event.getVersion() > view.version() && event.getLayersList().stream().anyMatch(layerKeys::contains)) {
      fetch();
    }
  }

  /** Reads the view again; one read at a time, a request during one makes one more after it. */
  private void fetch() {
    synchronized (lock) {
      if (closed) {
        return;
      }
      if (fetching) {
        again = true;
        return;
      }
      fetching = true;
    }
    client.callAsync(SERVICE, "get", request, ConfigView.class, CallOptions.timeout(options.firstRead()).withIdempotent(true))
        .whenCompleteAsync(this::fetched, thread);
  }

  private void fetched(ConfigView v, Throwable failure) {
    boolean more;
    try {
      if (failure == null) {
        onView(v);
      } else {
        onFailure(failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure);
      }
    } finally {
      synchronized (lock) {
        fetching = false;
        more = again;
        again = false;
      }
    }
    if (more) {
      fetch();
    }
  }

  private void onView(ConfigView v) {
    View held = view;
    synchronized (lock) {
      if (outage) {
        log.info("config: the config service answers again; {} is at version {}", service, v.getVersion());
      }
      outage = false;
      retryMs = RETRY_MIN_MS;
      schedule(options.resync().toMillis());
    }
    if (held.live() && v.getVersion() <= held.version() || v.getVersion() == refusedVersion) {
      return; // nothing newer (or a lagging copy of the config service), or refused already
    }
    if (v.getJson().equals(held.json())) {
      view = new View(v.getVersion(), held.json(), held.values(), true);
      return;
    }
    if (take(v.getVersion(), v.getJson(), true)) {
      log.info("config: {} now at version {}", service, v.getVersion());
      changed.run();
    }
  }

  private void onFailure(Throwable failure) {
    String why = failure instanceof SkiffException se ? se.code() + ": " + se.description() : failure.toString();
    synchronized (lock) {
      if (!outage) {
        log.warn("config: the config service cannot be read ({}); {} keeps version {} and tries again", why, service, view.version());
      }
      outage = true;
      schedule(retryMs);
      retryMs = Math.min(RETRY_MAX_MS, retryMs * 2);
    }
    if (failure instanceof SkiffException se && se.code() == ErrorCode.FORBIDDEN) {
      log.warn("config: {} may not read its configuration: {}", service, se.description());
    }
  }

  private void schedule(long delayMs) {
    if (closed) {
      return;
    }
    if (next != null) {
      next.cancel(false);
    }
    next = thread.schedule(this::fetch, delayMs, TimeUnit.MILLISECONDS);
  }

  @Override
  public void close() {
    Transport.Subscription s;
    synchronized (lock) {
      if (closed) {
        return;
      }
      closed = true;
      s = subscription;
      if (next != null) {
        next.cancel(false);
      }
    }
    if (s != null) {
      s.close();
    }
    thread.shutdownNow();
  }
}
