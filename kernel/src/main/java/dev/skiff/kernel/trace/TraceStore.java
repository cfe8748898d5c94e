package dev.skiff.kernel.trace;

import dev.skiff.proto.v1.Span;
import dev.skiff.proto.v1.TraceSummary;
import java.util.List;
import java.util.Optional;

/**
 * Where the trace service keeps traces. {@link InMemoryTraceStore} is the default; a Cassandra store
 * (one partition per trace id, spans clustered by start time, written with a TTL) is the production one
 * and implements this same interface (see docs/tracing.md).
 *
 * <p>Implementations are thread-safe: spans arrive on transport threads while pages and RPC read.
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
   * The most recent traces, newest first.
   *
   * @param limit at most this many
   * @param service only traces with a span of this service; "" for all
   * @return their summaries
   */
  List<TraceSummary> recent(int limit, String service);

  /** @return how many traces are stored */
  int size();

  /** Releases what the store holds. Idempotent. */
  @Override
  default void close() {}
}
