package dev.skiff.platform.observe;

import dev.skiff.platform.ErrorCode;

/**
 * One attempt of a client call, ended.
 *
 * @param fromService the calling service ("" for tools)
 * @param service the called service
 * @param endpoint the called endpoint
 * @param requestId the request id (the same for every attempt of a call)
 * @param attempt 1 for the first attempt, 2 for the first retry, ...
 * @param traceId the trace id
 * @param spanId the client span's id for this attempt (the server's parent span)
 * @param parentSpanId the span the call was made from, or "" for a new trace
 * @param sampled whether the trace is recorded
 * @param sentEpochMicros when the attempt was sent
 * @param durationNanos from sending to the reply, error or timeout
 * @param error the error, or null for success
 * @param retrying whether another attempt follows
 * @param answeredBy the instance that answered, or "" when none did
 * @param answeredVersion the answering instance's version, or ""
 */
public record ClientEvent(
    String fromService,
    String service,
    String endpoint,
    String requestId,
    int attempt,
    String traceId,
    String spanId,
    String parentSpanId,
    boolean sampled,
    long sentEpochMicros,
    long durationNanos,
    ErrorCode error,
    boolean retrying,
    String answeredBy,
    String answeredVersion) {}
