package dev.skiff.platform.internal;

/**
 * A W3C trace context ({@code traceparent: 00-TRACEID-SPANID-FLAGS}). Not API.
 *
 * @param traceId 32 hex characters
 * @param spanId 16 hex characters: the span this context names
 * @param sampled whether the trace is recorded
 */
public record TraceContext(String traceId, String spanId, boolean sampled) {
  private static final String ZERO_TRACE = "0".repeat(32);
  private static final String ZERO_SPAN = "0".repeat(16);

  /** @param sampled whether to record it @return a new root context */
  public static TraceContext newRoot(boolean sampled) {
    return new TraceContext(Ids.random128(), Ids.random64(), sampled);
  }

  /** @return a context for a child span in the same trace */
  public TraceContext child() {
    return new TraceContext(traceId, Ids.random64(), sampled);
  }

  /** @return the header value */
  public String header() {
    return "00-" + traceId + "-" + spanId + (sampled ? "-01" : "-00");
  }

  /**
   * Parses a {@code traceparent} header strictly, as a header from outside is hostile: version {@code 00}
   * (the only one this code writes or knows), lower-case hex ids and flags, the three dashes, nothing
   * after the flags, and neither id all zeros. Anything else is no context (the callee starts a new trace),
   * as the W3C recommendation asks of a value that does not parse.
   *
   * @param header the value, may be null or malformed
   * @return the context, or null when absent or malformed
   */
  public static TraceContext parse(String header) {
    if (header == null || header.length() != 55 || !header.startsWith("00-") || header.charAt(35) != '-'
        || header.charAt(52) != '-') {
      return null;
    }
    String trace = header.substring(3, 35);
    String span = header.substring(36, 52);
    String flags = header.substring(53);
    if (!isHex(trace) || !isHex(span) || !isHex(flags) || trace.equals(ZERO_TRACE) || span.equals(ZERO_SPAN)) {
      return null;
    }
    boolean sampled = (Character.digit(flags.charAt(1), 16) & 1) == 1;
    return new TraceContext(trace, span, sampled);
  }

  private static boolean isHex(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
        return false;
      }
    }
    return true;
  }
}
