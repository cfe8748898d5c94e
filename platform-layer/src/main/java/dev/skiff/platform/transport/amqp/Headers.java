package dev.skiff.platform.transport.amqp;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.LongString;
import dev.skiff.platform.transport.ContentTypes;
import dev.skiff.platform.transport.ReplyMessage;
import dev.skiff.platform.transport.RequestMessage;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The mapping between messages and AMQP properties (docs/wire-protocol.md).
 *
 * <p>A request's fields travel in standard AMQP properties where one means exactly that field
 * ({@code message_id} = request id, {@code type} = endpoint) and the rest packed as {@code ;}-separated
 * text in {@code app_id}, the property that names the sending application: the caller, with its call
 * context. No header table: the broker and amqp-client encode and decode a table entry by entry on every
 * message, and two entries still cost about twice what the same text in one short string does
 * (docs/performance.md). A reply's {@code app_id} names the answering instance and the outcome. Text
 * that does not fit a short string (255 bytes; only very long names) travels in a {@code skiff} header
 * instead, with the trace context in a W3C {@code traceparent} header; readers take either. The target
 * service is the routing key, not a property.
 */
final class Headers {
  /** The packed header of requests and replies. */
  static final String SKIFF = "skiff";
  static final String TRACEPARENT = "traceparent";
  /**
   * On a request handed back to its queue by an instance of the service: the proven identity of the
   * original caller, which the broker would refuse as {@code user_id} from the instance's connection.
   * Believed only on a message whose {@code user_id} is the receiving connection's own user (a fellow
   * instance put it there); ignored on any other.
   */
  static final String REQUEUED_CALLER = "skiff-caller";
  /**
   * On a request made for a person: their session token (docs/security.md). A header of its own, present
   * only on such calls, so that calls between services pay nothing for it.
   */
  static final String USER_TOKEN = "skiff-token";

  /**
   * Marks a message whose body was over the connection's limit and thrown away unread
   * ({@link InboundLimit}): its value is the body's size and this process's token.
   */
  static final String DISCARDED_BODY = "skiff-discarded-body";
  /**
   * On a request handed back to its queue by an instance of the service: how many times it had been
   * delivered before without being settled (docs/security.md "Hostile input"). Believed, like
   * {@link #REQUEUED_CALLER}, only on a message sent as the receiving connection's own user.
   */
  static final String DELIVERIES = "skiff-deliveries";
  /** On a request set aside (dead letter): a short code for why ({@code too-large}, {@code delivery-limit}). */
  static final String DEAD_CODE = "skiff-dead-code";
  /** On a dead letter: why, in a sentence. */
  static final String DEAD_REASON = "skiff-dead-reason";
  /** On a dead letter: the queue it was taken from. */
  static final String DEAD_QUEUE = "skiff-dead-queue";
  /** On a dead letter: when it was set aside, in milliseconds since the epoch. */
  static final String DEAD_AT = "skiff-dead-at";
  /** On a dead letter: the instance that set it aside. */
  static final String DEAD_BY = "skiff-dead-by";
  /** On a dead letter whose body was thrown away unread: the body's size in bytes. */
  static final String DEAD_BODY_BYTES = "skiff-dead-body-bytes";
  /**
   * The longest per-message TTL RabbitMQ takes, in milliseconds (2^32-1): a larger {@code expiration}
   * makes it close the publishing channel.
   */
  static final long MAX_EXPIRATION_MILLIS = 0xffffffffL;

  static final String STATUS_OK = "ok";
  static final String STATUS_ERROR = "error";
  static final String IDEMPOTENT = "idempotent";

  private static final char SEP = ';';
  /** Starts the packed field that holds a session reference (no media type starts with it). */
  private static final char SESSION_MARK = '@';
  /** A reply's status when the request's session reference is unknown to the answering instance. */
  static final String STATUS_SESSION_UNKNOWN = "session";

  private Headers() {}

  /** The longest text a short-string property such as {@code app_id} holds, in bytes. */
  static final int SHORTSTR_MAX = 255;

