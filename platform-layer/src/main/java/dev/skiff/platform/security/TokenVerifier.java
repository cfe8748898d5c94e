package dev.skiff.platform.security;

/**
 * <b>SPI.</b> Turns a session token into the person it proves, or refuses it. A server asks it for every
 * request that carries a token; the platform's implementation checks the login service's signatures with
 * the public keys it publishes, caches what it verified, and refuses revoked sessions at once
 * (docs/security.md). Implementations are thread-safe and fast on the repeated token: the server calls
 * them on its request path.
 */
public interface TokenVerifier {
  /**
   * @param token the token as the caller sent it (untrusted: any text)
   * @return the person it proves
   * @throws TokenRejectedException when it proves nothing: malformed, signed by an unknown key or not
   *     signed right, expired, revoked
   */
  UserIdentity verify(String token) throws TokenRejectedException;

  /**
   * A verifier that accepts no token: for a process that does not trust any login service (calls with a
   * token are then unauthenticated people; calls without one are judged by the broker identity alone).
   *
   * @return the verifier
   */
  static TokenVerifier refusingAll() {
    return token -> {
      throw new TokenRejectedException(TokenRejectedException.Reason.NO_VERIFIER, "this service verifies no session tokens");
    };
  }
}
