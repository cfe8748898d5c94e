package dev.skiff.service.internal;

import com.codahale.metrics.Counter;
import com.codahale.metrics.Gauge;
import com.codahale.metrics.Timer;
import com.codahale.metrics.health.HealthCheck;
import dev.skiff.platform.config.Config;
import dev.skiff.platform.config.LayeredConfig;
import dev.skiff.platform.internal.Threads;
import dev.skiff.service.StoreClientBuilder;
import dev.skiff.service.StoreUnavailableAtStart;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The lifecycle every service-layer store client has, whatever its store: built, then {@link #start}
 * once, then {@link #close}, which is idempotent; any use before the start or after the close is refused
 * ({@link #checkStarted}). Starting registers the health check {@code NAME}, follows the client's section
 * of a live configuration, and runs a watchdog every second on a thread of its own; closing undoes all
 * that and removes every metric {@code NAME.*}. How a store connects, checks itself and recovers stays in
 * its client, which hands those steps to this class.
 *
 * <p>Unlike the platform's {@link dev.skiff.platform.internal.Lifecycle}, a start whose connecting step
 * throws leaves the client new, with nothing registered: start may be called again (a client that gives
 * up on a required store after its connecting step closes itself). The client's start and close are
 * synchronized on the client; the rest is thread-safe.
 */
public final class StoreLifecycle {
  /** How often the watchdog runs. */
  public static final Duration WATCHDOG_EVERY = Duration.ofSeconds(1);

  private enum State { NEW, STARTED, CLOSED }

  private final Logger log;
  private final String store;
  private final StoreClientBuilder.Setup setup;
  private final String watchdogThread;
  private final AtomicReference<State> state = new AtomicReference<>(State.NEW);
  private final List<LayeredConfig.Subscription> subscriptions = new ArrayList<>();
  private ScheduledExecutorService watchdog;
  private final List<String> moreChecks = new ArrayList<>();

  /**
   * @param client the client's class: what it logs here is logged under its name
   * @param store the store, as messages name it: {@code Cassandra}, {@code memcached}, {@code ZooKeeper}
   * @param setup what the client was built from
   * @param watchdogThread the name of the watchdog's thread
   */
  public StoreLifecycle(Class<?> client, String store, StoreClientBuilder.Setup setup, String watchdogThread) {
    this.log = LoggerFactory.getLogger(client);
    this.store = store;
    this.setup = setup;
    this.watchdogThread = watchdogThread;
  }

  /** @return the client's config subtree, e.g. {@code cassandra} */
  public String path() {
    return setup.path();
  }

  /**
   * @param metric a metric's name under the client's, e.g. {@code errors}
   * @return the counter {@code NAME.metric}, removed on close
   */
  public Counter counter(String metric) {
    return setup.metrics().counter(setup.name() + "." + metric);
  }

  /**
   * @param metric a metric's name under the client's, e.g. {@code get}
   * @return the timer {@code NAME.metric}, removed on close
   */
  public Timer timer(String metric) {
    return setup.metrics().timer(setup.name() + "." + metric);
  }

  /**
   * Reports the keys of the client's section it does not know that were set in the environment (those
   * set elsewhere are refused when the settings are read): one warning, and the counter
   * {@code NAME.config.unknown-keys}.
   *
   * @param keys the keys, as {@link KnownKeys#unknownFromEnvironment} gives them
   */
  public void reportUnknownKeys(List<String> keys) {
    if (keys.isEmpty()) {
      return;
    }
    counter("config.unknown-keys").inc(keys.size());
    log.warn("{}: ignores {} set in the environment: not its settings (a typo leaves the default in force): {}",
        describe(), keys.size() == 1 ? "a key" : keys.size() + " keys", String.join(", ", keys));
  }

  /**
   * Registers a second health check, {@code NAME.check}, removed on close: call it after {@link #start}.
   *
   * @param check the check's name under the client's, e.g. {@code replicas}
   * @param health the check
   */
  public void healthCheck(String check, HealthCheck health) {
    String full = setup.name() + "." + check;
    synchronized (moreChecks) {
      setup.healthChecks().register(full, health);
      moreChecks.add(full);
    }
  }

  /**
   * Registers the gauge {@code NAME.metric}, removed on close.
   *
   * @param metric a metric's name under the client's, e.g. {@code connected}
   * @param gauge reads the value
   * @param <T> the value's type
   */
  public <T> void gauge(String metric, Gauge<T> gauge) {
    setup.metrics().gauge(setup.name() + "." + metric, () -> gauge);
  }

  /**
   * Starts the client: runs {@code connect}; then registers the health check, follows the configuration
   * (each change is read with {@code parse}, which refuses an invalid one before it is committed, then
   * given to {@code apply}) and starts the watchdog, which runs {@code watch} every second while the
   * client is started, logging what it throws.
   *
   * @param connect connects, or begins to; if it throws, the client stays new and nothing is registered
   * @param health the client's health check
   * @param parse reads the client's section into settings
   * @param apply takes new settings
   * @param watch the watchdog's work
   * @param <S> the settings type
   * @throws IllegalStateException if started before, or closed
   */
  public <S> void start(Runnable connect, HealthCheck health, Function<Config, S> parse, Consumer<S> apply, Watchdog watch) {
    State s = state.get();
    if (s != State.NEW) {
      throw new IllegalStateException(describe() + (s == State.STARTED ? " was already started" : " is closed"));
    }
    connect.run();
    state.set(State.STARTED);
    setup.healthChecks().register(setup.name(), health);
    subscriptions.addAll(setup.follow(parse, apply));
    watchdog = Executors.newSingleThreadScheduledExecutor(r -> Threads.daemon(watchdogThread, r));
    long every = WATCHDOG_EVERY.toMillis();
    watchdog.scheduleWithFixedDelay(() -> watch(watch), every, every, TimeUnit.MILLISECONDS);
  }

  private void watch(Watchdog watch) {
    try {
      if (isStarted()) {
        watch.run();
      }
    } catch (Exception e) {
      log.warn("{}: watchdog: {}", describe(), e.toString());
    }
  }

  /** @return whether the client is started and not closed */
  public boolean isStarted() {
    return state.get() == State.STARTED;
  }

  /** @throws IllegalStateException unless the client is started and not closed, saying which */
  public void checkStarted() {
    State s = state.get();
    if (s != State.STARTED) {
      throw new IllegalStateException(describe() + " is " + (s == State.NEW ? "not started: call start() first" : "closed"));
    }
  }

  /**
   * The failure of a start that waited for a required store in vain.
   *
   * @param hosts where the store was looked for, as the client shows its hosts
   * @param wait how long start waited
   * @return the exception to throw (one line)
   */
  public StoreUnavailableAtStart unavailableAtStart(String hosts, Duration wait) {
    return new StoreUnavailableAtStart(
        store + " at " + hosts + " (" + path() + ".hosts) did not answer within " + dev.skiff.platform.config.Durations.text(wait) + " at start, and this service requires it at start");
  }

  /**
   * Closes the client: stops following the configuration and the watchdog, removes the health check,
   * has the client release its store, then removes every metric {@code NAME.*}. Idempotent: a second
   * close does nothing.
   *
   * @param release releases what the client holds of its store
   */
  public void close(Release release) {
    State was = state.getAndSet(State.CLOSED);
    if (was == State.CLOSED) {
      return;
    }
    subscriptions.forEach(LayeredConfig.Subscription::close);
    if (watchdog != null) {
      watchdog.shutdownNow();
    }
    if (was == State.STARTED) {
      setup.healthChecks().unregister(setup.name());
      synchronized (moreChecks) {
        moreChecks.forEach(setup.healthChecks()::unregister);
      }
    }
    release.release(was == State.STARTED);
    setup.metrics().removeMatching((n, m) -> n.startsWith(setup.name() + "."));
  }

  private String describe() {
    return store + " client '" + setup.name() + "'";
  }

  /** The watchdog's work, run every second while the client is started. */
  @FunctionalInterface
  public interface Watchdog {
    /**
     * Looks at the client once.
     *
     * @throws Exception logged; the watchdog runs again a second later
     */
    void run() throws Exception;
  }

  /** What a client holds of its store, released on close. */
  @FunctionalInterface
  public interface Release {
    /** @param started whether the client had started (else it never connected) */
    void release(boolean started);
  }
}
