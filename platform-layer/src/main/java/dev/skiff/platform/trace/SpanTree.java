package dev.skiff.platform.trace;

import dev.skiff.proto.v1.Span;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
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
    // Spans in a parent loop (a span its own ancestor, itself included: only a broken or hostile sender
    // makes one) reach no root. The first of them is shown as a root and the link back to it dropped, so
    // that every span is shown once and every walk down the tree ends.
    Set<String> reached = new HashSet<>();
    for (Span r : roots) {
      reach(r, children, reached);
    }
    for (Span s : spans) {
      if (!reached.contains(s.getSpanId())) {
        roots.add(s);
        reach(s, children, reached);
      }
    }
    Map<String, List<Span>> frozen = new HashMap<>();
    children.forEach((id, c) -> frozen.put(id, List.copyOf(c)));
    return new SpanTree(List.copyOf(roots), Map.copyOf(frozen));
  }

  /** Marks what is reached from a span, dropping every link to a span reached already (a loop's way back). */
  private static void reach(Span from, Map<String, List<Span>> children, Set<String> reached) {
    Deque<Span> todo = new ArrayDeque<>();
    todo.push(from);
    while (!todo.isEmpty()) {
      Span s = todo.pop();
      if (!reached.add(s.getSpanId())) {
        continue;
      }
      List<Span> c = children.get(s.getSpanId());
      if (c != null) {
        c.removeIf(child -> reached.contains(child.getSpanId()));
        c.forEach(todo::push);
      }
    }
  }

  /**
   * @param span a span of the trace
   * @return its children, in the order given
   */
  public List<Span> childrenOf(Span span) {
    return children.getOrDefault(span.getSpanId(), List.of());
  }
}