  /**
   * A request's packed context:
   * {@code DEADLINE;SENT;FROM_SERVICE;FROM_INSTANCE;TRACEPARENT[;@SESSION][;ACCEPT]} (times in
   * milliseconds since the epoch; {@code @SESSION} the reference to the person's session token, only on a
   * call made for a person whose token went out in full before: {@link RequestMessage#userTokenReference};
   * {@code ACCEPT} only when it differs from the content type, and never starting with {@code @}, which no
   * media type does). The header form leaves out {@code TRACEPARENT}, which then has a header of its own.
   */
  static String requestContext(RequestMessage m, boolean withTrace) {
    StringBuilder b = new StringBuilder(160)
        .append(m.deadlineEpochMillis()).append(SEP)
        .append(m.sentEpochMillis()).append(SEP)
        .append(m.fromService()).append(SEP)
        .append(m.fromInstance());
    if (withTrace) {
      b.append(SEP).append(m.traceparent());
    }
    if (m.userTokenReference() != null && m.userToken() == null) {
      b.append(SEP).append(SESSION_MARK).append(m.userTokenReference());
    }
    if (m.accept() != null && !m.accept().equals(m.contentType())) {
      b.append(SEP).append(m.accept());
    }
    return b.toString();
  }

  /** @param ttl whether to set the per-message TTL ({@code expiration}) to the time left */
  static AMQP.BasicProperties requestProperties(RequestMessage m, long nowMillis, String userId, boolean ttl) {
    String packed = requestContext(m, true);
    String expiration = ttl ? expiration(m.deadlineEpochMillis(), nowMillis) : null;
    AMQP.BasicProperties.Builder b = new AMQP.BasicProperties.Builder()
        .correlationId(m.correlationId())
        .messageId(m.requestId())
        .type(m.endpoint())
        .replyTo(m.replyTo())
        .contentType(m.contentType())
        .deliveryMode(1)
        .expiration(expiration)
        .userId(userId);
    if (fitsShortString(packed)) {
      b.appId(packed);
      if (m.userToken() != null) {
        b.headers(Map.of(USER_TOKEN, m.userToken()));
      }
    } else {
      Map<String, Object> h = new HashMap<>(4);
      h.put(SKIFF, requestContext(m, false));
      h.put(TRACEPARENT, m.traceparent());
      if (m.userToken() != null) {
        h.put(USER_TOKEN, m.userToken());
      }
      b.headers(h);
    }
    return b.build();
  }

  /**
   * A per-message TTL for the time left until a deadline: at least 1 ms, at most what the broker takes
   * ({@link #MAX_EXPIRATION_MILLIS}), so that no deadline can get the publishing channel closed.
   */
  static String expiration(long deadlineEpochMillis, long nowMillis) {
    long left = deadlineEpochMillis - nowMillis;
    return Long.toString(left < 1 ? 1 : Math.min(left, MAX_EXPIRATION_MILLIS));
  }

