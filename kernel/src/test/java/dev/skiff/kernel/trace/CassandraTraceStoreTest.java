package dev.skiff.kernel.trace;

import static dev.skiff.kernel.trace.StoreAndGraphTest.trace;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.datastax.oss.driver.api.core.CqlSession;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.health.HealthCheck;
import dev.skiff.proto.v1.Span;
import dev.skiff.proto.v1.SpanKind;
import dev.skiff.proto.v1.TraceSummary;
import dev.skiff.service.TestStores;
import dev.skiff.service.cassandra.CassandraClient;
import dev.skiff.service.cassandra.CassandraProcess;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Cassandra trace store against a real Cassandra; each test in a keyspace of its own. */
class CassandraTraceStoreTest {
  private final String keyspace = CassandraNodes.newKeyspace();
  private final List<AutoCloseable> toClose = new ArrayList<>();
  private String hosts;

  @AfterEach
  void cleanUp() throws Exception {
    for (int i = toClose.size() - 1; i >= 0; i--) {
      toClose.get(i).close();
    }
    if (hosts != null) {
      CassandraNodes.drop(hosts, keyspace);
    }
  }

  private CassandraTraceStore store(String hosts, Map<String, String> settings) {
    CassandraTraceStore s = new CassandraTraceStore(CassandraNodes.config(hosts, keyspace, settings));
    toClose.add(s);
    s.start();
    return s;
  }

  private CassandraTraceStore shared(Map<String, String> settings) {
    hosts = CassandraNodes.sharedHosts();
    return store(hosts, settings);
  }

  static Span span(String trace, String id, String parent, SpanKind kind, String service, String remote, long start, String error) {
    return Span.newBuilder().setTraceId(trace).setSpanId(id).setParentSpanId(parent).setKind(kind).setService(service)
        .setRemoteService(remote).setEndpoint("e").setInstance("i-" + service).setStartMicros(start).setDurationMicros(100)
        .setErrorCode(error).build();
  }

  /** front → back, front's client span the root; 4 spans, one error if {@code failed}. */
  static List<Span> call(String trace, long t0, boolean failed) {
    return List.of(
        span(trace, "a1", "", SpanKind.SPAN_KIND_CLIENT, "user", "front", t0, ""),
        span(trace, "a2", "a1", SpanKind.SPAN_KIND_SERVER, "front", "user", t0 + 10, ""),
        span(trace, "a3", "a2", SpanKind.SPAN_KIND_CLIENT, "front", "back", t0 + 20, failed ? "TIMEOUT" : ""),
        span(trace, "a4", "a3", SpanKind.SPAN_KIND_SERVER, "back", "front", t0 + 30, ""));
  }

  private static void awaitWritten(CassandraTraceStore s, long spans) {
    await("spans written").atMost(Duration.ofSeconds(30)).until(() -> s.writtenSpans() >= spans);
  }

