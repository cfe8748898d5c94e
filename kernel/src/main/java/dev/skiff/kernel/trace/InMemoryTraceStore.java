package dev.skiff.kernel.trace;

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
 * evicted) of at most {@code maxSpansPerTrace} spans each (more are dropped and counted). What a
 * development kernel uses; it forgets everything on restart. Thread-safe (one lock; spans arrive in
 * batches, so it is not contended).
 */
public final class InMemoryTraceStore implements TraceStore {
  private final int maxTraces;
  private final int maxSpansPerTrace;
  private final LinkedHashMap<String, List<Span>> traces = new LinkedHashMap<>();
  private long evicted;
  private long droppedSpans;

  /**
   * @param maxTraces traces kept
   * @param maxSpansPerTrace spans kept per trace
   */
  public InMemoryTraceStore(int maxTraces, int maxSpansPerTrace) {
    if (maxTraces <= 0) {
      throw new IllegalArgumentException("maxTraces must be positive: " + maxTraces);
    }
    if (maxSpansPerTrace <= 0) {
      throw new IllegalArgumentException("maxSpansPerTrace must be positive: " + maxSpansPerTrace);
    }
    this.maxTraces = maxTraces;
    this.maxSpansPerTrace = maxSpansPerTrace;
  }

  @Override
  public synchronized void add(List<Span> spans) {
    for (Span s : spans) {
      List<Span> trace = traces.get(s.getTraceId());
      if (trace == null) {
        trace = new ArrayList<>(8);
        traces.put(s.getTraceId(), trace);
        if (traces.size() > maxTraces) {
          Iterator<String> eldest = traces.keySet().iterator();
          eldest.next();
          eldest.remove();
          evicted++;
        }
      }
      if (trace.size() >= maxSpansPerTrace) {
        droppedSpans++;
        continue;
      }
      boolean seen = false;
      for (Span o : trace) {
        if (o.getSpanId().equals(s.getSpanId())) {
          seen = true;
          break;
        }
      }
      if (!seen) {
        trace.add(s);
      }
    }
  }

  @Override
  public synchronized Optional<List<Span>> trace(String traceId) {
    List<Span> t = traces.get(traceId);
    if (t == null) {
      return Optional.empty();
    }
    List<Span> copy = new ArrayList<>(t);
    copy.sort(Comparator.comparingLong(Span::getStartMicros));
    return Optional.of(copy);
  }

  @Override
  public List<TraceSummary> recent(int limit, String service) {
    List<List<Span>> newestFirst = new ArrayList<>();
    synchronized (this) {
      List<Map.Entry<String, List<Span>>> all = new ArrayList<>(traces.entrySet());
      for (int i = all.size() - 1; i >= 0 && newestFirst.size() < limit; i--) {
        List<Span> spans = all.get(i).getValue();
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

  /** @return spans dropped because their trace was full */
  public synchronized long droppedSpans() {
    return droppedSpans;
  }
}
