package dev.skiff.platform.security;

import java.util.Objects;

/**
 * A session token that proves nothing, and why. The message names the reason only: never the token, a
 * key or a password, so that it may be logged and sent back to the caller.
 */
public final class TokenRejectedException extends Exception {
  private static final long serialVersionUID = 1L;

  /** Why a token was refused. */
  public enum Reason {
    /** Not a token at all: not a signed JWT, too large, or missing a claim. */
    MALFORMED,
    /** Signed by a key the login service never published, or the signature does not match. */
    BAD_SIGNATURE,
    /** Past its expiry. */
    EXPIRED,
    /** Its session was ended: logout, password change, or an administrator. */
    REVOKED,
    /** The keys to check it could not be had (the login service unreachable since start). */
    KEYS_UNAVAILABLE,
    /** This process verifies no tokens ({@link TokenVerifier#refusingAll()}). */
    NO_VERIFIER
  }

  private final Reason reason;

  /**
   * @param reason why
   * @param message a sentence for the caller, without secrets
   */
  public TokenRejectedException(Reason reason, String message) {
    super(message, null, false, false);
    this.reason = Objects.requireNonNull(reason, "reason");
  }

  /** @return why the token was refused */
  public Reason reason() {
    return reason;
  }
}
