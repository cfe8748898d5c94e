package dev.skiff.platform.trace;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ListValue;
import com.google.protobuf.util.JsonFormat;
import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.client.Reply;
import dev.skiff.platform.internal.Closer;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.testproto.EchoRequest;
import dev.skiff.platform.testproto.EchoResponse;
import dev.skiff.platform.transport.inprocess.InProcessTransport;
import dev.skiff.proto.v1.Span;
import dev.skiff.proto.v1.SpanBatch;
import dev.skiff.proto.v1.SpanKind;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class TracingTest {
  InProcessTransport transport;
  /** What a test opened, closed at tear-down newest first, then the transport. */
  final Closer toClose = new Closer();
  final List<Span> shipped = Collections.synchronizedList(new ArrayList<>());
  final SpanSink collect = batch -> shipped.addAll(batch.getSpansList());

  @BeforeEach
  void setUp() {
    transport = toClose.register(InProcessTransport.create());
  }

  @AfterEach
  void tearDown() {
    toClose.close();
  }

  Tracing tracing(String service, TraceSettings settings, SpanSink sink) {
    Tracing t = Tracing.builder(service).sink(sink).settings(settings).build().start();
    toClose.register(t);
    return t;
  }

  Server echo(String name, Tracing tracing) {
    Server s = Server.builder(name).transport(transport).observer(tracing)
        .endpoint(Endpoint.of("echo", EchoRequest.class, EchoResponse.class,
            (req, ctx) -> EchoResponse.newBuilder().setText(req.getText()).setTraceId(ctx.traceId()).build()))
        .build().start();
    toClose.register(s);
    return s;
  }

  static final TraceSettings FAST = TraceSettings.DEFAULTS.withFlushInterval(Duration.ofMillis(20));

  @Test
  void sampleRateComesFromTheEnvironmentAndABadValueNamesTheVariable() {
    assertThat(TraceSettings.fromEnvironment(Map.of()).sampleRate()).isEqualTo(0);
    assertThat(TraceSettings.fromEnvironment(Map.of("SKIFF_TRACE_SAMPLE_RATE", "0.01")).sampleRate()).isEqualTo(0.01);
    assertThat(TraceSettings.fromEnvironment(Map.of("SKIFF_TRACE_BUFFER", "16", "SKIFF_TRACE_FLUSH", "250ms")))
        .satisfies(s -> {
          assertThat(s.bufferCapacity()).isEqualTo(16);
          assertThat(s.flushInterval()).isEqualTo(Duration.ofMillis(250));
        });
    assertThatThrownBy(() -> TraceSettings.fromEnvironment(Map.of("SKIFF_TRACE_SAMPLE_RATE", "1%")))
        .hasMessageContaining("SKIFF_TRACE_SAMPLE_RATE").hasMessageContaining("'1%'");
    assertThatThrownBy(() -> TraceSettings.fromEnvironment(Map.of("SKIFF_TRACE_SAMPLE_RATE", "1.5")))
        .hasMessageContaining("SKIFF_TRACE_SAMPLE_RATE");
    assertThatThrownBy(() -> TraceSettings.fromEnvironment(Map.of("SKIFF_TRACE_BUFFER", "-1")))
        .hasMessageContaining("SKIFF_TRACE_BUFFER");
    assertThatThrownBy(() -> Tracing.builder("x").build()).hasMessageContaining("transport");
  }

  @Test
  void samplingDecidesNewTracesByRate() {
    Tracing never = tracing("a", TraceSettings.DEFAULTS, collect);
    Tracing always = tracing("b", TraceSettings.DEFAULTS.withSampleRate(1), collect);
    Tracing tenth = tracing("c", TraceSettings.DEFAULTS.withSampleRate(0.1), collect);
    int n = 20_000;
    int sampled = 0;
    for (int i = 0; i < n; i++) {
      assertThat(never.sampleNewTrace("s", "e")).isFalse();
      assertThat(always.sampleNewTrace("s", "e")).isTrue();
      sampled += tenth.sampleNewTrace("s", "e") ? 1 : 0;
    }
    assertThat(sampled).isBetween(n / 10 - 400, n / 10 + 400);
  }

  @Test
  void unsampledCallsRecordNothingAndForcedOnesRecordBothSides() {
    Tracing t = tracing("test.svc", FAST, collect);
    echo("test.svc", t);
    try (Client c = Client.builder().transport(transport).name("test.caller").observer(t).build()) {
      for (int i = 0; i < 20; i++) {
        c.call("test.svc", "echo", EchoRequest.newBuilder().setText("x").build(), EchoResponse.class);
      }
      Reply<EchoResponse> r = Client.await(c.exchange("test.svc", "echo", EchoRequest.newBuilder().setText("y").build(),
          EchoResponse.class, CallOptions.defaults().withTrace(true)));
      await().atMost(Duration.ofSeconds(3)).until(() -> shipped.size() == 2);
      assertThat(shipped).allSatisfy(s -> assertThat(s.getTraceId()).isEqualTo(r.traceId()));
      Span client = shipped.stream().filter(s -> s.getKind() == SpanKind.SPAN_KIND_CLIENT).findFirst().orElseThrow();
      Span server = shipped.stream().filter(s -> s.getKind() == SpanKind.SPAN_KIND_SERVER).findFirst().orElseThrow();
      assertThat(client.getService()).isEqualTo("test.caller");
      assertThat(client.getRemoteService()).isEqualTo("test.svc");
      assertThat(client.getParentSpanId()).isEmpty();
      assertThat(server.getParentSpanId()).isEqualTo(client.getSpanId());
      assertThat(server.getService()).isEqualTo("test.svc");
      assertThat(server.getInstance()).isNotEmpty();
      // a recorded call's start is read to the microsecond as it begins, however late it is recorded (on a
      // busy machine it was often whole milliseconds): the server took the request after the client sent it
      assertThat(server.getStartMicros()).isGreaterThanOrEqualTo(client.getStartMicros());
      assertThat(client.getStartMicros() % 1000 != 0 || server.getStartMicros() % 1000 != 0).as("not both whole milliseconds")
          .isTrue();
      assertThat(t.droppedSpans()).isZero();
    }
  }

  @Test
  void aSampledTraceIsFollowedDownstreamWhateverTheDownstreamRate() {
    Tracing upstream = tracing("test.up", FAST.withSampleRate(1), collect);
    Tracing downstream = tracing("test.down", FAST, collect);
    echo("test.down", downstream);
    try (Client c = Client.builder().transport(transport).name("test.up").observer(upstream).build()) {
      Reply<EchoResponse> r = Client.await(c.exchange("test.down", "echo", EchoRequest.newBuilder().build(),
          EchoResponse.class, CallOptions.defaults()));
      await().atMost(Duration.ofSeconds(3)).until(() -> shipped.size() == 2);
      assertThat(r.value().getTraceId()).isEqualTo(r.traceId());
      assertThat(r.traceId()).matches("[0-9a-f]{32}");
    }
  }

  @Test
  void anExternalW3cTraceparentIsJoinedAndItsSampledFlagObeyed() {
    Tracing t = tracing("test.w3c", FAST, collect);
    echo("test.w3c", t);
    try (Client c = Client.builder().transport(transport).name("test.gateway").observer(t).build()) {
      // a W3C traceparent from another tool: version 00, trace id, parent span id, flags 01 (sampled)
      Client joined = c.withScope(new dev.skiff.platform.client.CallScope(null,
          "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
      EchoResponse r = joined.call("test.w3c", "echo", EchoRequest.newBuilder().build(), EchoResponse.class);
      assertThat(r.getTraceId()).isEqualTo("4bf92f3577b34da6a3ce929d0e0e4736");
      await().atMost(Duration.ofSeconds(3)).until(() -> shipped.size() == 2);
      Span client = shipped.stream().filter(s -> s.getKind() == SpanKind.SPAN_KIND_CLIENT).findFirst().orElseThrow();
      assertThat(client.getTraceId()).isEqualTo("4bf92f3577b34da6a3ce929d0e0e4736");
      assertThat(client.getParentSpanId()).isEqualTo("00f067aa0ba902b7");
      assertThat(client.getSpanId()).matches("[0-9a-f]{16}").isNotEqualTo("00f067aa0ba902b7");
      // flags 00: not sampled, so nothing is recorded even though the context is joined
      Client unsampled = c.withScope(new dev.skiff.platform.client.CallScope(null,
          "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"));
      assertThat(unsampled.call("test.w3c", "echo", EchoRequest.newBuilder().build(), EchoResponse.class).getTraceId())
          .isEqualTo("0af7651916cd43dd8448eb211c80319c");
      c.call("test.w3c", "echo", EchoRequest.newBuilder().build(), EchoResponse.class, CallOptions.defaults().withTrace(true));
      await().atMost(Duration.ofSeconds(3)).until(() -> shipped.size() == 4);
      assertThat(shipped).noneMatch(s -> s.getTraceId().equals("0af7651916cd43dd8448eb211c80319c"));
    }
    assertThat(dev.skiff.platform.internal.TraceContext.parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))
        .isEqualTo(new dev.skiff.platform.internal.TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", true));
    assertThat(dev.skiff.platform.internal.TraceContext.parse("00-00000000000000000000000000000000-00f067aa0ba902b7-01")).isNull();
    assertThat(dev.skiff.platform.internal.TraceContext.parse("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01")).isNull();
  }

  @Test
  void aFullBufferDropsAndCountsSpansAndCallsStillSucceed() throws Exception {
    // The sink is stuck for the whole test: a call that waited for its spans to be shipped would never
    // finish (and fail at its timeout). How long traced calls take is for the benchmarks
    // (docs/performance.md, "The cost of tracing").
    CountDownLatch stuck = new CountDownLatch(1);
    CountDownLatch sinkCalled = new CountDownLatch(1);
    SpanSink blocked = batch -> {
      sinkCalled.countDown();
      try {
        stuck.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    };
    Tracing t = tracing("test.full", TraceSettings.DEFAULTS.withSampleRate(1).withBufferCapacity(8).withBatchSize(4)
        .withFlushInterval(Duration.ofMillis(5)), blocked);
    echo("test.full", t);
    int calls = 1000;
    try (Client traced = Client.builder().transport(transport).name("test.caller").observer(t).build()) {
      for (int i = 0; i < calls; i++) {
        assertThat(traced.call("test.full", "echo", EchoRequest.newBuilder().setText("x" + i).build(), EchoResponse.class).getText())
            .isEqualTo("x" + i);
      }
      await().atMost(Duration.ofSeconds(30)).until(() -> sinkCalled.getCount() == 0); // it got a batch and is stuck
      // every traced call makes two spans; the buffer holds 8 and the stuck sink took at most one batch
      // (a server records its span just after replying, so the last one may still be on its way)
      await().atMost(Duration.ofSeconds(30)).until(() -> t.droppedSpans() >= 2L * calls - 8 - 4);
      assertThat(t.droppedSpans()).isBetween(2L * calls - 8 - 4, 2L * calls - 8);
      assertThat(t.bufferedSpans()).isEqualTo(8);
    } finally {
      stuck.countDown();
    }
  }

  @Test
  void aFailingSinkCountsLostBatchesAndCallsStillSucceed() {
    Tracing t = tracing("test.fail", FAST.withSampleRate(1), batch -> {
      throw new IllegalStateException("broker down");
    });
    echo("test.fail", t);
    try (Client c = Client.builder().transport(transport).name("test.caller").observer(t).build()) {
      EchoResponse r = c.call("test.fail", "echo", EchoRequest.newBuilder().setText("ok").build(), EchoResponse.class);
      assertThat(r.getText()).isEqualTo("ok");
      await().atMost(Duration.ofSeconds(3)).until(() -> t.failedBatches() >= 1);
    }
  }

  @Test
  void closeShipsWhatIsStillBuffered() {
    List<SpanBatch> batches = Collections.synchronizedList(new ArrayList<>());
    Tracing t = Tracing.builder("test.close").sink(batches::add)
        .settings(TraceSettings.DEFAULTS.withSampleRate(1).withFlushInterval(Duration.ofHours(1))).build().start();
    Server server = echo("test.close", t);
    try (Client c = Client.builder().transport(transport).name("test.caller").observer(t).build()) {
      for (int i = 0; i < 3; i++) {
        c.call("test.close", "echo", EchoRequest.newBuilder().build(), EchoResponse.class);
      }
    }
    // the server records its span after it has replied: close it first (it drains), as SkiffService
    // does, so that every span has been recorded when tracing closes
    server.close();
    t.close();
    assertThat(batches.stream().mapToInt(SpanBatch::getSpansCount).sum()).isEqualTo(6);
    assertThat(batches).allSatisfy(b -> assertThat(b.getService()).isEqualTo("test.close"));
  }

  @Test
  void zipkinJsonIsAnArrayOfV2Spans() throws Exception {
    Span client = Span.newBuilder().setTraceId("4bf92f3577b34da6a3ce929d0e0e4736").setSpanId("00f067aa0ba902b7")
        .setKind(SpanKind.SPAN_KIND_CLIENT).setService("a").setRemoteService("b").setEndpoint("Get")
        .setStartMicros(1_700_000_000_000_000L).setDurationMicros(1500).setErrorCode("TIMEOUT").setRetrying(true)
        .setAttempt(1).setRequestId("r\"1").build();
    Span server = client.toBuilder().setSpanId("00f067aa0ba902b8").setParentSpanId("00f067aa0ba902b7")
        .setKind(SpanKind.SPAN_KIND_SERVER).setService("b").setRemoteService("a").setErrorCode("").setRetrying(false).build();
    String json = ZipkinJson.of(List.of(client, server));
    ListValue.Builder parsed = ListValue.newBuilder();
    JsonFormat.parser().merge(json, parsed);
    assertThat(parsed.getValuesCount()).isEqualTo(2);
    var c = parsed.getValues(0).getStructValue().getFieldsMap();
    assertThat(c.get("traceId").getStringValue()).isEqualTo("4bf92f3577b34da6a3ce929d0e0e4736");
    assertThat(c.get("kind").getStringValue()).isEqualTo("CLIENT");
    assertThat(c.get("name").getStringValue()).isEqualTo("get");
    assertThat(c.get("timestamp").getNumberValue()).isEqualTo(1.7e15);
    assertThat(c.get("duration").getNumberValue()).isEqualTo(1500);
    assertThat(c.get("localEndpoint").getStructValue().getFieldsOrThrow("serviceName").getStringValue()).isEqualTo("a");
    assertThat(c.get("remoteEndpoint").getStructValue().getFieldsOrThrow("serviceName").getStringValue()).isEqualTo("b");
    assertThat(c.get("tags").getStructValue().getFieldsOrThrow("error").getStringValue()).isEqualTo("TIMEOUT");
    assertThat(c.get("tags").getStructValue().getFieldsOrThrow("skiff.request_id").getStringValue()).isEqualTo("r\"1");
    assertThat(c.get("annotations").getListValue().getValuesList())
        .extracting(v -> v.getStructValue().getFieldsOrThrow("value").getStringValue()).containsExactly("timeout", "retry");
    assertThat(c).doesNotContainKey("parentId");
    var s = parsed.getValues(1).getStructValue().getFieldsMap();
    assertThat(s.get("parentId").getStringValue()).isEqualTo("00f067aa0ba902b7");
    assertThat(s.get("kind").getStringValue()).isEqualTo("SERVER");
    assertThat(s.get("tags").getStructValue().getFieldsMap()).doesNotContainKey("error");
  }
}
