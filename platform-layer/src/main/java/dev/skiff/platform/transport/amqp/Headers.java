package dev.skiff.platform.transport.amqp;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.LongString;
import dev.skiff.platform.transport.ContentTypes;
import dev.skiff.platform.transport.ReplyMessage;
import dev.skiff.platform.transport.RequestMessage;
import java.util.HashMap;
import java.util.Map;

/** The AMQP headers Skiff sets, and the mapping between messages and AMQP properties. */
final class Headers {
  static final String SERVICE = "skiff-service";
  static final String ENDPOINT = "skiff-endpoint";
  static final String REQUEST_ID = "skiff-request-id";
  static final String DEADLINE = "skiff-deadline";
  static final String SENT = "skiff-sent";
  static final String FROM_SERVICE = "skiff-from-service";
  static final String FROM_INSTANCE = "skiff-from-instance";
  static final String TARGET_INSTANCE = "skiff-target-instance";
  static final String TARGET_VERSION = "skiff-target-version";
  static final String ACCEPT = "skiff-accept";
  static final String TRACEPARENT = "traceparent";
  static final String STATUS = "skiff-status";
  static final String SERVICE_VERSION = "skiff-service-version";
  static final String INSTANCE = "skiff-instance";
  static final String IDEMPOTENT = "skiff-idempotent";

  static final String STATUS_OK = "ok";
  static final String STATUS_ERROR = "error";

  private Headers() {}

  static AMQP.BasicProperties requestProperties(RequestMessage m, long nowMillis, String userId) {
    Map<String, Object> h = new HashMap<>(16);
    h.put(SERVICE, m.service());
    h.put(ENDPOINT, m.endpoint());
    h.put(REQUEST_ID, m.requestId());
    h.put(DEADLINE, m.deadlineEpochMillis());
    h.put(SENT, m.sentEpochMillis());
    h.put(FROM_SERVICE, m.fromService());
    h.put(FROM_INSTANCE, m.fromInstance());
    if (m.targetInstance() != null) {
      h.put(TARGET_INSTANCE, m.targetInstance());
    }
    if (m.targetVersion() != null) {
      h.put(TARGET_VERSION, m.targetVersion());
    }
    h.put(ACCEPT, m.accept());
    h.put(TRACEPARENT, m.traceparent());
    long ttl = Math.max(1, m.deadlineEpochMillis() - nowMillis);
    return new AMQP.BasicProperties.Builder()
        .correlationId(m.correlationId())
        .replyTo(m.replyTo())
        .contentType(m.contentType())
        .deliveryMode(1)
        .expiration(Long.toString(ttl))
        .userId(userId)
        .headers(h)
        .build();
  }

  static RequestMessage request(AMQP.BasicProperties p, byte[] body) {
    Map<String, Object> h = p.getHeaders() == null ? Map.of() : p.getHeaders();
    return new RequestMessage(
        p.getCorrelationId() == null ? "" : p.getCorrelationId(),
        str(h, REQUEST_ID),
        str(h, SERVICE),
        str(h, ENDPOINT),
        h.containsKey(TARGET_INSTANCE) ? str(h, TARGET_INSTANCE) : null,
        h.containsKey(TARGET_VERSION) ? str(h, TARGET_VERSION) : null,
        num(h, DEADLINE),
        num(h, SENT),
        str(h, FROM_SERVICE),
        str(h, FROM_INSTANCE),
        str(h, TRACEPARENT),
        p.getContentType() == null ? ContentTypes.PROTOBUF : p.getContentType(),
        h.containsKey(ACCEPT) ? str(h, ACCEPT) : p.getContentType(),
        p.getUserId(),
        p.getReplyTo(),
        body);
  }

  /**
   * The properties of a request handed back to its queue: the same, with the time to live counted
   * again from now.
   */
  static AMQP.BasicProperties requeueProperties(AMQP.BasicProperties p, long nowMillis) {
    Map<String, Object> h = p.getHeaders() == null ? Map.of() : p.getHeaders();
    long deadline = num(h, DEADLINE);
    String expiration = deadline == 0 ? p.getExpiration() : Long.toString(Math.max(1, deadline - nowMillis));
    return p.builder().expiration(expiration).build();
  }

  static AMQP.BasicProperties replyProperties(ReplyMessage r) {
    Map<String, Object> h = new HashMap<>(8);
    h.put(STATUS, r.ok() ? STATUS_OK : STATUS_ERROR);
    h.put(SERVICE, r.service());
    h.put(SERVICE_VERSION, r.serviceVersion());
    h.put(INSTANCE, r.instance());
    h.put(IDEMPOTENT, r.idempotent());
    return new AMQP.BasicProperties.Builder()
        .correlationId(r.correlationId())
        .contentType(r.contentType())
        .deliveryMode(1)
        .headers(h)
        .build();
  }

  static ReplyMessage reply(AMQP.BasicProperties p, byte[] body) {
    Map<String, Object> h = p.getHeaders() == null ? Map.of() : p.getHeaders();
    return new ReplyMessage(
        p.getCorrelationId() == null ? "" : p.getCorrelationId(),
        !STATUS_ERROR.equals(str(h, STATUS)),
        p.getContentType() == null ? ContentTypes.PROTOBUF : p.getContentType(),
        str(h, SERVICE),
        str(h, SERVICE_VERSION),
        str(h, INSTANCE),
        "true".equals(str(h, IDEMPOTENT)),
        body);
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

  /** A number header; 0 when absent or not a number. */
  static long num(Map<String, Object> h, String key) {
    Object v = h.get(key);
    if (v instanceof Number n) {
      return n.longValue();
    }
    if (v != null) {
      try {
        return Long.parseLong(v.toString());
      } catch (NumberFormatException e) {
        return 0;
      }
    }
    return 0;
  }
}