  @Test
  void spansAreStoredReadBackAsTreesListedNewestFirstAndKeptAcrossARestart() {
    CassandraTraceStore s = shared(Map.of("trace.max-spans", "6"));
    List<Span> first = call(trace(1), 1_000_000, false);
    List<Span> second = call(trace(2), 2_000_000, true);
    // the spans of a trace arrive out of order, in several batches, one of them twice
    s.add(List.of(first.get(3), first.get(1)));
    s.add(List.of(first.get(0), first.get(2), first.get(3)));
    s.add(second);
    s.add(List.of(span(trace(3), "b1", "", SpanKind.SPAN_KIND_SERVER, "lonely", "", 3_000_000, "")));
    awaitWritten(s, 10);

    assertThat(s.trace(trace(1)).orElseThrow()).as("every span once, in start order, exactly as sent").containsExactlyElementsOf(first);
    assertThat(s.trace(trace(2)).orElseThrow()).containsExactlyElementsOf(second);
    assertThat(s.trace(trace(99))).as("unknown trace").isEmpty();

    List<TraceSummary> recent = s.recent(10, "");
    assertThat(recent).extracting(TraceSummary::getTraceId).as("newest first").containsExactly(trace(3), trace(2), trace(1));
    assertThat(recent.get(1)).satisfies(t -> {
      assertThat(t.getRootService()).isEqualTo("front");
      assertThat(t.getSpanCount()).isEqualTo(4);
      assertThat(t.getErrorCount()).isEqualTo(1);
      assertThat(t.getStartMicros()).isEqualTo(2_000_000);
      assertThat(t.getDurationMicros()).isEqualTo(130);
    });
    assertThat(s.recent(2, "")).extracting(TraceSummary::getTraceId).as("limited").containsExactly(trace(3), trace(2));
    assertThat(s.recent(10, "back")).extracting(TraceSummary::getTraceId).as("by service").containsExactly(trace(2), trace(1));
    assertThat(s.recent(10, "nobody")).isEmpty();
    assertThat(s.size()).isEqualTo(3);

    // a trace is bounded: 6 spans kept, the rest dropped and counted
    List<Span> big = new ArrayList<>();
    for (int i = 0; i < 9; i++) {
      big.add(span(trace(4), "c" + i, "", SpanKind.SPAN_KIND_SERVER, "busy", "", 4_000_000 + i, ""));
    }
    s.add(big);
    awaitWritten(s, 16);
    await().atMost(Duration.ofSeconds(10)).until(() -> s.spansOverLimit() == 3);
    assertThat(s.trace(trace(4)).orElseThrow()).extracting(Span::getSpanId).containsExactly("c0", "c1", "c2", "c3", "c4", "c5");
    assertThat(s.spansNotKept(trace(4))).as("the trace read back is said to be cut short").isEqualTo(3);
    assertThat(s.spansNotKept(trace(3))).isZero();
    assertThat(s.failedWrites()).isZero();
    assertThat(s.healthCheck().orElseThrow().execute()).satisfies(r -> {
      assertThat(r.healthy()).as(r.message()).isTrue();
      assertThat(r.message()).contains("keyspace " + keyspace).contains("16 spans written");
    });
    s.close();

    // a new store on the same keyspace: the schema migration is a no-op, the traces are still there
    CassandraTraceStore again = shared(Map.of());
    await().atMost(Duration.ofSeconds(30)).ignoreExceptions()
        .untilAsserted(() -> assertThat(again.trace(trace(1)).orElseThrow()).containsExactlyElementsOf(first));
    assertThat(again.recent(10, "back")).extracting(TraceSummary::getTraceId).containsExactly(trace(2), trace(1));
  }

  @Test
  void everyRowIsWrittenWithTheTtlAndExpires() {
    CassandraTraceStore week = shared(Map.of());
    try (CassandraClient c = CassandraNodes.client(hosts)) {
      week.add(call(trace(7), 1_000_000, false));
      awaitWritten(week, 4);
      CqlSession cql = c.session(keyspace).driver();
      assertThat(cql.execute("SELECT TTL(span) FROM spans WHERE trace_id = ?", trace(7)).all())
          .as("the default TTL, 7 days, on every span").hasSize(4)
          .allSatisfy(r -> assertThat(r.getInt(0)).isBetween(7 * 86_400 - 120, 7 * 86_400));
      assertThat(cql.execute("SELECT TTL(received) FROM recent_traces").all()).as("and on the recent-traces index").hasSize(4)
          .allSatisfy(r -> assertThat(r.getInt(0)).isBetween(7 * 86_400 - 120, 7 * 86_400));
      week.close();

      // 10 s: long enough that a busy machine still reads the trace before it expires (the reads below
      // take well under a second after the write), short enough to wait for: the test waits the TTL out
      int ttlSeconds = 10;
      CassandraTraceStore brief = shared(Map.of("trace.ttl", ttlSeconds + "s"));
      brief.add(call(trace(8), 5_000_000, false));
      awaitWritten(brief, 4);
      assertThat(brief.trace(trace(8))).as("there at first").isPresent();
      assertThat(brief.recent(10, "")).extracting(TraceSummary::getTraceId).contains(trace(8));
      assertThat(cql.execute("SELECT TTL(span) FROM spans WHERE trace_id = ?", trace(8)).all()).hasSize(4)
          .allSatisfy(r -> assertThat(r.getInt(0)).isBetween(1, ttlSeconds));
      await("the trace expires").atMost(Duration.ofSeconds(45)).pollInterval(Duration.ofMillis(500))
          .until(() -> brief.trace(trace(8)).isEmpty());
      assertThat(brief.recent(10, "")).extracting(TraceSummary::getTraceId).as("gone from the list too")
          .doesNotContain(trace(8)).contains(trace(7));
      assertThat(brief.trace(trace(7))).as("the one written with 7 days stays").isPresent();
    }
  }

