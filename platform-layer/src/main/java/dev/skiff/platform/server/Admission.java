package dev.skiff.platform.server;

import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.transport.RequestMessage;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;

/**
 * The rules that decide, before any handler runs, whether a server takes a request: pure logic over the
 * request, the time and the server's limits; no state, no I/O.
 *
 * <p>In the order they apply: a request past its deadline is dropped (the caller has stopped waiting);
 * one over the size limit is answered BAD_REQUEST and set aside (its body may never have been read: the
 * transport throws an oversized body away as it arrives); one delivered the delivery limit times already,
 * each delivery ending unsettled (every instance that took it died or lost its connection), is answered
 * INTERNAL and set aside, never handed to a handler again; one that waited longer than the queue-wait
 * bound is refused CAPACITY (checked again when its handler is about to start); one for an endpoint the
 * service does not have is refused NOT_FOUND. After the dedupe step (a request id already answered or
 * running here is not run again), a redelivery of a request to an endpoint that is not idempotent is
 * refused UNKNOWN_OUTCOME: its handler may have run on an instance that went away. A request whose body
 * would take the bodies held past the in-flight bound is refused CAPACITY ({@link #overInFlightBytes}).
 * A request the service's full queue refused, which the transport hands over to be answered, is refused
 * CAPACITY ({@link #onOverflow}).
 */
final class Admission {
  /** Why a request was refused: each reason has its own counter. */
  enum Reason {
    TOO_LARGE("too-large"),
    DELIVERY_LIMIT("delivery-limit"),
    WAITED_TOO_LONG("waited-too-long"),
    UNKNOWN_ENDPOINT("unknown-endpoint"),
    UNKNOWN_OUTCOME("unknown-outcome"),
    IN_FLIGHT_BYTES("in-flight-bytes"),
    QUEUE_FULL("queue-full");

    private final String code;

    Reason(String code) {
      this.code = code;
    }

    /** @return the short code a request set aside for this reason carries */
    String code() {
      return code;
    }
  }

  /** What to do with an arriving request. */
  enum Decision {
    /** Take it: run its endpoint's handler by the deadline given. */
    ADMIT,
    /** Its deadline has passed: acknowledge it and answer nothing. */
    DROP,
    /** Answer it with the error given, without running any handler. */
    REFUSE,
    /**
     * Answer it with the error given and set it aside where people can inspect and replay it: no
     * instance can handle it, so it must not be delivered again.
     */
    SET_ASIDE
  }

  /**
   * A verdict on a request.
   *
   * @param decision what to do
   * @param endpoint for ADMIT, the endpoint
   * @param deadlineMillis for ADMIT, the deadline its handler has (the caller's, or the server's default)
   * @param reason for REFUSE, why
   * @param error for REFUSE, the answer
   */
  record Verdict(Decision decision, Endpoint<?, ?> endpoint, long deadlineMillis, Reason reason, SkiffException error) {
    static final Verdict DROP = new Verdict(Decision.DROP, null, 0, null, null);

    static Verdict admit(Endpoint<?, ?> endpoint, long deadlineMillis) {
      return new Verdict(Decision.ADMIT, endpoint, deadlineMillis, null, null);
    }

    static Verdict refuse(Reason reason, SkiffException error) {
      return new Verdict(Decision.REFUSE, null, 0, reason, error);
    }

    static Verdict setAside(Reason reason, SkiffException error) {
      return new Verdict(Decision.SET_ASIDE, null, 0, reason, error);
    }
  }

  private final String service;
  private final Map<String, Endpoint<?, ?>> endpoints;
  private final int maxMessageBytes;
  private final Duration maxQueueWait;
  private final Duration defaultDeadline;
  private final int maxDeliveries;

  /**
   * @param service the service's name, for error messages
   * @param endpoints its endpoints, by name
   * @param maxMessageBytes the largest request body
   * @param maxQueueWait the longest a request may wait before its handler starts, or null for no bound
   * @param defaultDeadline the deadline of a request that carries none
   * @param maxDeliveries how many times a request may be handed to a handler before, unsettled each
   *     time, it is set aside
   */
  Admission(
      String service, Map<String, Endpoint<?, ?>> endpoints, int maxMessageBytes, Duration maxQueueWait, Duration defaultDeadline,
      int maxDeliveries) {
    this.service = Objects.requireNonNull(service, "service");
    this.endpoints = Map.copyOf(endpoints);
    this.maxMessageBytes = maxMessageBytes;
    this.maxQueueWait = maxQueueWait;
    this.defaultDeadline = Objects.requireNonNull(defaultDeadline, "defaultDeadline");
    this.maxDeliveries = maxDeliveries;
  }

  /**
   * The rules that apply as a request arrives with its body and no earlier delivery.
   *
   * @param req the request
   * @param nowMillis the time now (epoch milliseconds)
   * @return admit (with its endpoint and deadline), drop, refuse or set aside (with the answer)
   */
  Verdict onArrival(RequestMessage req, long nowMillis) {
    return onArrival(req, req.body().length, 0, nowMillis);
  }

