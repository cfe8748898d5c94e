package dev.skiff.platform.trace;

import dev.skiff.proto.v1.Span;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * A trace's spans as a tree, as the command line and the trace pages show it: the roots (spans whose
 * parent is not in the trace) and each span's children, in the order given.
 *
 * @param roots the spans with no parent in the trace
 * @param children each span's children, by span id
 */
public record SpanTree(List<Span> roots, Map<String, List<Span>> children) {
  /**
   * @param spans a trace's spans
   * @return them as a tree
   */
  public static SpanTree of(List<Span> spans) {
    Set<String> ids = spans.stream().map(Span::getSpanId).collect(Collectors.toSet());
    Map<String, List<Span>> children = new HashMap<>();
    List<Span> roots = new ArrayList<>();
    for (Span s : spans) {
      if (ids.contains(s.getParentSpanId())) {
        children.computeIfAbsent(s.getParentSpanId(), k -> new ArrayList<>()).add(s);
      } else {
        roots.add(s);
      }
    }
    return new SpanTree(List.copyOf(roots), Map.copyOf(children));
  }

  /**
   * @param span a span of the trace
   * @return its children, in the order given
   */
  public List<Span> childrenOf(Span span) {
    return children.getOrDefault(span.getSpanId(), List.of());
  }
}
