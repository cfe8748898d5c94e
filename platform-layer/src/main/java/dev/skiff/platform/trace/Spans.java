package dev.skiff.platform.trace;

import dev.skiff.platform.observe.ClientEvent;
import dev.skiff.platform.observe.ServerEvent;
import dev.skiff.proto.v1.Span;
import dev.skiff.proto.v1.SpanKind;

/** Turns what the RPC observer saw into spans. Stateless. */
public final class Spans {
  private Spans() {}

  /**
   * The server side of a request: server receive to server reply.
   *
   * @param e the server's event
   * @return its span
   */
  public static Span of(ServerEvent e) {
    return Span.newBuilder()
        .setTraceId(e.traceId())
        .setSpanId(e.spanId())
        .setParentSpanId(e.parentSpanId())
        .setKind(SpanKind.SPAN_KIND_SERVER)
        .setService(e.service())
        .setInstance(e.instance())
        .setVersion(e.version())
        .setRemoteService(e.fromService())
        .setEndpoint(e.endpoint())
        .setStartMicros(e.receivedEpochMicros())
        .setDurationMicros(Math.max(1, e.durationNanos() / 1000))
        .setErrorCode(e.error() == null ? "" : e.error().name())
        .setRequestId(e.requestId())
        .setHandlerRan(e.handlerRan())
        .setReplied(e.replied())
        .build();
  }

  /**
   * One attempt of a call, the client side: client send to client receive (or its error or timeout).
   *
   * @param e the client's event
   * @param instance the calling instance's id, or ""
   * @return its span
   */
  public static Span of(ClientEvent e, String instance) {
    return Span.newBuilder()
        .setTraceId(e.traceId())
        .setSpanId(e.spanId())
        .setParentSpanId(e.parentSpanId())
        .setKind(SpanKind.SPAN_KIND_CLIENT)
        .setService(e.fromService())
        .setInstance(instance)
        .setRemoteService(e.service())
        .setRemoteInstance(e.answeredBy() == null ? "" : e.answeredBy())
        .setEndpoint(e.endpoint())
        .setStartMicros(e.sentEpochMicros())
        .setDurationMicros(Math.max(1, e.durationNanos() / 1000))
        .setErrorCode(e.error() == null ? "" : e.error().name())
        .setRequestId(e.requestId())
        .setAttempt(e.attempt())
        .setRetrying(e.retrying())
        .build();
  }
}
