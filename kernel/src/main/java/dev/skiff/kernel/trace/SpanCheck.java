package dev.skiff.kernel.trace;

import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.Names;
import dev.skiff.proto.v1.Span;
import java.util.Arrays;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Whether a span that arrived over the broker is one Skiff could have written: W3C-shaped ids, valid
 * service, endpoint, instance and version names, a known error code, sane times. Spans are hostile
 * input (any service may publish them), and their fields end up in pages, in Cassandra and in the
 * terminal: the trace service stores only spans that pass.
 */
final class SpanCheck {
  private static final Pattern TRACE_ID = Pattern.compile("[0-9a-f]{32}");
  private static final Pattern SPAN_ID = Pattern.compile("[0-9a-f]{16}");
  private static final Pattern REQUEST_ID = Pattern.compile("[A-Za-z0-9._:-]{1,128}");
  private static final String ZERO_TRACE = "0".repeat(32);
  /**
   * The largest span (serialized): every field Skiff writes is bounded, so only fields Skiff does not
   * know make one larger, and they would be stored as they came (docs/security.md, "Hostile input").
   */
  static final int MAX_SPAN_BYTES = 4096;
  private static final Set<String> CODES = Arrays.stream(ErrorCode.values()).map(Enum::name).collect(Collectors.toUnmodifiableSet());

  private SpanCheck() {}

  /**
   * @param s a span
   * @return why it is refused, or null when it is well-formed
   */
  static String problem(Span s) {
    if (s.getSerializedSize() > MAX_SPAN_BYTES) {
      return "span is over " + MAX_SPAN_BYTES + " bytes";
    }
    if (!TRACE_ID.matcher(s.getTraceId()).matches() || s.getTraceId().equals(ZERO_TRACE)) {
      return "trace id is not 32 lower-case hex characters";
    }
    if (!SPAN_ID.matcher(s.getSpanId()).matches()) {
      return "span id is not 16 lower-case hex characters";
    }
    if (!s.getParentSpanId().isEmpty() && !SPAN_ID.matcher(s.getParentSpanId()).matches()) {
      return "parent span id is not 16 lower-case hex characters";
    }
    if (!s.getService().isEmpty() && !Names.isService(s.getService())) {
      return "service is not a service name";
    }
    if (!s.getRemoteService().isEmpty() && !Names.isService(s.getRemoteService()) && !isToken(s.getRemoteService())) {
      return "remote service is not a name";
    }
    if (!s.getEndpoint().isEmpty() && !Names.isToken(s.getEndpoint())) {
      return "endpoint is not an endpoint name";
    }
    if (!s.getInstance().isEmpty() && !isToken(s.getInstance())) {
      return "instance is not an instance id";
    }
    if (!s.getRemoteInstance().isEmpty() && !isToken(s.getRemoteInstance())) {
      return "remote instance is not an instance id";
    }
    if (!s.getVersion().isEmpty() && !Names.isVersion(s.getVersion())) {
      return "version is not a version";
    }
    if (!s.getErrorCode().isEmpty() && !CODES.contains(s.getErrorCode())) {
      return "error code is not one of Skiff's";
    }
    if (!s.getRequestId().isEmpty() && !REQUEST_ID.matcher(s.getRequestId()).matches()) {
      return "request id is not an id";
    }
    if (s.getStartMicros() < 0 || s.getDurationMicros() < 0 || s.getAttempt() < 0) {
      return "times and attempt must not be negative";
    }
    return null;
  }

  private static boolean isToken(String s) {
    return s.length() <= 128 && Names.isToken(s);
  }
}
