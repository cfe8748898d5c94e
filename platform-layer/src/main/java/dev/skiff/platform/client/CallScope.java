package dev.skiff.platform.client;

import java.time.Instant;

/**
 * The parent of nested calls: calls made through {@link Client#withScope(CallScope)} never outlive the
 * deadline and carry on the trace. A server hands every handler a client in the scope of its request.
 *
 * @param deadline the latest moment a nested call may wait until, or null for none
 * @param traceparent the W3C trace context of the parent span, or null to start new traces
 */
public record CallScope(Instant deadline, String traceparent) {}
