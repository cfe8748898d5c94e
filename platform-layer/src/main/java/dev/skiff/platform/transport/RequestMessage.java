package dev.skiff.platform.transport;

/**
 * A request as a transport carries it: routing and context headers plus the encoded body.
 *
 * @param correlationId unique per attempt; the reply carries it back
 * @param requestId the logical request's id, the same across retries
 * @param service the target service's dotted name
 * @param endpoint the target endpoint
 * @param targetInstance the instance the call is addressed to, or null for any instance
 * @param targetVersion the version the call is pinned to, or null for any version
 * @param deadlineEpochMillis when the caller stops waiting (milliseconds since the epoch)
 * @param sentEpochMillis when the caller sent this attempt (milliseconds since the epoch), or 0
 * @param fromService the calling service, or "" for a tool
 * @param fromInstance the calling instance
 * @param traceparent the W3C trace context of the call
 * @param contentType the body's encoding ({@link ContentTypes})
 * @param accept the encoding the caller wants the reply in
 * @param userId the broker-validated identity of the sender, on inbound messages; null when unknown
 * @param replyTo where the reply goes (set by the transport)
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
    String replyTo,
    byte[] body) {

  /**
   * A copy with the reply address set.
   *
   * @param replyTo the reply address
   * @return the copy
   */
  public RequestMessage withReplyTo(String replyTo) {
    return new RequestMessage(
        correlationId, requestId, service, endpoint, targetInstance, targetVersion, deadlineEpochMillis, sentEpochMillis, fromService,
        fromInstance, traceparent, contentType, accept, userId, replyTo, body);
  }
}
