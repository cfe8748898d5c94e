package dev.skiff.platform.server;

import com.codahale.metrics.Counter;
import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.Timer;
import dev.skiff.platform.health.ServerLoad;
import java.time.Clock;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A server's own metrics (docs/observability.md): how many requests it dropped, refused, answered from
 * its dedupe cache or answered TIMEOUT while their handler still ran; its in-flight, queued and
 * dedupe-entry gauges; a timer and a {@code batched} gauge per endpoint. Also the typed view of its load
 * that the monitor reads ({@link ServerLoad}).
 */
final class ServerCounters implements ServerLoad {
  private final Counter droppedExpired;
  private final Counter overruns;
  private final Counter tooLarge;
  private final Counter dedupeHits;
  private final Counter unknownOutcome;
  private final Counter queueWaitRejected;
  private final Map<String, Timer> timers = new HashMap<>();
  private final HandlerPool<?> pool;
  /** Requests taken for a handler and not yet answered (or dropped, or handed back). */
  private final AtomicInteger held = new AtomicInteger();

  /**
   * Registers the server's metrics.
   *
   * @param metrics the registry
   * @param paces the endpoints, with their pace in the handler pool
   * @param pool the handler pool (for the in-flight and queued gauges)
   * @param dedupe the dedupe step (for the kept-answers gauge)
   * @param clock the clock
   */
  ServerCounters(MetricRegistry metrics, Map<String, HandlerPool.Pace> paces, HandlerPool<?> pool, Dedupe dedupe, Clock clock) {
    this.pool = pool;
    this.droppedExpired = metrics.counter("skiff.server.dropped-expired");
    this.overruns = metrics.counter("skiff.server.handler-overruns");
    this.tooLarge = metrics.counter("skiff.server.too-large");
    this.dedupeHits = metrics.counter("skiff.server.dedupe-hits");
    this.unknownOutcome = metrics.counter("skiff.server.unknown-outcome");
    this.queueWaitRejected = metrics.counter("skiff.server.queue-wait-rejected");
    metrics.gauge("skiff.server.dedupe-entries", () -> () -> dedupe.keptAnswers(clock.millis()));
    metrics.gauge("skiff.server.in-flight", () -> held::get);
    metrics.gauge("skiff.server.queued", () -> pool::queued);
    paces.forEach((endpoint, pace) -> {
      timers.put(endpoint, metrics.timer("skiff.server.endpoint." + endpoint));
      // 1 while the endpoint's requests run in batches on an awake thread (HandlerPool), 0 while each wakes one
      metrics.gauge("skiff.server.endpoint." + endpoint + ".batched", () -> () -> pace.batched() ? 1 : 0);
    });
  }

  /**
   * @param endpoint an endpoint's name
   * @return the timer of its handler's runs
   */
  Timer timer(String endpoint) {
    return timers.get(endpoint);
  }

  /** A request was taken for a handler: it is held until it is answered, dropped or handed back. */
  void hold() {
    held.incrementAndGet();
  }

  /** A request held for a handler was answered, dropped or handed back. */
  void release() {
    held.decrementAndGet();
  }

  /** A request was dropped: its deadline passed before it started. */
  void dropped() {
    droppedExpired.inc();
  }

  /**
   * A request was refused by an admission rule.
   *
   * @param reason which rule
   */
  void refused(Admission.Reason reason) {
    switch (reason) {
      case TOO_LARGE -> tooLarge.inc();
      case WAITED_TOO_LONG -> queueWaitRejected.inc();
      case UNKNOWN_OUTCOME -> unknownOutcome.inc();
      case UNKNOWN_ENDPOINT -> {
        // counted by the per-endpoint metrics as NOT_FOUND
      }
    }
  }

  /** A duplicate was answered from the dedupe cache, or waited for its first's answer. */
  void dedupeHit() {
    dedupeHits.inc();
  }

  /** A request was answered TIMEOUT while its handler still ran. */
  void overran() {
    overruns.inc();
  }

  @Override
  public int inFlight() {
    return held.get();
  }

  @Override
  public int queued() {
    return pool.queued();
  }

  @Override
  public long refusedForWaiting() {
    return queueWaitRejected.getCount();
  }

  @Override
  public long droppedExpired() {
    return droppedExpired.getCount();
  }
}
