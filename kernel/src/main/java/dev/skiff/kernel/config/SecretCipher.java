package dev.skiff.kernel.config;

import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import java.util.Map;
import java.util.Optional;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * Seals and opens secret configuration values with AES-256-GCM under the key in
 * {@value #KEY_VARIABLE} (base64 of 32 bytes). A sealed value is text {@code v1.KEYID.DATA}: the key's id
 * (the first 6 bytes of its SHA-256, base64url) so that a value sealed under another key is recognised,
 * and base64 of a random 12-byte nonce followed by the ciphertext and tag. The layer and path are bound
 * in as associated data, so a sealed value cannot be moved to another layer or path and opened there.
 * Messages never contain the key or a value. Thread-safe.
 */
final class SecretCipher {
  /** The variable holding the key. */
  static final String KEY_VARIABLE = "SKIFF_CONFIG_SECRET_KEY";
  private static final String VERSION = "v1";
  private static final int NONCE = 12;
  private static final int TAG_BITS = 128;
  private static final SecureRandom RANDOM = new SecureRandom();

  private final SecretKeySpec key;
  private final String keyId;

  private SecretCipher(byte[] key) {
    this.key = new SecretKeySpec(key, "AES");
    this.keyId = keyId(key);
    Arrays.fill(key, (byte) 0);
  }

  /**
   * @param env the environment
   * @return the cipher of the key in {@value #KEY_VARIABLE}, or empty when it is not set
   * @throws IllegalArgumentException when it is set but not base64 of 32 bytes (the message does not
   *     contain the value)
   */
  static Optional<SecretCipher> fromEnvironment(Map<String, String> env) {
    String text = env.get(KEY_VARIABLE);
    if (text == null || text.isBlank()) {
      return Optional.empty();
    }
    byte[] key;
    try {
      key = Base64.getDecoder().decode(text.trim());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(KEY_VARIABLE + " must be base64 of 32 random bytes (e.g. openssl rand -base64 32)");
    }
    if (key.length != 32) {
      throw new IllegalArgumentException(KEY_VARIABLE + " must be base64 of 32 random bytes (e.g. openssl rand -base64 32), not "
          + key.length + " bytes");
    }
    return Optional.of(new SecretCipher(key));
  }

  /**
   * @param key 32 bytes (copied, then the copy is the cipher's)
   * @return a cipher of the key
   */
  static SecretCipher of(byte[] key) {
    if (key.length != 32) {
      throw new IllegalArgumentException("an AES-256 key is 32 bytes");
    }
    return new SecretCipher(key.clone());
  }

  /**
   * @param plain the value's JSON text
   * @param layer the layer's key
   * @param path the dotted path
   * @return the sealed text
   */
  String seal(String plain, String layer, String path) {
    byte[] nonce = new byte[NONCE];
    RANDOM.nextBytes(nonce);
    try {
      Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
      c.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, nonce));
      c.updateAAD(aad(layer, path));
      byte[] ct = c.doFinal(plain.getBytes(StandardCharsets.UTF_8));
      byte[] out = new byte[NONCE + ct.length];
      System.arraycopy(nonce, 0, out, 0, NONCE);
      System.arraycopy(ct, 0, out, NONCE, ct.length);
      return VERSION + "." + keyId + "." + Base64.getEncoder().encodeToString(out);
    } catch (GeneralSecurityException e) {
      throw new SkiffException(ErrorCode.INTERNAL, "a secret could not be encrypted (" + e.getClass().getSimpleName() + ")");
    }
  }

  /**
   * @param sealed text from {@link #seal}
   * @param layer the layer's key it is in
   * @param path the dotted path it is at
   * @return the value's JSON text
   * @throws SkiffException INTERNAL when it was sealed under another key, for another place, or was altered
   */
  String open(String sealed, String layer, String path) {
    String[] p = sealed.split("\\.", 3);
    if (p.length != 3 || !p[0].equals(VERSION)) {
      throw unreadable(layer, path, "it is not a sealed value");
    }
    if (!p[1].equals(keyId)) {
      throw unreadable(layer, path, "it was encrypted under another key (id " + p[1] + ", the configured key's is " + keyId + ")");
    }
    try {
      byte[] data = Base64.getDecoder().decode(p[2]);
      if (data.length < NONCE + TAG_BITS / 8) {
        throw unreadable(layer, path, "it is too short");
      }
      Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
      c.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, data, 0, NONCE));
      c.updateAAD(aad(layer, path));
      return new String(c.doFinal(data, NONCE, data.length - NONCE), StandardCharsets.UTF_8);
    } catch (GeneralSecurityException | IllegalArgumentException e) {
      throw unreadable(layer, path, "it does not decrypt here (altered, or moved from another layer or path)");
    }
  }

  private static SkiffException unreadable(String layer, String path, String why) {
    return new SkiffException(ErrorCode.INTERNAL, "the secret at " + path + " of layer " + layer + " cannot be read: " + why);
  }

  private static byte[] aad(String layer, String path) {
    return (layer + "\n" + path).getBytes(StandardCharsets.UTF_8);
  }

  private static String keyId(byte[] key) {
    try {
      byte[] h = MessageDigest.getInstance("SHA-256").digest(key);
      return Base64.getUrlEncoder().withoutPadding().encodeToString(Arrays.copyOf(h, 6));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /** @return the key's id, as in the values it seals */
  String keyId() {
    return keyId;
  }
}
