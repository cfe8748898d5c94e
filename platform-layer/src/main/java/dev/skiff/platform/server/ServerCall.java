package dev.skiff.platform.server;

import com.codahale.metrics.Timer;
import com.google.protobuf.Message;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.CallScope;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.internal.Codec;
import dev.skiff.platform.internal.Observers;
import dev.skiff.platform.internal.TraceContext;
import dev.skiff.platform.observe.ServerEvent;
import dev.skiff.platform.security.Caller;
import dev.skiff.platform.transport.ContentTypes;
import dev.skiff.platform.transport.ReplyMessage;
import dev.skiff.platform.transport.RequestMessage;
import dev.skiff.platform.transport.Transport;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One request on its way through a server, from delivery to reply: it settles exactly once, in one of
 * five ways (answered and acknowledged; acknowledged with no answer, its deadline having passed; handed
 * back to its queue for another instance; answered from an earlier answer to its request id; answered
 * and set aside, when no instance can handle it), and tells the observers once how it ended. Whichever
 * comes first of the handler's end, the watchdog's TIMEOUT and the drain's UNAVAILABLE wins; the others
 * find it settled and do nothing. (grpc-java's {@code ServerCallImpl} plays this part there.) While it is
 * taken and not settled, its body counts among the bytes the server holds ({@link #reserveBytes}).
 */
final class ServerCall implements HandlerPool.Task {
  private static final Logger log = LoggerFactory.getLogger(ServerCall.class);

  /**
   * What every call of one server shares.
   *
   * @param service the service's name
   * @param version the instance's version
   * @param instanceId the instance's id
   * @param maxMessageBytes the largest response body
   * @param clock the clock deadlines are measured by
   * @param client the server's client, scoped per request for the handler's nested calls
   * @param observers told how each request ended
   * @param counters the server's metrics
   * @param admission the rule a request meets again as its handler starts
   * @param dedupe the answers kept by request id
   * @param guard who may call which endpoint
   * @param setAsideLog where requests set aside are logged
   */
  record Site(
      String service,
      String version,
      String instanceId,
      int maxMessageBytes,
      Clock clock,
      Client client,
      Observers observers,
      ServerCounters counters,
      Admission admission,
      Dedupe dedupe,
      EndpointGuard guard,
      SetAsideLog setAsideLog) {}

  private final Site site;
  private final RequestMessage req;
  private final Transport.Delivery delivery;
  private final AtomicBoolean settled = new AtomicBoolean();
  private final long receivedNanos = System.nanoTime();
  private final long receivedMicros;
  private final TraceContext trace;
  private final String parentSpanId;
  private Endpoint<?, ?> endpoint;
  private String dedupeKey;
  private byte[] fingerprint;
  private volatile long deadline;
  private volatile boolean handlerRan;
  /** Whether it was taken for a handler (counted as held until it settles). */
  private volatile boolean held;
  /** The bytes of its body counted among those the server holds, until it settles; 0 when not counted. */
  private volatile long heldBytes;

  ServerCall(Site site, RequestMessage req, Transport.Delivery delivery) {
    this.site = site;
    this.req = req;
    this.delivery = delivery;
    TraceContext incoming = TraceContext.parse(req.traceparent());
    this.trace = incoming == null ? TraceContext.newRoot(false) : incoming.child();
    this.receivedMicros = dev.skiff.platform.internal.EpochMicros.start(site.clock(), trace.sampled());
    this.parentSpanId = incoming == null ? "" : incoming.spanId();
  }

  /** @return the request */
  RequestMessage request() {
    return req;
  }

  /**
   * The request was admitted to an endpoint.
   *
   * @param endpoint the endpoint
   * @param deadlineMillis the deadline its handler has
   */
  void admitted(Endpoint<?, ?> endpoint, long deadlineMillis) {
    this.endpoint = endpoint;
    this.deadline = deadlineMillis;
  }

  /** It is taken for a handler: the server holds it until it settles ({@code skiff.server.in-flight}). */
  void hold() {
    held = true;
    site.counters().hold();
  }

  /**
   * Counts its body among the bytes the server holds, within the bound.
   *
   * @param maxInFlightBytes the bound
   * @return whether it was counted; if not, it must be refused
   */
  boolean reserveBytes(long maxInFlightBytes) {
    long bytes = req.body().length;
    if (!site.counters().reserveBytes(bytes, maxInFlightBytes)) {
      return false;
    }
    heldBytes = bytes;
    return true;
  }

  /**
   * @return whether this caller settles it (the first to try); a held request stops being held, and its
   *     body stops counting among the bytes held
   */
  private boolean settleOnce() {
    if (!settled.compareAndSet(false, true)) {
      return false;
    }
    if (held) {
      site.counters().release();
    }
    long bytes = heldBytes;
    if (bytes > 0) {
      site.counters().releaseBytes(bytes);
    }
    return true;
  }

  /**
   * @return the key it is deduplicated by, or null when it carries no request id (then every copy runs)
   */
  String dedupeKey() {
    if (dedupeKey == null && !req.requestId().isEmpty()) {
      // with its fingerprint, on the thread that hands it over: whoever reads the key (a duplicate
      // comparing, the handler keeping the answer) finds the fingerprint written before it
      fingerprint = Dedupe.fingerprint(req);
      dedupeKey = Dedupe.key(endpoint.name(), req.requestId(), replyType());
    }
    return dedupeKey;
  }

  /**
   * @return what the request is, for dedupe: its proven caller and body ({@link Dedupe#fingerprint});
   *     made with its {@link #dedupeKey}
   */
  byte[] fingerprint() {
    byte[] f = fingerprint;
    return f != null ? f : Dedupe.fingerprint(req);
  }

  @Override
  public long deadlineMillis() {
    return deadline;
  }

  // ---- running ----

  @Override
  public void run() {
    if (settled.get()) {
      return;
    }
    try {
      long now = site.clock().millis();
      if (now >= deadline) {
        drop();
        return;
      }
      Admission.Verdict waited = site.admission().onStart(req, now);
      if (waited != null) {
        refuse(waited);
        return;
      }
      Caller caller = site.guard().check(req, endpoint);
      Timer.Context timing = site.counters().timer(endpoint.name()).time();
      try {
        byte[] body = handle(endpoint, caller);
        if (body.length > site.maxMessageBytes()) {
          throw new SkiffException(
              ErrorCode.INTERNAL,
              "the response of " + site.service() + "/" + endpoint.name() + " (" + body.length
                  + " bytes) is over the message size limit of " + site.maxMessageBytes() + " bytes");
        }
        settle(new AnswerCache.Answer(null, replyType(), body));
      } finally {
        timing.stop();
      }
    } catch (SkiffException e) {
      fail(NestedErrors.answerFor(e, site.service(), req.endpoint(), req.requestId()));
    } catch (Throwable t) {
      if (settled.get()) {
        log.debug("{}/{} request {} failed after it was answered: {}", site.service(), req.endpoint(), req.requestId(), t.toString());
      } else {
        log.warn("{}/{} request {} failed", site.service(), req.endpoint(), req.requestId(), t);
      }
      fail(
          new SkiffException(
              ErrorCode.INTERNAL,
              "internal error in " + site.service() + "/" + req.endpoint() + " (the service's log has the details under request id "
                  + req.requestId() + ")"));
    }
  }

  private <Q extends Message, R extends Message> byte[] handle(Endpoint<Q, R> e, Caller caller) {
    Q request = Codec.decode(req.body(), req.contentType(), e.requestPrototype());
    handlerRan = true;
    Instant dl = Instant.ofEpochMilli(deadline);
    RequestContext ctx =
        new RequestContext(
            req.requestId(), site.service(), e.name(), req.fromService(), req.fromInstance(), caller, dl,
            trace.traceId(), trace.spanId(), parentSpanId, trace.sampled(),
            site.client().withScope(new CallScope(dl, trace.header(), caller.user().isPresent() ? req.userToken() : null)),
            site.clock());
    R response = e.handler().handle(request, ctx);
    if (response == null) {
      throw new SkiffException(ErrorCode.INTERNAL, "the handler of " + site.service() + "/" + e.name() + " returned no response");
    }
    return Codec.encode(response, replyType());
  }

  private String replyType() {
    return ContentTypes.isJson(req.accept()) ? ContentTypes.JSON : ContentTypes.PROTOBUF;
  }

  // ---- the ways it settles ----

  /**
   * Answers with an error (a handler's, a refusal, the watchdog's TIMEOUT, the drain's UNAVAILABLE).
   *
   * @param e the error
   */
  void fail(SkiffException e) {
    SkiffException located = e.withOrigin(site.service(), req.endpoint(), site.instanceId(), req.requestId());
    settle(new AnswerCache.Answer(e.code(), replyType(), Codec.encode(located.toProto(), replyType())));
  }

  /**
   * Answers with the refusal of an admission rule, and counts it.
   *
   * @param refusal the verdict
   */
  void refuse(Admission.Verdict refusal) {
    site.counters().refused(refusal.reason());
    fail(refusal.error());
  }

  private void settle(AnswerCache.Answer answer) {
    if (!settleOnce()) {
      return;
    }
    List<ServerCall> followers = List.of();
    String key = endpoint == null ? null : dedupeKey();
    if (key != null) {
      boolean keep = answer.error() == null || !answer.error().isRetryable();
      followers = site.dedupe().answered(key, this, answer, keep, site.clock().millis());
    }
    replyWith(answer);
    for (ServerCall f : followers) {
      f.replyWith(answer);
    }
  }

  /**
   * Answers with an answer made for the same request id (by this call, the first of its id, or an
   * earlier one).
   *
   * @param answer the answer
   */
  void replyWith(AnswerCache.Answer answer) {
    settleOnce(); // a duplicate that waited for the first of its id settles here (the first already has)
    // the span ends as the reply leaves: a caller's span then always encloses it
    long nanos = System.nanoTime() - receivedNanos;
    delivery.replyAndAck(
        new ReplyMessage(
            req.correlationId(), answer.ok(), answer.contentType(), site.service(), site.version(), site.instanceId(),
            endpoint != null && endpoint.idempotent(), answer.body()));
    observe(answer.error(), true, nanos);
  }

  /**
   * No instance can handle it (too large, or delivered the limit times without ever being settled):
   * answered with the verdict's error, set aside where people can inspect and replay it (the transport's
   * dead letters), counted and logged, never delivered again.
   *
   * @param verdict the admission's verdict
   */
  void setAside(Admission.Verdict verdict) {
    if (!settleOnce()) {
      return;
    }
    site.counters().refused(verdict.reason());
    site.counters().setAsideOne();
    SkiffException e = verdict.error();
    site.setAsideLog().setAside(req, verdict.reason().code(), e.description());
    SkiffException located = e.withOrigin(site.service(), req.endpoint(), site.instanceId(), req.requestId());
    String type = replyType();
    delivery.setAside(
        new ReplyMessage(
            req.correlationId(), false, type, site.service(), site.version(), site.instanceId(), false,
            Codec.encode(located.toProto(), type)),
        verdict.reason().code(), e.description());
    observe(e.code(), true, System.nanoTime() - receivedNanos);
  }

  /**
   * Its reply address is not its caller's own (another client's reply queue, a durable queue, or any
   * queue when the request proves no caller: {@link Transport.Delivery#replyAddressAllowed}): refused
   * unrun and unanswered, acknowledged, counted ({@code skiff.server.reply-address-refused}) and audited.
   */
  void refuseReplyAddress() {
    if (!settleOnce()) {
      return;
    }
    site.counters().replyAddressRefused();
    site.guard().auditReplyAddress(req);
    delivery.ack();
    observe(ErrorCode.FORBIDDEN, false, System.nanoTime() - receivedNanos);
  }

  /**
   * It named its person's session by a reference this instance cannot resolve ({@link SessionReferences}):
   * not run, answered {@code UNAUTHORIZED} marked {@link ReplyMessage#sessionUnknown}, which a client
   * meets by sending the same request again with the token in full. Nothing of it is kept (no dedupe
   * entry: the request with its token is the same request).
   */
  void sessionUnknown() {
    if (!settleOnce()) {
      return;
    }
    SkiffException e = new SkiffException(
        ErrorCode.UNAUTHORIZED,
        "instance " + site.instanceId() + " of " + site.service() + " does not know the session this request refers to: "
            + "send it again with the session token");
    if (req.replyTo() == null) {
      // no one to send it again: a replayed dead letter that travelled by reference
      log.warn("{}/{} request {} refers to a person's session this instance does not know and has no reply address: not run "
          + "(a replayed request made for a person must be made again by their client)", site.service(), req.endpoint(), req.requestId());
    }
    String type = replyType();
    delivery.replyAndAck(
        new ReplyMessage(
            req.correlationId(), false, type, site.service(), site.version(), site.instanceId(), false,
            Codec.encode(e.withOrigin(site.service(), req.endpoint(), site.instanceId(), req.requestId()).toProto(), type), null,
            true));
    observe(ErrorCode.UNAUTHORIZED, true, System.nanoTime() - receivedNanos);
  }

  /**
   * Its request id was answered or is running here for another caller or another body: answered
   * CONFLICT, saying nothing of the other answer; counted ({@code skiff.server.dedupe-conflicts}) and
   * audited. Nothing of it is kept.
   */
  void conflict() {
    site.counters().dedupeConflict();
    site.guard().auditConflict(req);
    SkiffException e = new SkiffException(
        ErrorCode.CONFLICT,
        "this request id was used for another call to " + site.service() + "/" + endpoint.name()
            + " (by another caller, or with another request body) within the dedupe window; a new request needs a new request id");
    String type = replyType();
    replyWith(new AnswerCache.Answer(ErrorCode.CONFLICT, type,
        Codec.encode(e.withOrigin(site.service(), req.endpoint(), site.instanceId(), req.requestId()).toProto(), type)));
  }

  /** Its deadline passed before it started: acknowledged, not answered (its caller has stopped waiting). */
  void drop() {
    if (!settleOnce()) {
      return;
    }
    for (ServerCall c : withFollowers()) {
      c.dropUnrun();
    }
  }

  private void dropUnrun() {
    settleOnce(); // a duplicate that waited for the first of its id settles here (the first already has)
    site.counters().dropped();
    delivery.ack();
    observe(ErrorCode.TIMEOUT, false, System.nanoTime() - receivedNanos);
  }

  /** The server is closing before it started: back to the queue for another instance, with its followers. */
  void handBack() {
    if (!settleOnce()) {
      return;
    }
    for (ServerCall c : withFollowers()) {
      c.settleOnce(); // a follower settles here (this one already has)
      handBack(c.site, c.req, c.delivery);
    }
  }

  /**
   * Hands a request that will not run here back to its queue, where another instance takes it as a fresh
   * message; one addressed to this instance alone has nowhere else to go and is answered UNAVAILABLE.
   *
   * @param site the server's shared parts
   * @param req the request
   * @param delivery its delivery
   */
  static void handBack(Site site, RequestMessage req, Transport.Delivery delivery) {
    if (delivery.instanceAddressed()) {
      new ServerCall(site, req, delivery)
          .fail(new SkiffException(ErrorCode.UNAVAILABLE, "instance " + site.instanceId() + " of " + site.service() + " is shutting down"));
    } else {
      delivery.requeue();
    }
  }

  /** @return this call and the duplicates that wait for it, which settle the way it does */
  private List<ServerCall> withFollowers() {
    String key = endpoint == null ? null : dedupeKey();
    List<ServerCall> followers = key == null ? List.of() : site.dedupe().abandoned(key, this);
    if (followers.isEmpty()) {
      return List.of(this);
    }
    List<ServerCall> all = new java.util.ArrayList<>(followers.size() + 1);
    all.add(this);
    all.addAll(followers);
    return all;
  }

  // ---- what the handler pool tells it ----

  @Override
  public void expired() {
    drop();
  }

  @Override
  public boolean overran() {
    if (settled.get()) {
      return false;
    }
    site.counters().overran();
    fail(new SkiffException(
        ErrorCode.TIMEOUT, "the handler of " + site.service() + "/" + req.endpoint() + " did not finish before the deadline"));
    return true;
  }

  /** Tells the observers how this request ended. */
  private void observe(ErrorCode error, boolean replied, long nanos) {
    Observers observers = site.observers();
    if (observers.isEmpty()) {
      return;
    }
    observers.onServerRequest(
        new ServerEvent(
            site.service(), req.endpoint(), site.instanceId(), site.version(), req.requestId(), req.fromService(), trace.traceId(),
            trace.spanId(), parentSpanId, trace.sampled(), receivedMicros, nanos, handlerRan, error, replied));
  }
}
