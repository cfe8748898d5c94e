package dev.skiff.platform.server;

import com.codahale.metrics.Counter;
import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.Timer;
import dev.skiff.platform.health.ServerLoad;
import dev.skiff.platform.metrics.RpcMetrics;
import java.time.Clock;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * A server's own metrics (docs/observability.md): how many requests it dropped, refused (a reply address
 * not the caller's own among them), answered from its dedupe cache, answered CONFLICT for reusing another
 * call's request id, or answered TIMEOUT while their handler still ran; its in-flight, queued and
 * dedupe-entry gauges; a timer and a {@code batched} gauge per endpoint. Also the typed view of its load
 * that the monitor reads ({@link ServerLoad}). It keeps the bytes of the request bodies the server holds
 * ({@code skiff.server.in-flight-bytes}, and the most it ever held, {@code skiff.server.in-flight-bytes.max})
 * within their bound ({@link #reserveBytes}).
 */
final class ServerCounters implements ServerLoad {
  private final Counter droppedExpired;
  private final Counter overruns;
  private final Counter tooLarge;
  private final Counter dedupeHits;
  private final Counter unknownOutcome;
  private final Counter queueWaitRejected;
  private final Counter queueFullRejected;
  private final Counter inFlightBytesRejected;
  private final Counter deadLettered;
  private final Counter replyAddressRefused;
  private final Counter dedupeConflicts;
  /** The bytes of the request bodies held: taken and not yet settled. */
  private final AtomicLong heldBytes = new AtomicLong();
  /** The most {@link #heldBytes} ever was. */
  private final AtomicLong peakBytes = new AtomicLong();
  private volatile LongSupplier setAsideWaiting = () -> -1;
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
    this.queueFullRejected = metrics.counter("skiff.server.queue-full-rejected");
    this.inFlightBytesRejected = metrics.counter("skiff.server.in-flight-bytes-rejected");
    this.deadLettered = metrics.counter("skiff.server.dead-lettered");
    this.replyAddressRefused = metrics.counter("skiff.server.reply-address-refused");
    this.dedupeConflicts = metrics.counter("skiff.server.dedupe-conflicts");
    metrics.gauge("skiff.server.in-flight-bytes", () -> heldBytes::get);
    metrics.gauge("skiff.server.in-flight-bytes.max", () -> peakBytes::get);
    metrics.gauge("skiff.server.dedupe-entries", () -> () -> dedupe.keptAnswers(clock.millis()));
    metrics.gauge("skiff.server.in-flight", () -> held::get);
    metrics.gauge("skiff.server.queued", () -> pool::queued);
    paces.forEach((endpoint, pace) -> {
      timers.put(endpoint, metrics.timer("skiff.server.endpoint." + endpoint, RpcMetrics::newTimer));
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

  /**
   * Takes a place for a request body among the bytes the server holds, unless that would go past the
   * bound; one body is always taken when none is held, so that a request within the message size limit
   * is never refused for its size alone.
   *
   * @param bytes the body's size
   * @param max the bound
   * @return whether it was taken ({@link #releaseBytes} gives it back)
   */
  boolean reserveBytes(long bytes, long max) {
    while (true) {
      long held = heldBytes.get();
      long next = held + bytes;
      if (held > 0 && next > max) {
        inFlightBytesRejected.inc();
        return false;
      }
      if (heldBytes.compareAndSet(held, next)) {
        peakBytes.accumulateAndGet(next, Math::max);
        return true;
      }
    }
  }

  /** @param bytes a body's size, taken with {@link #reserveBytes} */
  void releaseBytes(long bytes) {
    heldBytes.addAndGet(-bytes);
  }

  /** @return the bytes of the request bodies held now */
  long heldBytes() {
    return heldBytes.get();
  }

  /** A request was set aside (dead-lettered). */
  void setAsideOne() {
    deadLettered.inc();
  }

  /** @param waiting asks how many set-aside requests of the service wait in its dead-letter queue */
  void setAsideWaiting(LongSupplier waiting) {
    this.setAsideWaiting = waiting;
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
      case QUEUE_FULL -> queueFullRejected.inc();
      case UNKNOWN_OUTCOME -> unknownOutcome.inc();
      case DELIVERY_LIMIT, IN_FLIGHT_BYTES -> {
        // counted as set aside (skiff.server.dead-lettered), and as refused by reserveBytes
      }
      case UNKNOWN_ENDPOINT -> {
        // counted by the per-endpoint metrics as NOT_FOUND
      }
    }
  }

  /** A duplicate was answered from the dedupe cache, or waited for its first's answer. */
  void dedupeHit() {
    dedupeHits.inc();
  }

  /** A request was refused unanswered: its reply address was not its caller's own. */
  void replyAddressRefused() {
    replyAddressRefused.inc();
  }

  /**
   * A request was answered CONFLICT: its id was answered or running here for another caller or another
   * request body.
   */
  void dedupeConflict() {
    dedupeConflicts.inc();
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

  @Override
  public long setAside() {
    return deadLettered.getCount();
  }

  @Override
  public long setAsideWaiting() {
    return setAsideWaiting.getAsLong();
  }
}
