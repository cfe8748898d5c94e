package dev.skiff.kernel.trace;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.skiff.kernel.Kernel;
import dev.skiff.kernel.monitoring.MonitoringService;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.config.Settings;
import dev.skiff.platform.transport.Transport;
import dev.skiff.platform.transport.inprocess.InProcessTransport;
import dev.skiff.proto.v1.CheckResult;
import dev.skiff.proto.v1.GetTraceRequest;
import dev.skiff.proto.v1.InstanceStatus;
import dev.skiff.proto.v1.Span;
import dev.skiff.proto.v1.SpanBatch;
import dev.skiff.proto.v1.SpanKind;
import dev.skiff.proto.v1.Trace;
import dev.skiff.service.TestStores;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A kernel whose trace store is configured as Cassandra where no Cassandra listens: it starts and
 * serves anyway, takes spans without waiting, answers reads with a clear UNAVAILABLE, and its
 * {@code trace-store} check reaches the monitoring service as a failing check of {@code skiff.trace}.
 * Needs no Cassandra (and so runs everywhere).
 */
class CassandraUnreachableTest {
  @Test
  void theKernelRunsOnTakesSpansWithoutWaitingAndReportsTheStoreUnhealthy() throws Exception {
    int port = TestStores.freePort();
    TraceService traces = new TraceService(TraceService.storeFromEnvironment(Map.of(
        "SKIFF_TRACE_STORE", "cassandra",
        "SKIFF_CASSANDRA_HOSTS", "127.0.0.1:" + port,
        "SKIFF_CASSANDRA_CONNECT_TIMEOUT", "1s",
        "SKIFF_TRACE_WRITE_QUEUE", "50")), Clock.systemUTC());
    MonitoringService monitoring = new MonitoringService();
    try (Transport transport = InProcessTransport.create();
        Kernel kernel = Kernel.start(transport, Settings.fromEnvironment(Map.of()), List.of(traces, monitoring), 0);
        Client client = Client.builder().transport(transport).build()) {
      SpanBatch.Builder batch = SpanBatch.newBuilder().setService("s").setInstance("i");
      for (int i = 0; i < 200; i++) {
        batch.addSpans(Span.newBuilder().setTraceId(StoreAndGraphTest.trace(i + 1)).setSpanId("000000000000000a").setKind(SpanKind.SPAN_KIND_SERVER)
            .setService("s").setStartMicros(1000).setDurationMicros(5));
      }
      // no Cassandra ever answers, so nothing leaves the store's queue: an intake that waited for it would
      // never return (the 60 s bound only stops such a test)
      CassandraTraceStoreTest.within60s("10000 spans taken in while Cassandra cannot be reached", () -> {
        for (int i = 0; i < 50; i++) {
          traces.accept(batch.build());
        }
      });
      assertThat(traces.spansReceived()).isEqualTo(10_000);
      assertThat(((CassandraTraceStore) traces.store()).queued()).as("the queue's 50 wait").isEqualTo(50);
      assertThat(((CassandraTraceStore) traces.store()).droppedSpans()).as("all but the queue's 50 dropped and counted").isEqualTo(9_950);

      String id = StoreAndGraphTest.trace(1);
      assertThatThrownBy(() -> client.call(TraceService.SERVICE, "get", GetTraceRequest.newBuilder().setTraceId(id).build(), Trace.class))
          .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE))
          .hasMessageContaining("the trace store cannot use Cassandra at").hasMessageContaining(":" + port);
      HttpResponse<String> page = HttpClient.newHttpClient().send(
          HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + kernel.web().port() + "/traces/view/" + id)).build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(page.statusCode()).isEqualTo(500);
      assertThat(page.body()).contains("UNAVAILABLE: the trace store cannot use Cassandra at");

      // until the first report arrives there is no skiff.trace (or no check) yet: keep looking
      await("the store's check reaches the monitoring service").atMost(Duration.ofSeconds(40)).ignoreExceptions().untilAsserted(() -> {
        InstanceStatus trace = monitoring.store().service(TraceService.SERVICE).orElseThrow().getInstances(0);
        CheckResult check = trace.getLatest().getChecksList().stream().filter(c -> c.getName().equals("trace-store")).findFirst()
            .orElseThrow();
        assertThat(check.getHealthy()).isFalse();
        assertThat(check.getMessage()).contains("not connected to Cassandra at").contains(":" + port).contains("9950 spans dropped");
      });
    }
  }
}
