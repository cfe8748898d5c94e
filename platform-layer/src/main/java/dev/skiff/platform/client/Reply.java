package dev.skiff.platform.client;

/**
 * A successful reply with what is known about who answered it.
 *
 * @param value the response
 * @param service the service that answered
 * @param serviceVersion the answering instance's version
 * @param instance the answering instance's id
 * @param requestId the request id the call carried
 * @param traceId the call's W3C trace id
 * @param <T> the response type
 */
public record Reply<T>(T value, String service, String serviceVersion, String instance, String requestId, String traceId) {}
