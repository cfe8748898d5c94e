package dev.skiff.platform.client;

import java.time.Duration;

/**
 * Per-call settings. Immutable; start from {@link #defaults()} or one of the static factories.
 *
 * @param timeout how long to wait for the reply, or null for the client's default; the call's deadline is
 *     also never later than its parent request's
 * @param instance the instance id the call must go to, or null for any instance of the service
 * @param requestId the logical request id to send, or null for a fresh one (retries reuse one)
 * @param idempotent whether the caller declares the endpoint idempotent (safe to retry); null to go by
 *     what the service declares (learned from its replies)
 * @param trace whether to record this call's trace whatever the sampling rate (for a new trace)
 */
public record CallOptions(Duration timeout, String instance, String version, String requestId, Boolean idempotent, boolean trace) {
  private static final CallOptions DEFAULTS = new CallOptions(null, null, null, null, null, false);

  /**
   * The longest timeout a call may have: 30 days. A call asking for longer is refused BAD_REQUEST before
   * it is sent. RabbitMQ refuses a per-message TTL over 2^32-1 ms (about 49.7 days) by closing the
   * publishing channel; this bound stays well inside it, and far beyond any call worth waiting for.
   */
  public static final Duration MAX_TIMEOUT = Duration.ofDays(30);

  /** Checks the arguments. */
  public CallOptions {
    if (timeout != null && (timeout.isNegative() || timeout.isZero())) {
      throw new IllegalArgumentException("timeout must be positive: " + timeout);
    }
  }

  /** @return the client's defaults */
  public static CallOptions defaults() {
    return DEFAULTS;
  }

  /**
   * @param timeout the timeout
   * @return defaults with this timeout
   */
  public static CallOptions timeout(Duration timeout) {
    return DEFAULTS.withTimeout(timeout);
  }

  /**
   * @param timeout the timeout
   * @return a copy with this timeout
   */
  public CallOptions withTimeout(Duration timeout) {
    return new CallOptions(timeout, instance, version, requestId, idempotent, trace);
  }

  /**
   * @param instance the instance id to address
   * @return a copy addressed to that instance
   */
  public CallOptions withInstance(String instance) {
    return new CallOptions(timeout, instance, version, requestId, idempotent, trace);
  }

  /**
   * @param version the version to pin the call to
   * @return a copy pinned to any instance of that version
   */
  public CallOptions withVersion(String version) {
    return new CallOptions(timeout, instance, version, requestId, idempotent, trace);
  }

  /**
   * @param idempotent whether the endpoint may safely be retried
   * @return a copy that declares it
   */
  public CallOptions withIdempotent(boolean idempotent) {
    return new CallOptions(timeout, instance, version, requestId, idempotent, trace);
  }

  /**
   * @param trace true to record this call's trace even if sampling would not
   * @return a copy that asks for it
   */
  public CallOptions withTrace(boolean trace) {
    return new CallOptions(timeout, instance, version, requestId, idempotent, trace);
  }

  /**
   * @param requestId the request id to send
   * @return a copy that sends this request id
   */
  public CallOptions withRequestId(String requestId) {
    return new CallOptions(timeout, instance, version, requestId, idempotent, trace);
  }
}
