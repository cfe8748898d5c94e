package dev.skiff.kernel.trace;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.platform.transport.Transport;
import dev.skiff.platform.transport.inprocess.InProcessTransport;
import dev.skiff.proto.v1.Span;
import dev.skiff.testing.HeadlessChromium;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The traced call chain over the in-process transport, and its pages in a real headless Chromium. */
class InProcessTraceChainTest extends TraceChainContract {
  @Override
  protected Transport newTransport() {
    return InProcessTransport.create();
  }

  @Test
  void aBrowserShowsEverySpanOfTheTraceInTheSequenceDiagramAndTheServiceGraph() {
    assertThat(HeadlessChromium.binary()).as("no headless Chromium: run the tests with scripts/test.sh, which installs it").isNotNull();
    List<Span> spans = tracedOrder();
    String id = spans.get(0).getTraceId();
    String base = "http://127.0.0.1:" + kernel.web().port();

    String list = HeadlessChromium.dumpDom(base + "/traces", Duration.ofSeconds(3));
    assertThat(list).contains("href=\"/traces/view/" + id + "\"").contains(svc("front") + "/order");

    String view = HeadlessChromium.dumpDom(base + "/traces/view/" + id, Duration.ofSeconds(3));
    assertThat(view).contains("<svg").contains("class=\"sequence\"");
    for (Span s : spans) {
      String kind = s.getKind() == dev.skiff.proto.v1.SpanKind.SPAN_KIND_CLIENT ? "client" : "server";
      assertThat(view).as("span %s in the diagram", s.getSpanId())
          .contains("<g class=\"span " + kind + "\" id=\"span-" + s.getSpanId() + "\" data-span-id=\"" + s.getSpanId() + "\"");
      assertThat(view).as("span %s in the table", s.getSpanId()).contains("<tr data-span-id=\"" + s.getSpanId() + "\"");
    }
    for (String name : List.of("test-user", svc("front"), svc("inventory"), svc("pricing"), svc("shipping"), svc("tax"))) {
      assertThat(view).contains("class=\"participant\" data-service=\"" + name + "\"");
    }
    HeadlessChromium.screenshot(base + "/traces/view/" + id, Path.of("target/trace-sequence.png"), Duration.ofSeconds(3));

    String graph = HeadlessChromium.dumpDom(base + "/traces/graph", Duration.ofSeconds(3));
    assertThat(graph).contains("data-from=\"" + svc("front") + "\" data-to=\"" + svc("pricing") + "\"")
        .contains("data-from=\"" + svc("pricing") + "\" data-to=\"" + svc("tax") + "\"")
        .contains("class=\"node\" data-service=\"" + svc("tax") + "\" data-health=\"OK\"");
    HeadlessChromium.screenshot(base + "/traces/graph", Path.of("target/service-graph.png"), Duration.ofSeconds(3));

    String retried = tracedRetryAndTimeout();
    String failures = HeadlessChromium.dumpDom(base + "/traces/view/" + retried, Duration.ofSeconds(3));
    assertThat(failures).contains("UNAVAILABLE, retry").contains(">timeout<");
    HeadlessChromium.screenshot(base + "/traces/view/" + retried, Path.of("target/trace-retry-timeout.png"), Duration.ofSeconds(3));

    String unknown = HeadlessChromium.dumpDom(base + "/traces/view/0123456789abcdef0123456789abcdef", Duration.ofSeconds(3));
    assertThat(unknown).contains("NOT_FOUND: no trace 0123456789abcdef0123456789abcdef");
  }
}