  /** Whether text fits a short string: at most 255 bytes in UTF-8 (ASCII here but for odd content types). */
  static boolean fitsShortString(String s) {
    if (s.length() > SHORTSTR_MAX) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      if (s.charAt(i) >= 0x80) {
        return s.getBytes(java.nio.charset.StandardCharsets.UTF_8).length <= SHORTSTR_MAX;
      }
    }
    return true;
  }

  /**
   * A request as it arrived. Missing or malformed fields read as empty (or 0: no deadline), so that the
   * server answers such a message with a clear error instead of dropping it.
   *
   * @param service the service whose queue it came from
   * @param ownUser the receiving connection's user: a {@link #REQUEUED_CALLER} header counts only on a
   *     message sent as that user
   */
  static RequestMessage request(String service, AMQP.BasicProperties p, byte[] body, String ownUser) {
    String[] f = requestFields(p);
    String contentType = p.getContentType() == null ? ContentTypes.PROTOBUF : p.getContentType();
    String token = token(p);
    return RequestMessage.builder()
        .correlationId(p.getCorrelationId() == null ? "" : p.getCorrelationId())
        .requestId(p.getMessageId() == null ? "" : p.getMessageId())
        .service(service)
        .endpoint(p.getType() == null ? "" : p.getType())
        .deadlineEpochMillis(num(f[0]))
        .sentEpochMillis(num(f[1]))
        .fromService(f[2])
        .fromInstance(f[3])
        .traceparent(f[4])
        .contentType(contentType)
        .accept(f[5].isEmpty() ? contentType : f[5])
        .userId(caller(p, ownUser))
        .userToken(token)
        .userTokenReference(token == null ? f[6] : null)
        .replyTo(p.getReplyTo())
        .body(body)
        .build();
  }

  /** A request's session token, or null when it has none (any other type of value reads as text). */
  private static String token(AMQP.BasicProperties p) {
    if (p.getHeaders() == null || !p.getHeaders().containsKey(USER_TOKEN)) {
      return null;
    }
    return str(p.getHeaders(), USER_TOKEN);
  }

  /**
   * The proven caller of a request: its {@code user_id}, unless a fellow instance (same user as ours)
   * handed it back to the queue on the caller's behalf ({@link #REQUEUED_CALLER}). Null when unknown.
   */
  private static String caller(AMQP.BasicProperties p, String ownUser) {
    String user = p.getUserId();
    if (user != null && user.equals(ownUser) && p.getHeaders() != null && p.getHeaders().containsKey(REQUEUED_CALLER)) {
      String original = str(p.getHeaders(), REQUEUED_CALLER);
      return original.isEmpty() ? null : original;
    }
    return user;
  }

  /**
   * A request's seven context fields (deadline, sent, from service, from instance, trace context, accept,
   * session reference or null), from {@code app_id} or, where that does not hold Skiff's packed text, from
   * the headers. A {@code traceparent} header fills an empty trace field (a W3C-aware tool may set only
   * that).
   */
  private static String[] requestFields(AMQP.BasicProperties p) {
    Map<String, Object> h = p.getHeaders();
    String[] f = new String[7];
    String rest;
    if (isPacked(p.getAppId())) {
      String[] g = split(p.getAppId(), 6);
      System.arraycopy(g, 0, f, 0, 5);
      rest = g[5];
    } else {
      String[] g = split(packed(p), 5);
      System.arraycopy(g, 0, f, 0, 4);
      f[4] = "";
      rest = g[4];
    }
    if (!rest.isEmpty() && rest.charAt(0) == SESSION_MARK) {
      int end = rest.indexOf(SEP);
      f[6] = rest.substring(1, end < 0 ? rest.length() : end);
      f[5] = end < 0 ? "" : rest.substring(end + 1);
    } else {
      f[5] = rest;
    }
    if (f[4].isEmpty() && h != null) {
      f[4] = str(h, TRACEPARENT);
    }
    return f;
  }

  /** Whether an {@code app_id} holds Skiff's packed fields rather than another application's name. */
  private static boolean isPacked(String appId) {
    return appId != null && appId.indexOf(SEP) >= 0;
  }

  /** The packed text: the {@code app_id} if it holds Skiff's fields, else the {@code skiff} header, else "". */
  private static String packed(AMQP.BasicProperties p) {
    if (isPacked(p.getAppId())) {
      return p.getAppId();
    }
    return p.getHeaders() == null ? "" : str(p.getHeaders(), SKIFF);
  }

  /**
   * The properties of a request handed back to its queue: the same, with the time to live (if it had
   * one) counted again from now, sent as this connection's user (the broker refuses any other
   * {@code user_id}) with the original caller in {@link #REQUEUED_CALLER}.
   *
   * @param ownUser the requeuing connection's user
   */
  static AMQP.BasicProperties requeueProperties(AMQP.BasicProperties p, long nowMillis, String ownUser) {
    long deadline = num(requestFields(p)[0]);
    String expiration = deadline == 0 || p.getExpiration() == null ? p.getExpiration() : expiration(deadline, nowMillis);
    AMQP.BasicProperties.Builder b = p.builder().expiration(expiration);
    Map<String, Object> h = asOwnUser(p, ownUser, b);
    if (h != null) {
      b.headers(h);
    }
    return b.build();
  }

  /**
   * Sends a copy as this connection's user, the original caller kept in {@link #REQUEUED_CALLER}; the
   * mark of a discarded body never travels on.
   *
   * @return the headers to set, or null to keep the original's
   */
  private static Map<String, Object> asOwnUser(AMQP.BasicProperties p, String ownUser, AMQP.BasicProperties.Builder b) {
    boolean other = !ownUser.equals(p.getUserId());
    boolean marked = p.getHeaders() != null && p.getHeaders().containsKey(DISCARDED_BODY);
    if (!other && !marked) {
      return null;
    }
    Map<String, Object> h = p.getHeaders() == null ? new HashMap<>(4) : new HashMap<>(p.getHeaders());
    h.remove(DISCARDED_BODY);
    if (other) {
      h.put(REQUEUED_CALLER, p.getUserId() == null ? "" : p.getUserId());
      b.userId(ownUser);
    }
    return h;
  }

  /**
   * The properties of a redelivered request put back into its queue with its count of deliveries that
   * ended unsettled, so that the count survives the instances that die of it.
   *
   * @param deliveries the count to carry
   */
  static AMQP.BasicProperties countedProperties(AMQP.BasicProperties p, long nowMillis, String ownUser, int deliveries) {
    AMQP.BasicProperties q = requeueProperties(p, nowMillis, ownUser);
    Map<String, Object> h = q.getHeaders() == null ? new HashMap<>(2) : new HashMap<>(q.getHeaders());
    h.put(DELIVERIES, deliveries);
    return q.builder().headers(h).build();
  }

  /**
   * How many times a request was delivered before without being settled: the count a fellow instance
   * wrote ({@link #DELIVERIES}, believed only on a message sent as our own user), else 0.
   */
  static int deliveries(AMQP.BasicProperties p, String ownUser) {
    if (p.getHeaders() == null || !ownUser.equals(p.getUserId())) {
      return 0;
    }
    Object v = p.getHeaders().get(DELIVERIES);
    long n = v instanceof Number num ? num.longValue() : num(v == null ? "" : v.toString());
    return (int) Math.max(0, Math.min(n, Integer.MAX_VALUE));
  }

  /** @return the size of the body {@link InboundLimit} threw away, or 0 when it has its body */
  static long discardedBody(AMQP.BasicProperties p) {
    if (p.getHeaders() == null || !p.getHeaders().containsKey(DISCARDED_BODY)) {
      return 0;
    }
    return InboundLimit.discarded(str(p.getHeaders(), DISCARDED_BODY));
  }

  /**
   * Why a request was set aside and where from: what a dead letter carries besides the request.
   *
   * @param code a short code
   * @param reason a sentence
   * @param queue the queue it was taken from
   * @param instance the instance that set it aside
   * @param deliveries its deliveries that ended unsettled
   * @param discardedBytes the size of its body if that was thrown away unread, else 0
   */
  record SetAside(String code, String reason, String queue, String instance, int deliveries, long discardedBytes) {}

  /**
   * The properties of a dead letter: the request's, sent as this connection's user (the original caller
   * in {@link #REQUEUED_CALLER}), persistent, with no expiry, and why it was set aside.
   */
  static AMQP.BasicProperties deadLetterProperties(AMQP.BasicProperties p, long nowMillis, String ownUser, SetAside why) {
    AMQP.BasicProperties.Builder b = p.builder().expiration(null).deliveryMode(2);
    Map<String, Object> h = asOwnUser(p, ownUser, b);
    if (h == null) {
      h = p.getHeaders() == null ? new HashMap<>(8) : new HashMap<>(p.getHeaders());
    }
    h.put(DEAD_CODE, why.code());
    h.put(DEAD_REASON, why.reason());
    h.put(DEAD_QUEUE, why.queue());
    h.put(DEAD_AT, nowMillis);
    h.put(DEAD_BY, why.instance());
    h.put(DELIVERIES, why.deliveries());
    if (why.discardedBytes() > 0) {
      h.put(DEAD_BODY_BYTES, why.discardedBytes());
    } else {
      h.remove(DEAD_BODY_BYTES);
    }
    return b.headers(h).build();
  }

  /**
   * The properties of a dead letter sent again to its service: the request's, with a new deadline and
   * send time (in its packed context) and the matching expiry, no reply address, its delivery count and
   * the marks of its setting aside removed, transient again, sent as the replaying connection's user (a
   * {@link #REQUEUED_CALLER} stays, and is believed by the service only when that user is its own).
   *
   * @param deadlineMillis the new deadline, or 0 for none: then no expiry either, and the service gives the
   *     request its default deadline when an instance takes it (a replay into a queue nobody consumes yet)
   */
  static AMQP.BasicProperties replayProperties(AMQP.BasicProperties p, long nowMillis, long deadlineMillis, String ownUser) {
    Map<String, Object> h = p.getHeaders() == null ? new HashMap<>(4) : new HashMap<>(p.getHeaders());
    for (String k : new String[] {DEAD_CODE, DEAD_REASON, DEAD_QUEUE, DEAD_AT, DEAD_BY, DEAD_BODY_BYTES, DELIVERIES, DISCARDED_BODY}) {
      h.remove(k);
    }
    AMQP.BasicProperties.Builder b = p.builder().replyTo(null).deliveryMode(1).userId(ownUser);
    String expiry = deadlineMillis == 0 ? null : expiration(deadlineMillis, nowMillis);
    if (isPacked(p.getAppId())) {
      b.appId(restamp(p.getAppId(), nowMillis, deadlineMillis));
      b.expiration(expiry);
    } else if (h.containsKey(SKIFF)) {
      h.put(SKIFF, restamp(str(h, SKIFF), nowMillis, deadlineMillis));
      b.expiration(expiry);
    } else {
      b.expiration(null); // no context: the service gives it its default deadline
    }
    if (!ownUser.equals(p.getUserId())) {
      h.remove(REQUEUED_CALLER); // it would be ignored: the request is the replaying user's
    }
    return b.headers(h.isEmpty() ? null : h).build();
  }

  /** A packed request context with its first two fields (deadline, send time) replaced. */
  private static String restamp(String packed, long nowMillis, long deadlineMillis) {
    int first = packed.indexOf(SEP);
    int second = first < 0 ? -1 : packed.indexOf(SEP, first + 1);
    return deadlineMillis + String.valueOf(SEP) + nowMillis + (second < 0 ? "" : packed.substring(second));
  }

  /**
   * A reply's properties; its {@code app_id} is {@code STATUS;VERSION;INSTANCE[;idempotent]}, the status
   * {@code ok}, {@code error} or {@code session} (an error: the request's session reference is unknown
   * here, {@link ReplyMessage#sessionUnknown}) (in a
   * {@code skiff} header instead if it does not fit a short string); its {@code user_id} the replying
   * connection's user, which the broker validates, so that the caller can tell the service from an
   * impostor.
   *
   * @param userId the replying connection's user
   */
  static AMQP.BasicProperties replyProperties(ReplyMessage r, String userId) {
    String packed = (r.ok() ? STATUS_OK : r.sessionUnknown() ? STATUS_SESSION_UNKNOWN : STATUS_ERROR) + SEP + r.serviceVersion() + SEP + r.instance()
        + (r.idempotent() ? SEP + IDEMPOTENT : "");
    AMQP.BasicProperties.Builder b = new AMQP.BasicProperties.Builder()
        .correlationId(r.correlationId())
        .contentType(r.contentType())
        .userId(userId)
        .deliveryMode(1);
    if (fitsShortString(packed)) {
      b.appId(packed);
    } else {
      b.headers(Map.of(SKIFF, packed));
    }
    return b.build();
  }

  /**
   * A reply as it arrived, with its sender's broker-validated user; the answering service is not on the
   * wire (the caller knows whom it called).
   * A reply without a readable status counts as an error reply, whose body then fails to decode as one
   * and is reported as such.
   */
  static ReplyMessage reply(AMQP.BasicProperties p, byte[] body) {
    String[] f = split(packed(p), 4);
    return new ReplyMessage(
        p.getCorrelationId() == null ? "" : p.getCorrelationId(),
        STATUS_OK.equals(f[0]),
        p.getContentType() == null ? ContentTypes.PROTOBUF : p.getContentType(),
        "",
        f[1],
        f[2],
        IDEMPOTENT.equals(f[3]),
        body,
        p.getUserId(),
        STATUS_SESSION_UNKNOWN.equals(f[0]));
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

  /**
   * Whether the broker dead-lettered this message because its queue was over its length bound (its
   * latest {@code x-death} entry gives the reason {@code maxlen}), rather than for its expiry or a
   * rejection: such a message in a service's refusal queue ({@link AmqpNames#refusalQueue}) is a request
   * the full queue refused, to be answered CAPACITY.
   *
   * @param p the message's properties
   * @return whether it was refused for its queue's length
   */
  static boolean deadLetteredForLength(AMQP.BasicProperties p) {
    Object deaths = p.getHeaders() == null ? null : p.getHeaders().get("x-death");
    if (deaths instanceof List<?> list && !list.isEmpty() && list.get(0) instanceof Map<?, ?> latest) {
      Object reason = latest.get("reason");
      return reason != null && reason.toString().equals("maxlen");
    }
    return false;
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
