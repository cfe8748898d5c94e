package dev.skiff.kernel.trace;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.proto.v1.Span;
import dev.skiff.proto.v1.SpanKind;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The sequence diagram's labels stay readable where calls crowd: none covers another (parallel calls,
 * a reply coming back as the next calls leave), whatever their number.
 */
class SequenceDiagramTest {
  private static final Pattern LABEL = Pattern.compile("<text class=\"label\" x=\"([0-9.]+)\" y=\"([0-9.]+)\" fill=\"[^\"]+\">([^<]*)</text>");

  @Test
  void noLabelCoversAnotherWhereCallsCrowd() {
    List<Span> spans = new ArrayList<>();
    spans.add(server("s0", "", "test-user", "shop.front", "order", 0, 80_000, ""));
    // inventory answers just as six parallel quotes, a rate and a failing reserve leave
    spans.add(client("c1", "s0", "shop.front", "shop.inventory", "check", 13_000, 22_500, ""));
    spans.add(server("s1", "c1", "shop.front", "shop.inventory", "check", 13_100, 22_300, ""));
    for (int i = 0; i < 6; i++) {
      spans.add(client("q" + i, "s0", "shop.front", "shop.pricing", "quote", 35_600 + i * 20, 30_000, ""));
      spans.add(server("qs" + i, "q" + i, "shop.front", "shop.pricing", "quote", 35_650 + i * 20, 29_900, ""));
    }
    spans.add(client("c2", "s0", "shop.front", "shop.shipping", "rate-for-a-long-route", 35_700, 40_000, ""));
    spans.add(server("s2", "c2", "shop.front", "shop.shipping", "rate-for-a-long-route", 35_750, 39_900, ""));
    spans.add(client("c3", "s0", "shop.front", "shop.pricing", "reserve", 35_720, 200, "CONFLICT"));

    String svg = SequenceDiagram.svg(spans);

    List<LabelPlacer.Placed> shown = new ArrayList<>();
    Matcher m = LABEL.matcher(svg);
    while (m.find()) {
      LabelPlacer.Label l = new LabelPlacer.Label(Double.parseDouble(m.group(1)), 0, true, m.group(3), "");
      shown.add(new LabelPlacer.Placed(l, Double.parseDouble(m.group(2))));
    }
    assertThat(shown).extracting(p -> p.label().text())
        .contains("order", "check", "quote", "rate-for-a-long-route", "reserve", "CONFLICT");
    for (int i = 0; i < shown.size(); i++) {
      for (int j = i + 1; j < shown.size(); j++) {
        assertThat(shown.get(i).covers(shown.get(j))).as("%s covers %s", shown.get(i), shown.get(j)).isFalse();
      }
    }
    assertThat(svg).as("labels on a halo of the background").contains("paint-order=\"stroke\"");
  }

  @Test
  void aLabelMovesAwayFromItsArrowUntilFreeAndOneSayingTheSameAsTheLabelThereIsLeftOut() {
    LabelPlacer placer = new LabelPlacer();
    LabelPlacer.Placed first = placer.place(new LabelPlacer.Label(100, 200, true, "quote", "#333"));
    assertThat(first.baseline()).isEqualTo(196);
    assertThat(placer.place(new LabelPlacer.Label(101, 201, true, "quote", "#333"))).as("says the same").isNull();
    LabelPlacer.Placed other = placer.place(new LabelPlacer.Label(102, 201, true, "rate", "#333"));
    assertThat(other.baseline()).as("a line further up").isLessThan(first.baseline() - LabelPlacer.FONT);
    LabelPlacer.Placed below = placer.place(new LabelPlacer.Label(100, 199, false, "CONFLICT", "#d64541"));
    assertThat(below.baseline()).as("below its arrow, where nothing is").isGreaterThan(199);
    LabelPlacer.Placed apart = placer.place(new LabelPlacer.Label(400, 200, true, "quote", "#333"));
    assertThat(apart.baseline()).as("far enough to the side: its own place").isEqualTo(196);
  }

  private static Span client(String id, String parent, String from, String to, String endpoint, long start, long micros, String error) {
    return Span.newBuilder().setTraceId("t").setSpanId(id).setParentSpanId(parent).setKind(SpanKind.SPAN_KIND_CLIENT)
        .setService(from).setRemoteService(to).setEndpoint(endpoint).setStartMicros(start).setDurationMicros(micros)
        .setErrorCode(error).setAttempt(1).build();
  }

  private static Span server(String id, String parent, String from, String to, String endpoint, long start, long micros, String error) {
    return Span.newBuilder().setTraceId("t").setSpanId(id).setParentSpanId(parent).setKind(SpanKind.SPAN_KIND_SERVER)
        .setService(to).setRemoteService(from).setEndpoint(endpoint).setStartMicros(start).setDurationMicros(micros)
        .setErrorCode(error).setInstance("i1").build();
  }
}
