package dev.skiff.platform;

/**
 * What went wrong with a call, in terms a caller can act on. Every failure that crosses the wire carries
 * exactly one of these; see {@link SkiffException}.
 *
 * <p>The numbering matches {@code skiff.v1.ErrorCode} in {@code skiff/v1/error.proto}.
 */
public enum ErrorCode {
  /** The request was malformed or failed validation; retrying it unchanged will fail again. */
  BAD_REQUEST(false),
  /** The caller did not prove who it is. */
  UNAUTHORIZED(false),
  /** The caller is known but may not do this. */
  FORBIDDEN(false),
  /** No such service, endpoint or entity. */
  NOT_FOUND(false),
  /** The deadline passed before an answer came. */
  TIMEOUT(true),
  /** The request conflicts with the current state. */
  CONFLICT(false),
  /** The service is at one of its bounds (concurrency, queue depth, message size): back off. */
  CAPACITY(true),
  /** The service or the broker cannot be reached right now. */
  UNAVAILABLE(true),
  /** A bug or unexpected failure inside the service. */
  INTERNAL(false),
  /** The caller's circuit breaker for this endpoint is open; nothing was sent. */
  CIRCUIT_OPEN(true),
  /** The request may or may not have been carried out, for example because its server died mid-request. */
  UNKNOWN_OUTCOME(false);

  private final boolean retryable;

  ErrorCode(boolean retryable) {
    this.retryable = retryable;
  }

  /**
   * Whether a retry of an idempotent request can be expected to succeed where this attempt failed.
   *
   * @return true for transient conditions (timeouts, capacity, unavailability)
   */
  public boolean isRetryable() {
    return retryable;
  }

  /**
   * The wire form of this code.
   *
   * @return the matching protobuf enum value
   */
  public dev.skiff.proto.v1.ErrorCode toProto() {
    return dev.skiff.proto.v1.ErrorCode.valueOf(name());
  }

  /**
   * The code for a wire value; an unknown or unset value (from a newer peer) reads as {@link #INTERNAL}.
   *
   * @param code the protobuf enum value
   * @return the matching code
   */
  public static ErrorCode fromProto(dev.skiff.proto.v1.ErrorCode code) {
    if (code == null
        || code == dev.skiff.proto.v1.ErrorCode.UNRECOGNIZED
        || code == dev.skiff.proto.v1.ErrorCode.ERROR_CODE_UNSPECIFIED) {
      return INTERNAL;
    }
    return valueOf(code.name());
  }
}
