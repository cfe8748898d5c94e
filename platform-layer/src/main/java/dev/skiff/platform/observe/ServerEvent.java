package dev.skiff.platform.observe;

import dev.skiff.platform.ErrorCode;

/**
 * A request a server finished with.
 *
 * @param service the service
 * @param endpoint the endpoint named by the request (may be one the service does not have)
 * @param instance the instance that took it
 * @param version the instance's version
 * @param requestId the request id
 * @param fromService the calling service, as it names itself
 * @param traceId the trace id
 * @param spanId the server's span id for this request
 * @param parentSpanId the caller's span id, or "" when the request started the trace
 * @param sampled whether the trace is recorded
 * @param receivedEpochMicros when the server took the request
 * @param durationNanos from taking the request to answering it
 * @param handlerRan whether the handler ran (false for refusals, drops and answers from the dedupe cache)
 * @param error the error answered, or null for success; {@link ErrorCode#TIMEOUT} also for a request
 *     dropped because its deadline had passed
 * @param replied whether an answer was sent (false for dropped requests)
 */
public record ServerEvent(
    String service,
    String endpoint,
    String instance,
    String version,
    String requestId,
    String fromService,
    String traceId,
    String spanId,
    String parentSpanId,
    boolean sampled,
    long receivedEpochMicros,
    long durationNanos,
    boolean handlerRan,
    ErrorCode error,
    boolean replied) {}
