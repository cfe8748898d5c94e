package dev.skiff.gateway;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * A path template of a {@code google.api.http} rule ({@code /v1/{name=shelves/*}/books/{book}:publish}),
 * compiled, and matched against request paths. Grammar (google/api/http.proto):
 *
 * <pre>
 * Template = "/" Segments [ Verb ] ;  Segments = Segment { "/" Segment } ;
 * Segment  = "*" | "**" | LITERAL | Variable ;  Variable = "{" FieldPath [ "=" Segments ] "}" ;
 * FieldPath = IDENT { "." IDENT } ;  Verb = ":" LITERAL ;
 * </pre>
 *
 * {@code {x}} is short for {@code {x=*}}; {@code **} may only be the last segment. Immutable; thread-safe.
 */
final class PathTemplate {
  /** The most segments a template or a matched path may have. */
  static final int MAX_SEGMENTS = 32;
  /** The most components of a field path ({@code a.b.c}). */
  static final int MAX_FIELD_DEPTH = 8;

  private static final Pattern IDENT = Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,127}");
  private static final Pattern LITERAL = Pattern.compile("[A-Za-z0-9._~!$&'()+,;=@-]{1,128}");

  private final String text;
  /** Each segment: a literal, {@code *} or {@code **}. */
  private final List<String> segments;
  private final List<Variable> variables;
  private final String verb;

  /** A variable: its field path and the segments it spans, from (inclusive) to (exclusive). */
  record Variable(String fieldPath, int from, int to) {}

  private PathTemplate(String text, List<String> segments, List<Variable> variables, String verb) {
    this.text = text;
    this.segments = List.copyOf(segments);
    this.variables = List.copyOf(variables);
    this.verb = verb;
  }

  /**
   * @param template the template text (untrusted: it comes from an announcement)
   * @return the compiled template
   * @throws IllegalArgumentException saying what is wrong with it
   */
  static PathTemplate parse(String template) {
    if (template == null || template.isEmpty() || template.charAt(0) != '/' || template.length() > 1024) {
      throw new IllegalArgumentException("a path template starts with / and has at most 1024 characters");
    }
    String body = template.substring(1);
    String verb = null;
    int lastSlash = body.lastIndexOf('/');
    int closing = body.lastIndexOf('}');
    int colon = body.lastIndexOf(':');
    if (colon > lastSlash && colon > closing) {
      verb = body.substring(colon + 1);
      if (!LITERAL.matcher(verb).matches()) {
        throw new IllegalArgumentException("invalid verb");
      }
      body = body.substring(0, colon);
    }
    List<String> segments = new ArrayList<>();
    List<Variable> variables = new ArrayList<>();
    int i = 0;
    while (i <= body.length()) {
      if (segments.size() >= MAX_SEGMENTS) {
        throw new IllegalArgumentException("more than " + MAX_SEGMENTS + " segments");
      }
      if (i < body.length() && body.charAt(i) == '{') {
        int end = body.indexOf('}', i);
        if (end < 0) {
          throw new IllegalArgumentException("unclosed {");
        }
        String inside = body.substring(i + 1, end);
        int eq = inside.indexOf('=');
        String field = eq < 0 ? inside : inside.substring(0, eq);
        checkFieldPath(field);
        if (variables.stream().anyMatch(v -> v.fieldPath().equals(field))) {
          throw new IllegalArgumentException("field " + field + " bound twice");
        }
        int from = segments.size();
        if (eq < 0) {
          segments.add("*");
        } else {
          for (String s : inside.substring(eq + 1).split("/", -1)) {
            segments.add(checkSegment(s));
          }
        }
        variables.add(new Variable(field, from, segments.size()));
        i = end + 1;
      } else {
        int end = body.indexOf('/', i);
        end = end < 0 ? body.length() : end;
        String s = body.substring(i, end);
        if (s.contains("{") || s.contains("}")) {
          throw new IllegalArgumentException("a variable must be a whole segment");
        }
        segments.add(checkSegment(s));
        i = end;
      }
      if (i >= body.length()) {
        break;
      }
      if (body.charAt(i) != '/') {
        throw new IllegalArgumentException("a variable must be a whole segment");
      }
      i++;
      if (i == body.length()) {
        throw new IllegalArgumentException("a template does not end with /");
      }
    }
    for (int s = 0; s < segments.size() - 1; s++) {
      if (segments.get(s).equals("**")) {
        throw new IllegalArgumentException("** may only be the last segment");
      }
    }
    return new PathTemplate(template, segments, variables, verb);
  }

  private static String checkSegment(String s) {
    if (s.equals("*") || s.equals("**") || LITERAL.matcher(s).matches()) {
      return s;
    }
    throw new IllegalArgumentException("invalid segment");
  }

  private static void checkFieldPath(String field) {
    String[] parts = field.split("\\.", -1);
    if (parts.length > MAX_FIELD_DEPTH) {
      throw new IllegalArgumentException("field path deeper than " + MAX_FIELD_DEPTH);
    }
    for (String p : parts) {
      if (!IDENT.matcher(p).matches()) {
        throw new IllegalArgumentException("invalid field path");
      }
    }
  }

  /**
   * Matches a request path.
   *
   * @param rawPath the request's path, still percent-encoded (untrusted): split at each {@code /}, then each
   *     segment decoded once ({@link #decode}), so that an encoded {@code /} is part of a segment, never a separator
   * @return the variables' values by field path (decoded), or empty when the path does not match
   * @throws IllegalArgumentException when a matching path holds a malformed percent-encoding
   */
  Optional<Map<String, String>> match(String rawPath) {
    if (rawPath == null || rawPath.isEmpty() || rawPath.charAt(0) != '/') {
      return Optional.empty();
    }
    String path = rawPath.substring(1);
    if (verb != null) {
      if (!path.endsWith(":" + verb)) {
        return Optional.empty();
      }
      path = path.substring(0, path.length() - verb.length() - 1);
    }
    String[] parts = path.split("/", MAX_SEGMENTS + 2);
    if (parts.length > MAX_SEGMENTS + 1) {
      return Optional.empty();
    }
    boolean tail = segments.get(segments.size() - 1).equals("**");
    if (tail ? parts.length < segments.size() - 1 : parts.length != segments.size()) {
      return Optional.empty();
    }
    for (int s = 0; s < segments.size(); s++) {
      String want = segments.get(s);
      if (want.equals("**")) {
        break;
      }
      // a literal matches its segment decoded (hell%6F is hello); an encoded / in it never matches one
      if (parts[s].isEmpty() || (!want.equals("*") && !want.equals(parts[s]) && (parts[s].indexOf('%') < 0 || !want.equals(decode(parts[s]))))) {
        return Optional.empty();
      }
    }
    Map<String, String> values = new LinkedHashMap<>();
    for (Variable v : variables) {
      StringBuilder value = new StringBuilder();
      int to = v.to() == segments.size() && tail ? parts.length : v.to();
      for (int s = v.from(); s < to; s++) {
        if (s > v.from()) {
          value.append('/');
        }
        value.append(decode(parts[s]));
      }
      values.put(v.fieldPath(), value.toString());
    }
    return Optional.of(values);
  }

  /**
   * Decodes one segment of a raw path, once, as gRPC transcoding does: {@code %2F} is a {@code /} of the
   * value (the path was split before), {@code %25} a {@code %}, {@code +} itself.
   *
   * @param segment a segment of the raw path, between two {@code /}
   * @return it percent-decoded
   * @throws IllegalArgumentException when a {@code %} is not followed by two hex digits, or the bytes are
   *     not UTF-8
   */
  static String decode(String segment) {
    try {
      return PercentDecoding.decode(segment, false);
    } catch (PercentDecoding.Refused e) {
      throw new IllegalArgumentException(e.fault == PercentDecoding.Fault.MALFORMED
          ? "malformed percent-encoding in the path" : "the path's percent-encoding is not valid UTF-8");
    }
  }

  /** @return the field paths its variables bind */
  List<String> fieldPaths() {
    return variables.stream().map(Variable::fieldPath).toList();
  }

  /** @return how many literal segments it has: of two templates that match a path, the more specific wins */
  int literals() {
    return (int) segments.stream().filter(s -> !s.equals("*") && !s.equals("**")).count() + (verb == null ? 0 : 1);
  }

  /**
   * @return the literal every matching path starts with as its first segment ({@code v1} for
   *     {@code /v1/things/{id}}, {@code shelves} for {@code /{name=shelves/*}}), or empty when the first
   *     segment is a wildcard
   */
  Optional<String> firstLiteral() {
    String first = segments.get(0);
    return first.equals("*") || first.equals("**") ? Optional.empty() : Optional.of(first);
  }

  /** @return the template as written */
  @Override
  public String toString() {
    return text;
  }

  /** @return an OpenAPI path: each variable as {@code {field.path}} */
  String openApiPath() {
    StringBuilder b = new StringBuilder();
    int s = 0;
    for (Variable v : variables) {
      for (; s < v.from(); s++) {
        b.append('/').append(segments.get(s));
      }
      b.append("/{").append(v.fieldPath()).append('}');
      s = v.to();
    }
    for (; s < segments.size(); s++) {
      b.append('/').append(segments.get(s));
    }
    return (verb == null ? b : b.append(':').append(verb)).toString();
  }
}
