package dev.skiff.platform.transport;

import java.util.Objects;

/**
 * A request as a transport carries it: routing and context headers plus the encoded body. Built with
 * {@link #builder()}; what a builder leaves unset is empty text (or null where "none" means something:
 * target instance and version, user id, reply address; 0 for the times).
 *
 * @param correlationId unique per attempt; the reply carries it back
 * @param requestId the logical request's id, the same across retries
 * @param service the target service's dotted name
 * @param endpoint the target endpoint
 * @param targetInstance the instance the call is addressed to, or null for any instance
 * @param targetVersion the version the call is pinned to, or null for any version
 * @param deadlineEpochMillis when the caller stops waiting (milliseconds since the epoch), or 0 for none
 * @param sentEpochMillis when the caller sent this attempt (milliseconds since the epoch), or 0
 * @param fromService the calling service, or "" for a tool
 * @param fromInstance the calling instance
 * @param traceparent the W3C trace context of the call
 * @param contentType the body's encoding ({@link ContentTypes})
 * @param accept the encoding the caller wants the reply in
 * @param userId the broker-validated identity of the sender, on inbound messages; null when unknown
 * @param userToken the session token of the person the call is made for, or null for none (untrusted
 *     text until a {@link dev.skiff.platform.security.TokenVerifier} checks it)
 * @param userTokenReference instead of the token, the short reference to a token sent in full before
 *     ({@link dev.skiff.platform.internal.TokenReference}), or null; a server resolves it into
 *     {@code userToken} before anything reads the request
 * @param replyTo where the reply goes (set by the transport), or null
 * @param body the encoded request
 */
public record RequestMessage(
    String correlationId,
    String requestId,
    String service,
    String endpoint,
    String targetInstance,
    String targetVersion,
    long deadlineEpochMillis,
    long sentEpochMillis,
    String fromService,
    String fromInstance,
    String traceparent,
    String contentType,
    String accept,
    String userId,
    String userToken,
    String userTokenReference,
    String replyTo,
    byte[] body) {

  /** Checks that the fields that are never absent are present. */
  public RequestMessage {
    Objects.requireNonNull(correlationId, "correlationId");
    Objects.requireNonNull(requestId, "requestId");
    Objects.requireNonNull(service, "service");
    Objects.requireNonNull(endpoint, "endpoint");
    Objects.requireNonNull(fromService, "fromService");
    Objects.requireNonNull(fromInstance, "fromInstance");
    Objects.requireNonNull(traceparent, "traceparent");
    Objects.requireNonNull(contentType, "contentType");
    Objects.requireNonNull(accept, "accept");
    Objects.requireNonNull(body, "body");
  }

  /** @return a builder with nothing set */
  public static Builder builder() {
    return new Builder();
  }

  /** @return a builder holding this request's fields */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.correlationId = correlationId;
    b.requestId = requestId;
    b.service = service;
    b.endpoint = endpoint;
    b.targetInstance = targetInstance;
    b.targetVersion = targetVersion;
    b.deadlineEpochMillis = deadlineEpochMillis;
    b.sentEpochMillis = sentEpochMillis;
    b.fromService = fromService;
    b.fromInstance = fromInstance;
    b.traceparent = traceparent;
    b.contentType = contentType;
    b.accept = accept;
    b.userId = userId;
    b.userToken = userToken;
    b.userTokenReference = userTokenReference;
    b.replyTo = replyTo;
    b.body = body;
    return b;
  }

  /**
   * A copy with the reply address set.
   *
   * @param replyTo the reply address
   * @return the copy
   */
  public RequestMessage withReplyTo(String replyTo) {
    return toBuilder().replyTo(replyTo).build();
  }

  /**
   * A copy carrying the token its reference stands for (the reference kept, so that a reader can tell
   * that the token did not come in full).
   *
   * @param token the session token
   * @return the copy
   */
  public RequestMessage withResolvedToken(String token) {
    return toBuilder().userToken(token).build();
  }

  /** Builds a {@link RequestMessage}; every setter returns the builder. */
  public static final class Builder {
    private String correlationId = "";
    private String requestId = "";
    private String service = "";
    private String endpoint = "";
    private String targetInstance;
    private String targetVersion;
    private long deadlineEpochMillis;
    private long sentEpochMillis;
    private String fromService = "";
    private String fromInstance = "";
    private String traceparent = "";
    private String contentType = ContentTypes.PROTOBUF;
    private String accept = ContentTypes.PROTOBUF;
    private String userId;
    private String userToken;
    private String userTokenReference;
    private String replyTo;
    private byte[] body = new byte[0];

    private Builder() {}

    /** @param v unique per attempt @return this */
    public Builder correlationId(String v) {
      correlationId = v;
      return this;
    }

    /** @param v the logical request's id @return this */
    public Builder requestId(String v) {
      requestId = v;
      return this;
    }

    /** @param v the target service @return this */
    public Builder service(String v) {
      service = v;
      return this;
    }

    /** @param v the target endpoint @return this */
    public Builder endpoint(String v) {
      endpoint = v;
      return this;
    }

    /** @param v the instance addressed, or null for any @return this */
    public Builder targetInstance(String v) {
      targetInstance = v;
      return this;
    }

    /** @param v the version pinned, or null for any @return this */
    public Builder targetVersion(String v) {
      targetVersion = v;
      return this;
    }

    /** @param v when the caller stops waiting, ms since the epoch (0: none) @return this */
    public Builder deadlineEpochMillis(long v) {
      deadlineEpochMillis = v;
      return this;
    }

    /** @param v when this attempt was sent, ms since the epoch (0: unknown) @return this */
    public Builder sentEpochMillis(long v) {
      sentEpochMillis = v;
      return this;
    }

    /** @param v the calling service ("" for a tool) @return this */
    public Builder fromService(String v) {
      fromService = v;
      return this;
    }

    /** @param v the calling instance @return this */
    public Builder fromInstance(String v) {
      fromInstance = v;
      return this;
    }

    /** @param v the W3C trace context @return this */
    public Builder traceparent(String v) {
      traceparent = v;
      return this;
    }

    /** @param v the body's encoding @return this */
    public Builder contentType(String v) {
      contentType = v;
      return this;
    }

    /** @param v the encoding wanted for the reply @return this */
    public Builder accept(String v) {
      accept = v;
      return this;
    }

    /** @param v the broker-validated sender, or null @return this */
    public Builder userId(String v) {
      userId = v;
      return this;
    }

    /** @param v the session token of the person the call is for, or null @return this */
    public Builder userToken(String v) {
      userToken = v;
      return this;
    }

    /** @param v the reference to a session token sent in full before, or null @return this */
    public Builder userTokenReference(String v) {
      userTokenReference = v;
      return this;
    }

    /** @param v where the reply goes, or null @return this */
    public Builder replyTo(String v) {
      replyTo = v;
      return this;
    }

    /** @param v the encoded request @return this */
    public Builder body(byte[] v) {
      body = v;
      return this;
    }

    /** @return the request */
    public RequestMessage build() {
      return new RequestMessage(
          correlationId, requestId, service, endpoint, targetInstance, targetVersion, deadlineEpochMillis, sentEpochMillis,
          fromService, fromInstance, traceparent, contentType, accept, userId, userToken, userTokenReference, replyTo, body);
    }
  }
}
