package dev.skiff.platform.transport.amqp;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.LongString;
import dev.skiff.platform.transport.ContentTypes;
import dev.skiff.platform.transport.ReplyMessage;
import dev.skiff.platform.transport.RequestMessage;
import java.util.HashMap;
import java.util.Map;

/**
 * The mapping between messages and AMQP properties (docs/wire-protocol.md).
 *
 * <p>A request's fields travel in standard AMQP properties where one means exactly that field
 * ({@code message_id} = request id, {@code type} = endpoint) and in two headers: the W3C
 * {@code traceparent} and one {@code skiff} header packing the rest as {@code ;}-separated text. The
 * broker and amqp-client encode and decode a header table entry by entry, on every message: one packed
 * entry instead of nine took a measurable share of Skiff's cost per call off both (docs/performance.md).
 * A reply carries one {@code skiff} header. The target service is the routing key, not a header.
 */
final class Headers {
  /** The packed header of requests and replies. */
  static final String SKIFF = "skiff";
  static final String TRACEPARENT = "traceparent";

  static final String STATUS_OK = "ok";
  static final String STATUS_ERROR = "error";
  static final String IDEMPOTENT = "idempotent";

  private static final char SEP = ';';

  private Headers() {}

  /**
   * The {@code skiff} header of a request: {@code DEADLINE;SENT;FROM_SERVICE;FROM_INSTANCE[;ACCEPT]}
   * (times in milliseconds since the epoch; {@code ACCEPT} only when it differs from the content type).
   */
  static String requestHeader(RequestMessage m) {
    StringBuilder b = new StringBuilder(64)
        .append(m.deadlineEpochMillis()).append(SEP)
        .append(m.sentEpochMillis()).append(SEP)
        .append(m.fromService()).append(SEP)
        .append(m.fromInstance());
    if (m.accept() != null && !m.accept().equals(m.contentType())) {
      b.append(SEP).append(m.accept());
    }
    return b.toString();
  }

  /** @param ttl whether to set the per-message TTL ({@code expiration}) to the time left */
  static AMQP.BasicProperties requestProperties(RequestMessage m, long nowMillis, String userId, boolean ttl) {
    Map<String, Object> h = new HashMap<>(4);
    h.put(SKIFF, requestHeader(m));
    h.put(TRACEPARENT, m.traceparent());
    String expiration = ttl ? Long.toString(Math.max(1, m.deadlineEpochMillis() - nowMillis)) : null;
    return new AMQP.BasicProperties.Builder()
        .correlationId(m.correlationId())
        .messageId(m.requestId())
        .type(m.endpoint())
        .replyTo(m.replyTo())
        .contentType(m.contentType())
        .deliveryMode(1)
        .expiration(expiration)
        .userId(userId)
        .headers(h)
        .build();
  }

  /**
   * A request as it arrived. Missing or malformed fields read as empty (or 0: no deadline), so that the
   * server answers such a message with a clear error instead of dropping it.
   *
   * @param service the service whose queue it came from
   */
  static RequestMessage request(String service, AMQP.BasicProperties p, byte[] body) {
    Map<String, Object> h = p.getHeaders() == null ? Map.of() : p.getHeaders();
    String[] f = split(str(h, SKIFF), 5);
    String contentType = p.getContentType() == null ? ContentTypes.PROTOBUF : p.getContentType();
    return new RequestMessage(
        p.getCorrelationId() == null ? "" : p.getCorrelationId(),
        p.getMessageId() == null ? "" : p.getMessageId(),
        service,
        p.getType() == null ? "" : p.getType(),
        null,
        null,
        num(f[0]),
        num(f[1]),
        f[2],
        f[3],
        str(h, TRACEPARENT),
        contentType,
        f[4].isEmpty() ? contentType : f[4],
        p.getUserId(),
        p.getReplyTo(),
        body);
  }

  /**
   * The properties of a request handed back to its queue: the same, with the time to live (if it had
   * one) counted again from now.
   */
  static AMQP.BasicProperties requeueProperties(AMQP.BasicProperties p, long nowMillis) {
    Map<String, Object> h = p.getHeaders() == null ? Map.of() : p.getHeaders();
    long deadline = num(split(str(h, SKIFF), 2)[0]);
    String expiration =
        deadline == 0 || p.getExpiration() == null ? p.getExpiration() : Long.toString(Math.max(1, deadline - nowMillis));
    return p.builder().expiration(expiration).build();
  }

  /** The {@code skiff} header of a reply: {@code STATUS;VERSION;INSTANCE[;idempotent]}. */
  static AMQP.BasicProperties replyProperties(ReplyMessage r) {
    String packed = (r.ok() ? STATUS_OK : STATUS_ERROR) + SEP + r.serviceVersion() + SEP + r.instance()
        + (r.idempotent() ? SEP + IDEMPOTENT : "");
    return new AMQP.BasicProperties.Builder()
        .correlationId(r.correlationId())
        .contentType(r.contentType())
        .deliveryMode(1)
        .headers(Map.of(SKIFF, packed))
        .build();
  }

  /**
   * A reply as it arrived; the answering service is not on the wire (the caller knows whom it called).
   * A reply without a readable status counts as an error reply, whose body then fails to decode as one
   * and is reported as such.
   */
  static ReplyMessage reply(AMQP.BasicProperties p, byte[] body) {
    Map<String, Object> h = p.getHeaders() == null ? Map.of() : p.getHeaders();
    String[] f = split(str(h, SKIFF), 4);
    return new ReplyMessage(
        p.getCorrelationId() == null ? "" : p.getCorrelationId(),
        STATUS_OK.equals(f[0]),
        p.getContentType() == null ? ContentTypes.PROTOBUF : p.getContentType(),
        "",
        f[1],
        f[2],
        IDEMPOTENT.equals(f[3]),
        body);
  }

  /**
   * Splits a packed header into exactly {@code n} fields; missing fields are empty, and the last field
   * takes the rest of the text (a content type may itself contain {@code ;}).
   */
  static String[] split(String s, int n) {
    String[] out = new String[n];
    int start = 0;
    for (int i = 0; i < n; i++) {
      if (start > s.length()) {
        out[i] = "";
        continue;
      }
      int end = i == n - 1 ? -1 : s.indexOf(SEP, start);
      if (end < 0) {
        out[i] = s.substring(start);
        start = s.length() + 1;
      } else {
        out[i] = s.substring(start, end);
        start = end + 1;
      }
    }
    return out;
  }

  static String str(Map<String, Object> h, String key) {
    Object v = h.get(key);
    if (v == null) {
      return "";
    }
    if (v instanceof LongString ls) {
      return ls.toString();
    }
    return v.toString();
  }

  /** A decimal number; 0 when empty or not a number. */
  static long num(String s) {
    if (s.isEmpty()) {
      return 0;
    }
    try {
      return Long.parseLong(s);
    } catch (NumberFormatException e) {
      return 0;
    }
  }
}
