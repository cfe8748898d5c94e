package dev.skiff.kernel.trace;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.skiff.kernel.TestClock;
import dev.skiff.proto.v1.Span;
import dev.skiff.proto.v1.SpanKind;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class StoreAndGraphTest {
  static String trace(int n) {
    return String.format("%032x", n);
  }

  static Span span(String trace, String id, String parent, SpanKind kind, String service, String remote, String error) {
    return Span.newBuilder().setTraceId(trace).setSpanId(id).setParentSpanId(parent).setKind(kind).setService(service)
        .setRemoteService(remote).setEndpoint("e").setStartMicros(1000).setDurationMicros(10).setErrorCode(error).build();
  }

  @Test
  void theInMemoryStoreIsBoundedInTracesAndSpansAndIgnoresDuplicates() {
    InMemoryTraceStore store = new InMemoryTraceStore(3, 2);
    for (int i = 0; i < 5; i++) {
      store.add(List.of(span(trace(i), "a", "", SpanKind.SPAN_KIND_SERVER, "s", "", "")));
    }
    assertThat(store.size()).isEqualTo(3);
    assertThat(store.evictedTraces()).isEqualTo(2);
    assertThat(store.trace(trace(0))).isEmpty();
    assertThat(store.recent(10, "")).extracting(t -> t.getTraceId()).containsExactly(trace(4), trace(3), trace(2));
    store.add(List.of(span(trace(4), "a", "", SpanKind.SPAN_KIND_SERVER, "s", "", "")));
    store.add(List.of(span(trace(4), "b", "a", SpanKind.SPAN_KIND_CLIENT, "s", "t", ""),
        span(trace(4), "c", "a", SpanKind.SPAN_KIND_CLIENT, "s", "t", "")));
    assertThat(store.trace(trace(4)).orElseThrow()).extracting(Span::getSpanId).containsExactly("a", "b");
    assertThat(store.droppedSpans()).isEqualTo(1);
    assertThat(store.spansNotKept(trace(4))).as("the trace read back is said to be cut short").isEqualTo(1);
    assertThat(store.spansNotKept(trace(3))).isZero();
    assertThat(store.spansNotKept()).isEqualTo(1);
    assertThatThrownBy(() -> new InMemoryTraceStore(0, 1)).hasMessageContaining("maxTraces");
    assertThatThrownBy(() -> TraceService.inMemoryFromEnvironment(Map.of("SKIFF_TRACE_MAX_TRACES", "lots")))
        .hasMessageContaining("SKIFF_TRACE_MAX_TRACES").hasMessageContaining("'lots'");
  }

  @Test
  void theEnvironmentPicksTheStoreAndABadValueNamesItsVariable() {
    assertThat(TraceService.storeFromEnvironment(Map.of())).as("nothing configured").isInstanceOf(InMemoryTraceStore.class);
    assertThat(TraceService.storeFromEnvironment(Map.of("SKIFF_TRACE_STORE", "memory"))).isInstanceOf(InMemoryTraceStore.class);
    // built, not connected: no Cassandra is needed to choose it
    try (TraceStore c = TraceService.storeFromEnvironment(Map.of("SKIFF_TRACE_STORE", " Cassandra ", "SKIFF_TRACE_KEYSPACE", "traces_a"))) {
      assertThat(c).isInstanceOfSatisfying(CassandraTraceStore.class, s -> assertThat(s.keyspace()).isEqualTo("traces_a"));
    }
    assertThatThrownBy(() -> TraceService.storeFromEnvironment(Map.of("SKIFF_TRACE_STORE", "mongo")))
        .hasMessage("SKIFF_TRACE_STORE must be 'memory' or 'cassandra', not 'mongo'");
    assertThatThrownBy(() -> TraceService.storeFromEnvironment(Map.of("SKIFF_TRACE_STORE", "cassandra", "SKIFF_TRACE_TTL", "soon")))
        .hasMessageContaining("SKIFF_TRACE_TTL").hasMessageContaining("'soon'");
    assertThatThrownBy(() -> TraceService.storeFromEnvironment(Map.of("SKIFF_TRACE_STORE", "cassandra", "SKIFF_TRACE_TTL", "500ms")))
        .hasMessageContaining("SKIFF_TRACE_TTL").hasMessageContaining("must be from 1s");
    assertThatThrownBy(() -> TraceService.storeFromEnvironment(Map.of("SKIFF_TRACE_STORE", "cassandra", "SKIFF_CASSANDRA_CONSISTENCY", "most")))
        .hasMessageContaining("SKIFF_CASSANDRA_CONSISTENCY");
  }

  @Test
  void theGraphCountsArcsColoursByErrorRateOrMonitoringAndForgetsOldTraffic() {
    TestClock clock = new TestClock(Instant.parse("2026-01-01T00:00:00Z"));
    ServiceGraph g = new ServiceGraph(clock, Duration.ofMinutes(5));
    List<Span> spans = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      String t = trace(i);
      spans.add(span(t, "c" + i, "", SpanKind.SPAN_KIND_CLIENT, "a", "b", i < 10 ? "INTERNAL" : ""));
      spans.add(span(t, "s" + i, "c" + i, SpanKind.SPAN_KIND_SERVER, "b", "a", i < 10 ? "INTERNAL" : ""));
      spans.add(span(t, "d" + i, "s" + i, SpanKind.SPAN_KIND_CLIENT, "b", "c", i < 3 ? "TIMEOUT" : ""));
      spans.add(span(t, "e" + i, "d" + i, SpanKind.SPAN_KIND_SERVER, "c", "b", ""));
    }
    spans.add(span(trace(500), "x", "", SpanKind.SPAN_KIND_SERVER, "c", "", ""));
    g.add(spans);
    ServiceGraph.Snapshot s = g.snapshot(HealthSource.NONE);
    assertThat(s.arcs()).containsExactly(
        new ServiceGraph.Arc(ServiceGraph.OUTSIDE, "c", 1, 0), new ServiceGraph.Arc("a", "b", 100, 10),
        new ServiceGraph.Arc("b", "c", 100, 3));
    assertThat(s.nodes()).extracting(ServiceGraph.Node::service, ServiceGraph.Node::health).containsExactly(
        org.assertj.core.groups.Tuple.tuple(ServiceGraph.OUTSIDE, HealthSource.Health.OK),
        org.assertj.core.groups.Tuple.tuple("a", HealthSource.Health.OK),
        org.assertj.core.groups.Tuple.tuple("b", HealthSource.Health.CRITICAL),
        org.assertj.core.groups.Tuple.tuple("c", HealthSource.Health.OK));
    ServiceGraph.Snapshot monitored = g.snapshot(svc -> svc.equals("c") ? Optional.of(HealthSource.Health.WARNING) : Optional.empty());
    assertThat(monitored.nodes()).filteredOn(n -> n.service().equals("c")).singleElement()
        .satisfies(n -> {
          assertThat(n.health()).isEqualTo(HealthSource.Health.WARNING);
          assertThat(n.fromMonitoring()).isTrue();
        });
    assertThat(GraphView.svg(s)).contains("data-from=\"a\" data-to=\"b\" data-calls=\"100\" data-errors=\"10\"")
        .contains("data-service=\"b\" data-health=\"CRITICAL\"");
    assertThat(GraphView.svg(s)).contains("<title>a: caller</title>");
    // a service called that has no spans of its own (it never answered, or is not traced) is not "a caller"
    spans.clear();
    spans.add(span(trace(600), "n", "", SpanKind.SPAN_KIND_CLIENT, "a", "nosuch", "NOT_FOUND"));
    g.add(spans);
    assertThat(GraphView.svg(g.snapshot(HealthSource.NONE))).contains("<title>nosuch: called 1 time, no spans of its own</title>");
    clock.advance(Duration.ofMinutes(6));
    assertThat(g.snapshot(HealthSource.NONE).arcs()).isEmpty();
  }
}