  @Test
  void withCassandraOutOfReachIntakeGoesOnTheHealthCheckSaysWhyAndReadsFailClearly() {
    int port = TestStores.freePort(); // nothing listens there
    CassandraTraceStore s = store("127.0.0.1:" + port, Map.of("trace.write-queue", "100", "cassandra.connect-timeout", "1s"));
    // Cassandra is never reached, so nothing leaves the queue: an intake that waited for it would never
    // return (the 60 s bound only stops such a test)
    within60s("4000 spans taken while Cassandra cannot be reached", () -> {
      for (int i = 0; i < 1000; i++) {
        s.add(call(trace(i), 1_000_000, false));
      }
    });
    assertThat(s.queued()).as("the queue's 100 wait for Cassandra").isEqualTo(100);
    assertThat(s.droppedSpans()).as("beyond the queue, dropped and counted").isEqualTo(4000 - 100);
    HealthCheck.Result r = s.healthCheck().orElseThrow().execute();
    assertThat(r.healthy()).isFalse();
    assertThat(r.message()).contains("not connected to Cassandra at").contains(":" + port).contains("3900 spans dropped");
    assertThatThrownBy(() -> s.trace(trace(1)))
        .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE))
        .hasMessageContaining("the trace store cannot use Cassandra at").hasMessageContaining(":" + port);
    assertThatThrownBy(() -> s.recent(10, "")).isInstanceOf(SkiffException.class);
    within60s("close, with the writer still trying to connect", s::close);
    assertThat(s.droppedSpans()).as("what was queued is dropped and counted at close").isEqualTo(4000);
  }

  /** Runs {@code work} on a thread of its own and fails if it has not returned within 60 s (a hung test's bound). */
  static void within60s(String what, Runnable work) {
    CompletableFuture<Void> done = CompletableFuture.runAsync(work, r -> {
      Thread t = new Thread(r, "test-" + what);
      t.setDaemon(true);
      t.start();
    });
    try {
      done.get(60, TimeUnit.SECONDS);
    } catch (TimeoutException e) {
      throw new AssertionError(what + ": did not return (waiting for Cassandra?)", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(what + ": interrupted", e);
    } catch (ExecutionException e) {
      throw new AssertionError(what + ": " + e.getCause(), e.getCause());
    }
  }

  @Test
  void whenItsNodeStopsWritesFailAndAreCountedIntakeGoesOnAndItRecovers(@TempDir Path dir) {
    CassandraNodes.sharedHosts(); // real-services runs only (scripts/test.sh)
    try (CassandraProcess node = new CassandraProcess(dir.resolve("node"))) {
      CassandraTraceStore s = store(node.address(), Map.of("cassandra.request-timeout", "2s"));
      s.add(call(trace(1), 1_000_000, false));
      awaitWritten(s, 4);

      node.stop();
      within60s("spans taken while the node is down", () -> {
        for (int i = 2; i < 52; i++) {
          s.add(call(trace(i), 1_000_000 * i, false));
        }
      });
      assertThat(s.droppedSpans()).as("intake took every span").isZero();
      await("failed writes are counted").atMost(Duration.ofSeconds(30)).until(() -> s.failedWrites() > 0);
      await("the health check says so").atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
        HealthCheck.Result r = s.healthCheck().orElseThrow().execute();
        assertThat(r.healthy()).isFalse();
        assertThat(r.message()).containsAnyOf("span writes failed", "no Cassandra node is up", "Cassandra does not answer");
      });
      assertThatThrownBy(() -> s.trace(trace(1))).isInstanceOfSatisfying(SkiffException.class,
          e -> assertThat(e.code()).isIn(ErrorCode.UNAVAILABLE, ErrorCode.TIMEOUT));

      node.start();
      await("the driver reconnects and writes succeed again").atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(500))
          .ignoreExceptions().untilAsserted(() -> {
            s.add(List.of(span(trace(100), "z" + System.nanoTime(), "", SpanKind.SPAN_KIND_SERVER, "after", "", 9_000_000, "")));
            assertThat(s.trace(trace(100))).isPresent();
          });
      assertThat(s.trace(trace(1)).orElseThrow()).as("what was written before the outage").hasSize(4);
      node.kill(); // its data is the test's: no need for the drain of a SIGTERM at close (seconds of CI time)
    }
  }
}
