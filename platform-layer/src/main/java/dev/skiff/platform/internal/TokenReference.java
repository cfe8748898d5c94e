package dev.skiff.platform.internal;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;

/**
 * The short reference a client sends instead of a person's session token once the token has gone out in
 * full (docs/security.md "Session references"): the first 128 bits of the token's SHA-256, in base64url
 * without padding, 22 characters. A server resolves it only to a token the same broker user presented to
 * it in full and that it verified. Not API.
 */
public final class TokenReference {
  /** The length of a reference, in characters. */
  public static final int LENGTH = 22;
  /**
   * The longest token that travels by reference (tokens are a few hundred characters); a longer one
   * always goes in full, so that neither side holds more than this per entry.
   */
  public static final int MAX_TOKEN_CHARS = 2048;

  private static final Base64.Encoder ENCODER = Base64.getUrlEncoder().withoutPadding();

  private TokenReference() {}

  /**
   * @param token a session token of at most {@link #MAX_TOKEN_CHARS} characters
   * @return its reference
   */
  public static String of(String token) {
    MessageDigest sha;
    try {
      sha = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every Java platform", e);
    }
    byte[] digest = sha.digest(token.getBytes(StandardCharsets.UTF_8));
    byte[] first = new byte[16];
    System.arraycopy(digest, 0, first, 0, first.length);
    return ENCODER.encodeToString(first);
  }

  /**
   * @param token a session token
   * @return whether it may travel by reference ({@link #MAX_TOKEN_CHARS})
   */
  public static boolean referable(String token) {
    return token.length() <= MAX_TOKEN_CHARS;
  }

  /**
   * @param ref text from the wire
   * @return whether it has a reference's shape: {@link #LENGTH} base64url characters
   */
  public static boolean isWellFormed(String ref) {
    if (ref == null || ref.length() != LENGTH) {
      return false;
    }
    for (int i = 0; i < LENGTH; i++) {
      char c = ref.charAt(i);
      boolean ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
      if (!ok) {
        return false;
      }
    }
    return true;
  }
}
