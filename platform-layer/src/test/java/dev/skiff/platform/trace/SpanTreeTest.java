package dev.skiff.platform.trace;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.proto.v1.Span;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A trace's spans as a tree: every span shown once, and every walk ends, whatever the parents say. */
class SpanTreeTest {
  private static Span span(String id, String parent) {
    return Span.newBuilder().setTraceId("t").setSpanId(id).setParentSpanId(parent).build();
  }

  /** Walks the tree as the printers do, collecting what it shows; fails rather than loop forever. */
  private static List<String> shown(SpanTree tree) {
    List<String> out = new ArrayList<>();
    for (Span r : tree.roots()) {
      walk(tree, r, out);
    }
    return out;
  }

  private static void walk(SpanTree tree, Span s, List<String> out) {
    assertThat(out.size()).as("a walk that does not end").isLessThan(100);
    out.add(s.getSpanId());
    for (Span c : tree.childrenOf(s)) {
      walk(tree, c, out);
    }
  }

  @Test
  void childrenHangUnderTheirParentsAndSpansWithoutOneAreRoots() {
    SpanTree tree = SpanTree.of(List.of(span("a", ""), span("b", "a"), span("c", "b"), span("d", "gone")));
    assertThat(tree.roots()).extracting(Span::getSpanId).containsExactly("a", "d");
    assertThat(shown(tree)).containsExactly("a", "b", "c", "d");
  }

  @Test
  void aSpanThatIsItsOwnParentIsShownOnce() {
    SpanTree tree = SpanTree.of(List.of(span("a", ""), span("b", "a"), span("x", "x")));
    assertThat(shown(tree)).containsExactlyInAnyOrder("a", "b", "x");
  }

  @Test
  void aLoopOfParentsIsShownOnceFromItsFirstSpan() {
    SpanTree tree = SpanTree.of(List.of(span("p", "r"), span("q", "p"), span("r", "q"), span("s", "q")));
    assertThat(tree.roots()).extracting(Span::getSpanId).containsExactly("p");
    assertThat(shown(tree)).containsExactlyInAnyOrder("p", "q", "r", "s");
  }
}
