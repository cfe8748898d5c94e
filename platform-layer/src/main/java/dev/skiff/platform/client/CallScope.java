package dev.skiff.platform.client;

import java.time.Instant;

/**
 * The parent of nested calls: calls made through {@link Client#withScope(CallScope)} never outlive the
 * deadline and carry on the trace. A server hands every handler a client in the scope of its request.
 *
 * @param deadline the latest moment a nested call may wait until, or null for none
 * @param traceparent the W3C trace context of the parent span, or null to start new traces
 * @param userToken the session token of the person the calls are made for, passed on unchanged (the
 *     signature makes it impossible to forge or widen), or null for none
 */
public record CallScope(Instant deadline, String traceparent, String userToken) {
  /**
   * A scope for calls made for no person.
   *
   * @param deadline the latest moment a nested call may wait until, or null for none
   * @param traceparent the W3C trace context of the parent span, or null to start new traces
   */
  public CallScope(Instant deadline, String traceparent) {
    this(deadline, traceparent, null);
  }

  /**
   * A scope carrying a person's session token and nothing else: what the CLI and the gateway use for
   * calls they make for a signed-in person.
   *
   * @param userToken the token
   * @return the scope
   */
  public static CallScope forUser(String userToken) {
    return new CallScope(null, null, java.util.Objects.requireNonNull(userToken, "userToken"));
  }
}
