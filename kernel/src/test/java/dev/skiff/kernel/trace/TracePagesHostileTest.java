package dev.skiff.kernel.trace;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.kernel.Kernel;
import dev.skiff.platform.config.Settings;
import dev.skiff.platform.transport.inprocess.InProcessTransport;
import dev.skiff.proto.v1.Span;
import dev.skiff.proto.v1.SpanBatch;
import dev.skiff.proto.v1.SpanKind;
import dev.skiff.testing.HeadlessChromium;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Hostile span values (issue 17, stored XSS): the trace service refuses spans whose ids and names Skiff
 * never writes, and every page escapes every value anyway (a store written by an older version, or rows
 * put into Cassandra by hand), as a real browser shows them.
 */
class TracePagesHostileTest {
  /** Sets the page's title if it ever runs. */
  private static final String SCRIPT = "<img src=x onerror=\"document.title='pwned'\">";
  /** Breaks out of an attribute value into an element that sets the title as it loads. */
  private static final String ATTR = "\"'><img src=y onerror=\"document.title='pwned'\">";
  private static final String VALID_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";

  private final InProcessTransport transport = InProcessTransport.create();
  private final InMemoryTraceStore store = new InMemoryTraceStore(100, 100);
  private TraceService traces;
  private Kernel kernel;

  @BeforeEach
  void start() {
    traces = new TraceService(store, HealthSource.NONE, Clock.systemUTC());
    kernel = Kernel.start(transport, Settings.fromEnvironment(Map.of()), List.of(traces), 0);
  }

  @AfterEach
  void stop() {
    kernel.close();
    transport.close();
  }

  private static Span.Builder span(String traceId) {
    return Span.newBuilder().setTraceId(traceId).setSpanId("00f067aa0ba902b7").setKind(SpanKind.SPAN_KIND_SERVER)
        .setService("com.example.greeter").setEndpoint("hello").setInstance("i1").setStartMicros(1_700_000_000_000_000L)
        .setDurationMicros(1500);
  }

  @Test
  void spansWithIdsOrNamesSkiffNeverWritesAreRefusedAndCounted() {
    List<Span> hostile = List.of(
        span(SCRIPT).build(),
        span(VALID_TRACE).setSpanId("x" + SCRIPT).build(),
        span(VALID_TRACE).setParentSpanId(ATTR).build(),
        span(VALID_TRACE).setService(SCRIPT).build(),
        span(VALID_TRACE).setEndpoint(SCRIPT).build(),
        span(VALID_TRACE).setInstance(ATTR).build(),
        span(VALID_TRACE).setRemoteService("\u001b[2J").build(),
        span(VALID_TRACE).setErrorCode(SCRIPT).build(),
        span(VALID_TRACE).setVersion(SCRIPT).build(),
        span(VALID_TRACE).setRequestId(SCRIPT).build(),
        span("0".repeat(32)).build(),
        span(VALID_TRACE.toUpperCase()).build());
    traces.accept(SpanBatch.newBuilder().setService("com.example.greeter").addAllSpans(hostile).build());
    assertThat(store.size()).isZero();
    assertThat(kernel.metricsOf("trace").counter(TraceService.INVALID_SPANS).getCount()).isEqualTo(hostile.size());

    traces.accept(SpanBatch.newBuilder().setService("com.example.greeter").addSpans(span(VALID_TRACE)).build());
    assertThat(store.trace(VALID_TRACE)).isPresent();
  }

  @Test
  void everyPageEscapesEveryValueInARealBrowser() {
    assertThat(HeadlessChromium.binary()).as("no headless Chromium: run the tests with scripts/test.sh, which installs it").isNotNull();
    // past the service's checks: straight into the store, as rows an older version wrote
    store.add(List.of(
        span(SCRIPT).setService(SCRIPT).setEndpoint(ATTR).build(),
        span(VALID_TRACE).setSpanId(ATTR).setService(ATTR).setEndpoint(SCRIPT).setInstance(SCRIPT).setErrorCode(SCRIPT)
            .setRemoteService(SCRIPT).setVersion(ATTR).build(),
        span(VALID_TRACE).setSpanId("1111111111111111").setParentSpanId(ATTR).setKind(SpanKind.SPAN_KIND_CLIENT)
            .setService(ATTR).setRemoteService(SCRIPT).setEndpoint(SCRIPT).setErrorCode(ATTR).build()));
    String base = "http://127.0.0.1:" + kernel.web().port();
    for (String page : List.of("/traces", "/traces/view/" + VALID_TRACE, "/traces/graph")) {
      String dom = HeadlessChromium.dumpDom(base + page, Duration.ofSeconds(3));
      // a value that became markup would be an <img> element (text shows as &lt;img) and its onerror would set the title
      assertThat(dom).as(page).contains("</html>").doesNotContain("pwned</title>").doesNotContain("<img");
    }
    String list = HeadlessChromium.dumpDom(base + "/traces", Duration.ofSeconds(3));
    assertThat(list).as("the hostile trace id shows as text").contains("&lt;img src=x onerror=");
    String view = HeadlessChromium.dumpDom(base + "/traces/view/" + VALID_TRACE, Duration.ofSeconds(3));
    assertThat(view).as("the hostile names show as text").contains("&lt;img src=x onerror=");
  }
}
