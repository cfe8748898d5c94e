package dev.skiff.platform.trace;

import static dev.skiff.platform.internal.JsonStrings.quote;

import dev.skiff.proto.v1.Span;
import dev.skiff.proto.v1.SpanKind;
import java.util.Collection;
import java.util.Locale;

/**
 * Spans as Zipkin v2 JSON (a JSON array of span objects: {@code traceId}, {@code id}, {@code parentId},
 * {@code kind}, {@code name}, {@code timestamp} and {@code duration} in microseconds,
 * {@code localEndpoint} and {@code remoteEndpoint} with {@code serviceName}, {@code annotations},
 * {@code tags}), the format Zipkin's {@code POST /api/v2/spans} takes and Jaeger imports.
 *
 * <p>Each span is named {@code endpoint}; the span's start and end are the annotations Zipkin v1 called
 * {@code cs}/{@code cr} (client) and {@code sr}/{@code ss} (server) and are implied by the kind, timestamp
 * and duration. A failed span has the tag {@code error} set to its code; a timed out attempt has the
 * annotation {@code timeout}, one that is retried the annotation {@code retry}. Stateless.
 */
public final class ZipkinJson {
  private ZipkinJson() {}

  /**
   * @param spans the spans
   * @return them as a Zipkin v2 JSON array
   */
  public static String of(Collection<Span> spans) {
    StringBuilder b = new StringBuilder(256 * Math.max(1, spans.size())).append('[');
    boolean first = true;
    for (Span s : spans) {
      if (!first) {
        b.append(',');
      }
      first = false;
      append(b, s);
    }
    return b.append(']').toString();
  }

  private static void append(StringBuilder b, Span s) {
    boolean client = s.getKind() == SpanKind.SPAN_KIND_CLIENT;
    b.append("{\"traceId\":").append(quote(s.getTraceId()));
    b.append(",\"id\":").append(quote(s.getSpanId()));
    if (!s.getParentSpanId().isEmpty()) {
      b.append(",\"parentId\":").append(quote(s.getParentSpanId()));
    }
    b.append(",\"kind\":").append(quote(client ? "CLIENT" : "SERVER"));
    b.append(",\"name\":").append(quote(s.getEndpoint().toLowerCase(Locale.ROOT)));
    b.append(",\"timestamp\":").append(s.getStartMicros());
    b.append(",\"duration\":").append(Math.max(1, s.getDurationMicros()));
    b.append(",\"localEndpoint\":{\"serviceName\":").append(quote(orUnknown(s.getService()))).append('}');
    if (!s.getRemoteService().isEmpty()) {
      b.append(",\"remoteEndpoint\":{\"serviceName\":").append(quote(s.getRemoteService())).append('}');
    }
    long end = s.getStartMicros() + Math.max(1, s.getDurationMicros());
    StringBuilder annotations = new StringBuilder();
    if (s.getErrorCode().equals("TIMEOUT")) {
      annotation(annotations, end, "timeout");
    }
    if (s.getRetrying()) {
      annotation(annotations, end, "retry");
    }
    if (annotations.length() > 0) {
      b.append(",\"annotations\":[").append(annotations).append(']');
    }
    b.append(",\"tags\":{");
    b.append("\"skiff.endpoint\":").append(quote(s.getEndpoint()));
    b.append(",\"skiff.request_id\":").append(quote(s.getRequestId()));
    if (!s.getInstance().isEmpty()) {
      b.append(",\"skiff.instance\":").append(quote(s.getInstance()));
    }
    if (client) {
      b.append(",\"skiff.attempt\":").append(quote(Integer.toString(s.getAttempt())));
      if (!s.getRemoteInstance().isEmpty()) {
        b.append(",\"skiff.answered_by\":").append(quote(s.getRemoteInstance()));
      }
    } else {
      if (!s.getVersion().isEmpty()) {
        b.append(",\"skiff.version\":").append(quote(s.getVersion()));
      }
      if (!s.getHandlerRan()) {
        b.append(",\"skiff.handler_ran\":\"false\"");
      }
      if (!s.getReplied()) {
        b.append(",\"skiff.replied\":\"false\"");
      }
    }
    if (!s.getErrorCode().isEmpty()) {
      b.append(",\"error\":").append(quote(s.getErrorCode()));
    }
    b.append("}}");
  }

  private static void annotation(StringBuilder b, long micros, String value) {
    if (b.length() > 0) {
      b.append(',');
    }
    b.append("{\"timestamp\":").append(micros).append(",\"value\":").append(quote(value)).append('}');
  }

  private static String orUnknown(String service) {
    return service.isEmpty() ? "unknown" : service;
  }
}
