package dev.skiff.kernel.trace;

import dev.skiff.kernel.Bound;
import dev.skiff.proto.v1.Span;
import dev.skiff.proto.v1.SpanKind;
import dev.skiff.proto.v1.TraceSummary;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Traces in memory, bounded: at most {@code maxTraces} traces (the oldest, by first span received, are
 * evicted) of at most {@code maxSpansPerTrace} spans each (more are dropped and counted), and at most
 * {@code maxBytes} bytes of spans, counted as their serialized size: to make room for a span the oldest
 * traces are evicted, each eviction counted by the store's {@link Bound} ({@code trace-store}); a span that
 * would not fit even then (its trace alone fills the store) is dropped and counted the same way. Evicting
 * for the count bound is the store's normal rotation (counted in {@link #evictedTraces()}); evicting for
 * bytes is a sign of unusually large traces, and fails the trace service's {@code bounds} check (WARN).
 * What a development kernel uses; it forgets everything on restart. Thread-safe (one lock; spans arrive
 * in batches, so it is not contended).
 */
public final class InMemoryTraceStore implements TraceStore {
  /** The default byte bound: 64 MiB of spans (serialized; about three times as much heap). */
  public static final long DEFAULT_MAX_BYTES = 64L << 20;

  private final int maxTraces;
  private final int maxSpansPerTrace;
  private final Bound bound;
  private final LinkedHashMap<String, Stored> traces = new LinkedHashMap<>();
  private long bytes;
  private long evicted;
  private long droppedSpans;

  /** A trace's spans and their bytes. */
  private static final class Stored {
    final List<Span> spans = new ArrayList<>(8);
    long bytes;
    long notKept;
  }

  /**
   * @param maxTraces traces kept
   * @param maxSpansPerTrace spans kept per trace
   */
  public InMemoryTraceStore(int maxTraces, int maxSpansPerTrace) {
    this(maxTraces, maxSpansPerTrace, DEFAULT_MAX_BYTES);
  }

  /**
   * @param maxTraces traces kept
   * @param maxSpansPerTrace spans kept per trace
   * @param maxBytes bytes of spans kept (serialized size)
   */
  public InMemoryTraceStore(int maxTraces, int maxSpansPerTrace, long maxBytes) {
    if (maxTraces <= 0) {
      throw new IllegalArgumentException("maxTraces must be positive: " + maxTraces);
    }
    if (maxSpansPerTrace <= 0) {
      throw new IllegalArgumentException("maxSpansPerTrace must be positive: " + maxSpansPerTrace);
    }
    this.maxTraces = maxTraces;
    this.maxSpansPerTrace = maxSpansPerTrace;
    this.bound = new Bound("trace-store", new Bound.Limits(maxTraces, maxBytes), true);
  }

  @Override
  public synchronized void add(List<Span> spans) {
    for (Span s : spans) {
      Stored trace = traces.get(s.getTraceId());
      if (trace != null && trace.spans.size() >= maxSpansPerTrace) {
        droppedSpans++;
        trace.notKept++;
        continue;
      }
      if (trace != null && seen(trace, s)) {
        continue;
      }
      int size = s.getSerializedSize();
      if (!makeRoom(size, trace)) {
        droppedSpans++;
        if (trace != null) {
          trace.notKept++;
        }
        bound.hit("a span was dropped: its trace alone fills the store");
        continue;
      }
      if (trace == null) {
        trace = new Stored();
        traces.put(s.getTraceId(), trace);
        if (traces.size() > maxTraces) {
          evictEldest();
          evicted++;
        }
      }
      trace.spans.add(s);
      trace.bytes += size;
      bytes += size;
    }
    bound.holds(traces.size(), bytes);
  }

  private static boolean seen(Stored trace, Span s) {
    for (Span o : trace.spans) {
      if (o.getSpanId().equals(s.getSpanId())) {
        return true;
      }
    }
    return false;
  }