  /**
   * The rules that apply as a request arrives.
   *
   * @param req the request
   * @param bodyBytes the size of its body (which the transport may have thrown away, unread, for its size)
   * @param deliveries how many times it was delivered before without being settled
   * @param nowMillis the time now (epoch milliseconds)
   * @return admit (with its endpoint and deadline), drop, refuse or set aside (with the answer)
   */
  Verdict onArrival(RequestMessage req, long bodyBytes, int deliveries, long nowMillis) {
    if (req.deadlineEpochMillis() != 0 && req.deadlineEpochMillis() <= nowMillis) {
      return Verdict.DROP;
    }
    if (bodyBytes > maxMessageBytes) {
      return Verdict.setAside(Reason.TOO_LARGE,
          new SkiffException(
                  ErrorCode.BAD_REQUEST,
                  "request of " + bodyBytes + " bytes is over the message size limit of " + maxMessageBytes + " bytes of " + service)
              .withContext("limit", Integer.toString(maxMessageBytes)));
    }
    if (deliveries >= maxDeliveries) {
      return Verdict.setAside(Reason.DELIVERY_LIMIT,
          new SkiffException(
                  ErrorCode.INTERNAL,
                  "the request was handed to instances of " + service + " " + deliveries + " times and none of them answered it "
                      + "(each went away while it ran): it was set aside (dead-lettered) and will not run again")
              .withContext("request_id", req.requestId()));
    }
    Verdict waited = onStart(req, nowMillis);
    if (waited != null) {
      return waited;
    }
    Endpoint<?, ?> endpoint = endpoints.get(req.endpoint());
    if (endpoint == null) {
      return Verdict.refuse(Reason.UNKNOWN_ENDPOINT,
          new SkiffException(
                  ErrorCode.NOT_FOUND,
                  "service " + service + " has no endpoint '" + req.endpoint() + "' (it has: "
                      + String.join(", ", new TreeSet<>(endpoints.keySet())) + ")")
              .withContext("endpoint", req.endpoint()));
    }
    long deadline = req.deadlineEpochMillis() == 0 ? nowMillis + defaultDeadline.toMillis() : req.deadlineEpochMillis();
    // a deadline from the wire is the caller's word: no handler is given more than any call may wait
    return Verdict.admit(endpoint, Math.min(deadline, nowMillis + CallOptions.MAX_TIMEOUT.toMillis()));
  }

  /**
   * The answer to a request the service's full queue refused ({@code Transport.Delivery#overflowed}):
   * dropped if its caller has stopped waiting, else refused CAPACITY; nothing runs.
   *
   * @param req the refused request
   * @param nowMillis the time now (epoch milliseconds)
   * @return drop or refuse
   */
  Verdict onOverflow(RequestMessage req, long nowMillis) {
    if (req.deadlineEpochMillis() != 0 && req.deadlineEpochMillis() <= nowMillis) {
      return Verdict.DROP;
    }
    return Verdict.refuse(Reason.QUEUE_FULL,
        new SkiffException(
            ErrorCode.CAPACITY,
            service + ": its queue is full (as many requests wait as its maxQueueDepth allows), so the request was refused"
                + " unrun; back off and retry later"));
  }

  /**
   * The refusal of a request whose body would take the request bodies this server holds past its bound.
   *
   * @param bodyBytes the request's body size
   * @param heldBytes the bytes held now
   * @param maxInFlightBytes the bound
   * @return the refusal (CAPACITY)
   */
  Verdict overInFlightBytes(long bodyBytes, long heldBytes, long maxInFlightBytes) {
    return Verdict.refuse(Reason.IN_FLIGHT_BYTES,
        new SkiffException(
                ErrorCode.CAPACITY,
                service + " is busy: it holds " + heldBytes + " bytes of requests in flight, and " + bodyBytes
                    + " more would go over its bound of " + maxInFlightBytes + " bytes; back off and retry later")
            .withContext("limit", Long.toString(maxInFlightBytes)));
  }

  /**
   * The rule for a redelivery, applied to a request that is not a duplicate of one answered or running
   * here.
   *
   * @param endpoint its endpoint
   * @param req the request
   * @param redelivered whether the transport delivered it before to a consumer that went away
   * @return the refusal, or null to run it
   */
  Verdict onRedelivery(Endpoint<?, ?> endpoint, RequestMessage req, boolean redelivered) {
    if (!redelivered || endpoint.idempotent()) {
      return null;
    }
    return Verdict.refuse(Reason.UNKNOWN_OUTCOME,
        new SkiffException(
                ErrorCode.UNKNOWN_OUTCOME,
                "the request reached an instance of " + service + " that went away before answering; "
                    + service + "/" + endpoint.name() + " is not idempotent, so it was not run again: it may or may not have been carried out")
            .withContext("request_id", req.requestId()));
  }

  /**
   * The rule that applies again as a request's handler is about to start: it must not have waited (in
   * the broker's queue or this server's) longer than the queue-wait bound.
   *
   * @param req the request
   * @param nowMillis the time now (epoch milliseconds)
   * @return the refusal (CAPACITY), or null to go on
   */
  Verdict onStart(RequestMessage req, long nowMillis) {
    long sent = req.sentEpochMillis();
    if (maxQueueWait == null || sent <= 0 || nowMillis - sent <= maxQueueWait.toMillis()) {
      return null;
    }
    return Verdict.refuse(Reason.WAITED_TOO_LONG,
        new SkiffException(
                ErrorCode.CAPACITY,
                service + " is behind: the request waited " + (nowMillis - sent) + " ms in its queue, over the limit of "
                    + maxQueueWait.toMillis() + " ms; back off and retry later")
            .withContext("limit_ms", Long.toString(maxQueueWait.toMillis())));
  }
}
