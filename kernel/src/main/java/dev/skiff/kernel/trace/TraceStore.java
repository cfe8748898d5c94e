package dev.skiff.kernel.trace;

import dev.skiff.kernel.Bound;
import dev.skiff.platform.health.HealthCheck;
import dev.skiff.proto.v1.Span;
import dev.skiff.proto.v1.TraceSummary;
import java.util.List;
import java.util.Optional;

/**
 * Where the trace service keeps traces. {@link InMemoryTraceStore} is the default;
 * {@link CassandraTraceStore} (one partition per trace id, spans clustered by start time, written with a
 * TTL) is the production one (see docs/tracing.md).
 *
 * <p>Implementations are thread-safe: spans arrive on transport threads while pages and RPC read.
 * {@link #add} must not block for long: it runs on the thread that takes spans off the broker.
 */
public interface TraceStore extends AutoCloseable {
  /**
   * Stores spans. A span already stored (same trace and span id) is ignored.
   *
   * @param spans the spans, of one or several traces
   */
  void add(List<Span> spans);

  /**
   * @param traceId a trace id
   * @return the trace's spans ordered by start time, or empty when the store has no such trace
   */
  Optional<List<Span>> trace(String traceId);

  /**
   * @param traceId a trace id
   * @return how many of the trace's spans arrived and were not kept, being over the limit of spans a
   *     trace: the trace read back is cut short by that many; 0 when none was, or the store no longer knows
   */
  default long spansNotKept(String traceId) {
    return 0;
  }

  /**
   * @return how many spans that arrived this store did not keep since it started, whatever the trace (over
   *     the limit of spans a trace, the store full, a write queue full)
   */
  default long spansNotKept() {
    return 0;
  }

  /**
   * The most recent traces, newest first.
   *
   * @param limit at most this many
   * @param service only traces with a span of this service; "" for all
   * @return their summaries
   */
  List<TraceSummary> recent(int limit, String service);

  /**
   * @return how many traces are stored; a store that cannot count them cheaply says how many it began
   *     storing since it started
   */
  int size();

  /** Starts what the store needs (connections, threads); the trace service calls it once, from its start. */
  default void start() {}

  /**
   * @return a check of the store's health, which the trace service registers (as {@code trace-store})
   *     and so publishes with its own health; empty for a store that cannot fail
   */
  default Optional<HealthCheck> healthCheck() {
    return Optional.empty();
  }

  /**
   * @return the bounds of what the store holds in this process (docs/security.md, "Hostile input"),
   *     which the trace service registers with its metrics and its {@code bounds} healthcheck; empty for
   *     none
   */
  default List<Bound> bounds() {
    return List.of();
  }

  /** Releases what the store holds. Idempotent. */
  @Override
  default void close() {}
}
