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
 */
public record ReplyMessage(
    String correlationId,
    boolean ok,
    String contentType,
    String service,
    String serviceVersion,
    String instance,
    boolean idempotent,
    byte[] body) {}
