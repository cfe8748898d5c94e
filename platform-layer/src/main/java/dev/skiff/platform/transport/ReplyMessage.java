package dev.skiff.platform.transport;

/**
 * A reply as a transport carries it.
 *
 * @param correlationId the correlation id of the request it answers
 * @param ok true for a response body, false for a {@code skiff.v1.Error} body
 * @param contentType the body's encoding ({@link ContentTypes})
 * @param service the answering service
 * @param serviceVersion the answering instance's version
 * @param instance the answering instance's id
 * @param idempotent whether the endpoint is declared idempotent (safe to retry), as far as the server knows
 * @param body the encoded response or error
 * @param userId the broker-validated identity of the replying connection, on inbound replies; null when
 *     unknown (a client accepts a reply only from a user that may act as the service it called:
 *     {@link dev.skiff.platform.security.ServiceIdentities})
 * @param sessionUnknown whether the request named its person's session by a reference the answering
 *     instance cannot resolve ({@link RequestMessage#userTokenReference}): not run, and answered with an
 *     {@code UNAUTHORIZED} error that a client meets by sending the token in full
 */
public record ReplyMessage(
    String correlationId,
    boolean ok,
    String contentType,
    String service,
    String serviceVersion,
    String instance,
    boolean idempotent,
    byte[] body,
    String userId,
    boolean sessionUnknown) {

  /**
   * A reply whose sender's identity is not (yet) known: what a server hands its transport, which sends
   * it as its connection's user.
   *
   * @param correlationId see above
   * @param ok see above
   * @param contentType see above
   * @param service see above
   * @param serviceVersion see above
   * @param instance see above
   * @param idempotent see above
   * @param body see above
   */
  public ReplyMessage(
      String correlationId, boolean ok, String contentType, String service, String serviceVersion, String instance,
      boolean idempotent, byte[] body) {
    this(correlationId, ok, contentType, service, serviceVersion, instance, idempotent, body, null, false);
  }

  /**
   * A reply with its sender's identity, answering a request that the answering instance could read.
   *
   * @param correlationId see above
   * @param ok see above
   * @param contentType see above
   * @param service see above
   * @param serviceVersion see above
   * @param instance see above
   * @param idempotent see above
   * @param body see above
   * @param userId see above
   */
  public ReplyMessage(
      String correlationId, boolean ok, String contentType, String service, String serviceVersion, String instance,
      boolean idempotent, byte[] body, String userId) {
    this(correlationId, ok, contentType, service, serviceVersion, instance, idempotent, body, userId, false);
  }

  /**
   * @param user the sender's identity
   * @return a copy with that identity
   */
  public ReplyMessage withUserId(String user) {
    return new ReplyMessage(correlationId, ok, contentType, service, serviceVersion, instance, idempotent, body, user, sessionUnknown);
  }
}
