package dev.skiff.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.gson.JsonArray;
import com.google.gson.JsonParser;
import com.google.protobuf.StringValue;
import dev.skiff.kernel.trace.HealthSource;
import dev.skiff.kernel.trace.InMemoryTraceStore;
import dev.skiff.kernel.trace.TraceService;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.trace.TraceSettings;
import dev.skiff.platform.trace.Tracing;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** {@code skiff call --trace} and {@code skiff trace ID [--json]} against a trace service on the real broker. */
class TraceCommandTest {
  @RegisterExtension static final TestKernel kernel = new TestKernel(() ->
      List.of(new TraceService(new InMemoryTraceStore(100, 100), HealthSource.NONE, Clock.systemUTC())));
  static Tracing tracing;
  static Server server;
  static String service;

  @BeforeAll
  static void start() {
    AmqpTransport transport = kernel.transport();
    service = "test.cli.traced." + EchoService.randomHex(4);
    tracing = Tracing.builder(service).transport(transport)
        .settings(TraceSettings.DEFAULTS.withFlushInterval(Duration.ofMillis(20))).build().start();
    server = Server.builder(service).transport(transport).observer(tracing)
        .endpoint(Endpoint.of("shout", StringValue.class, StringValue.class,
            (req, ctx) -> StringValue.of(req.getValue().toUpperCase(java.util.Locale.ROOT))))
        .build().start();
  }

  @AfterAll
  static void stop() {
    server.close();
    tracing.close();
  }

  @Test
  void callWithTracePrintsTheTraceIdAndTraceShowsItAsATreeAndAsZipkinJson() {
    Skiff.Result call = Skiff.run("call", service, "shout", "\"hi\"", "--trace");
    assertThat(call.exitCode()).as(call.toString()).isZero();
    assertThat(call.out().trim()).isEqualTo("\"HI\"");
    Matcher m = Pattern.compile("trace ([0-9a-f]{32})").matcher(call.err());
    assertThat(m.find()).as(call.toString()).isTrue();
    String id = m.group(1);

    // both spans are stored: the CLI's own client span and the service's, which arrive separately
    await().atMost(Duration.ofSeconds(10)).until(() -> {
      String out = Skiff.run("trace", id).out();
      return out.contains("trace " + id + ": 2 spans") && out.contains("serve " + service);
    });
    Skiff.Result tree = Skiff.run("trace", id);
    assertThat(tree.exitCode()).as(tree.toString()).isZero();
    assertThat(tree.out())
        .contains("trace " + id + ": 2 spans")
        .contains("call skiff-cli -> " + service + "/shout  ok")
        .containsPattern("\\n +[0-9.]+ +[0-9.]+ +  serve " + Pattern.quote(service) + "/shout on [0-9a-f]+  ok");

    Skiff.Result json = Skiff.run("trace", id.toUpperCase(java.util.Locale.ROOT), "--json");
    assertThat(json.exitCode()).as(json.toString()).isZero();
    JsonArray spans = JsonParser.parseString(json.out()).getAsJsonArray();
    assertThat(spans).hasSize(2);
    assertThat(spans.get(0).getAsJsonObject().get("traceId").getAsString()).isEqualTo(id);
    assertThat(spans.get(0).getAsJsonObject().get("kind").getAsString()).isEqualTo("CLIENT");
    assertThat(spans.get(1).getAsJsonObject().get("parentId").getAsString())
        .isEqualTo(spans.get(0).getAsJsonObject().get("id").getAsString());
    assertThat(spans.get(1).getAsJsonObject().getAsJsonObject("localEndpoint").get("serviceName").getAsString()).isEqualTo(service);
  }

  @Test
  void anUnknownTraceIdSaysSo() {
    String unknown = "0123456789abcdef0123456789abcdef";
    Skiff.Result r = Skiff.run("trace", unknown);
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(SkiffCli.EXIT_CALL_FAILED);
    assertThat(r.err()).startsWith("NOT_FOUND: no trace " + unknown + " is stored");
    assertThat(r.out()).isEmpty();
  }

  @Test
  void aMalformedTraceIdIsAUsageError() {
    Skiff.Result r = Skiff.run("trace", "nope");
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(SkiffCli.EXIT_USAGE);
    assertThat(r.err()).contains("'nope' is not a trace id: a trace id is 32 hex characters");
  }

  @Test
  void aFailedTracedCallStillPrintsItsTraceId() {
    Skiff.Result r = Skiff.run("call", service, "nope", "{}", "--trace");
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(SkiffCli.EXIT_CALL_FAILED);
    assertThat(r.err()).startsWith("NOT_FOUND").containsPattern("\\ntrace [0-9a-f]{32}\\n");
  }

  @Test
  void aTraceCutShortByTheStoreSaysSo() {
    dev.skiff.proto.v1.Trace t = dev.skiff.proto.v1.Trace.newBuilder().setTraceId("ab".repeat(16))
        .addSpans(dev.skiff.proto.v1.Span.newBuilder().setTraceId("ab".repeat(16)).setSpanId("01").setService("s").setEndpoint("e")
            .setKind(dev.skiff.proto.v1.SpanKind.SPAN_KIND_SERVER).setStartMicros(1000).setDurationMicros(10))
        .setSpansNotKept(500).build();
    java.io.StringWriter out = new java.io.StringWriter();
    TraceCommand.print(new java.io.PrintWriter(out, true), t);
    assertThat(out.toString()).contains(": 1 span over").contains("cut short: 500 more spans arrived and were not kept");
  }
}