  /** Evicts the oldest traces but {@code keep} until {@code size} more bytes fit; false if they cannot. */
  private boolean makeRoom(int size, Stored keep) {
    long max = bound.limits().maxBytes();
    while (bytes + size > max) {
      Iterator<Map.Entry<String, Stored>> it = traces.entrySet().iterator();
      Map.Entry<String, Stored> eldest = it.hasNext() ? it.next() : null;
      if (eldest != null && eldest.getValue() == keep) {
        eldest = it.hasNext() ? it.next() : null;
      }
      if (eldest == null) {
        return false;
      }
      bytes -= eldest.getValue().bytes;
      traces.remove(eldest.getKey());
      bound.hit("the oldest trace was evicted for bytes");
    }
    return true;
  }

  private void evictEldest() {
    Iterator<Stored> eldest = traces.values().iterator();
    bytes -= eldest.next().bytes;
    eldest.remove();
  }

  /** @return the store's byte bound (its size, what it evicted for bytes) */
  public Bound bound() {
    return bound;
  }

  @Override
  public List<Bound> bounds() {
    return List.of(bound);
  }

  /** @return the bytes of spans held (serialized size) */
  public synchronized long bytes() {
    return bytes;
  }

  @Override
  public synchronized Optional<List<Span>> trace(String traceId) {
    Stored t = traces.get(traceId);
    if (t == null) {
      return Optional.empty();
    }
    List<Span> copy = new ArrayList<>(t.spans);
    copy.sort(Comparator.comparingLong(Span::getStartMicros));
    return Optional.of(copy);
  }

  @Override
  public List<TraceSummary> recent(int limit, String service) {
    List<List<Span>> newestFirst = new ArrayList<>();
    synchronized (this) {
      List<Stored> all = new ArrayList<>(traces.values());
      for (int i = all.size() - 1; i >= 0 && newestFirst.size() < limit; i--) {
        List<Span> spans = all.get(i).spans;
        if (service.isEmpty() || spans.stream().anyMatch(s -> s.getService().equals(service))) {
          newestFirst.add(new ArrayList<>(spans));
        }
      }
    }
    return newestFirst.stream().map(InMemoryTraceStore::summary).toList();
  }

  /**
   * @param spans a trace's spans (not empty)
   * @return its summary
   */
  static TraceSummary summary(List<Span> spans) {
    Span root = spans.stream()
        .filter(s -> s.getParentSpanId().isEmpty())
        .min(Comparator.comparingLong(Span::getStartMicros))
        .orElseGet(() -> spans.stream().min(Comparator.comparingLong(Span::getStartMicros)).orElseThrow());
    long start = spans.stream().mapToLong(Span::getStartMicros).min().orElse(0);
    long end = spans.stream().mapToLong(s -> s.getStartMicros() + s.getDurationMicros()).max().orElse(start);
    String service = root.getKind() == SpanKind.SPAN_KIND_CLIENT ? root.getRemoteService() : root.getService();
    return TraceSummary.newBuilder()
        .setTraceId(root.getTraceId())
        .setRootService(service)
        .setRootEndpoint(root.getEndpoint())
        .setStartMicros(start)
        .setDurationMicros(end - start)
        .setSpanCount(spans.size())
        .setErrorCount((int) spans.stream().filter(s -> !s.getErrorCode().isEmpty()).count())
        .build();
  }

  @Override
  public synchronized int size() {
    return traces.size();
  }

  /** @return traces evicted to stay within the bound */
  public synchronized long evictedTraces() {
    return evicted;
  }

  @Override
  public synchronized long spansNotKept(String traceId) {
    Stored t = traces.get(traceId);
    return t == null ? 0 : t.notKept;
  }

  @Override
  public synchronized long spansNotKept() {
    return droppedSpans;
  }

  /** @return spans dropped because their trace was full */
  public synchronized long droppedSpans() {
    return droppedSpans;
  }
}
