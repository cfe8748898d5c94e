package dev.skiff.kernel.http;

import dev.skiff.platform.internal.Printable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.InvalidKeyException;
import java.security.Key;
import java.security.KeyStore;
import java.security.KeyStoreException;
import java.security.NoSuchAlgorithmException;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.SignatureException;
import java.security.UnrecoverableKeyException;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * TLS for a server facing the network (the gateway, the kernel's pages): the key store holding its private
 * key and certificate chain, and the store's password. With it the port speaks HTTPS only (docs/gateway.md,
 * "TLS"); the store is read again when the file changes, so a renewed certificate is served without a
 * restart. The password is never printed: {@link #toString()} leaves it out.
 *
 * @param keyStore a PKCS#12 file ({@code .p12}, {@code .pfx}; what {@code keytool} and {@code openssl pkcs12
 *     -export} write) holding one private key and its certificate chain
 * @param password the store's password (also the key's, as in every PKCS#12 file those tools write)
 */
public record Tls(Path keyStore, String password) {
  /** Checks the values. */
  public Tls {
    Objects.requireNonNull(keyStore, "keyStore");
    Objects.requireNonNull(password, "password");
  }

  /**
   * @param env the environment
   * @param prefix the settings' prefix: {@code SKIFF_GATEWAY_} or {@code SKIFF_HTTP_}; then
   *     {@code PREFIXTLS_KEYSTORE} (the file; unset or blank for plain HTTP) and {@code PREFIXTLS_KEYSTORE_PASSWORD}
   *     are read
   * @return the TLS settings, or empty for plain HTTP
   * @throws IllegalArgumentException naming the variable when the file is not a readable file, or not a key
   *     store that opens with the password and holds a private key whose certificate is its own (a test value
   *     signed with the key verifies with the certificate's public key); the password is never in the message
   */
  public static Optional<Tls> fromEnvironment(Map<String, String> env, String prefix) {
    String file = env.getOrDefault(prefix + "TLS_KEYSTORE", "").trim();
    if (file.isEmpty()) {
      return Optional.empty();
    }
    Path path = Path.of(file);
    if (!Files.isRegularFile(path) || !Files.isReadable(path)) {
      throw new IllegalArgumentException(prefix + "TLS_KEYSTORE: '" + Printable.of(file) + "' is not a readable file");
    }
    String password = env.getOrDefault(prefix + "TLS_KEYSTORE_PASSWORD", "");
    checkOpens(path, password, prefix);
    return Optional.of(new Tls(path, password));
  }

  /** Opens the key store as the server will, so that a wrong password or file is said in one line at start. */
  private static void checkOpens(Path path, String password, String prefix) {
    String which = prefix + "TLS_KEYSTORE: '" + Printable.of(path.toString()) + "'";
    KeyStore store;
    try {
      store = KeyStore.getInstance(path.toFile(), password.toCharArray());
    } catch (IOException | GeneralSecurityException e) {
      boolean wrongPassword = e.getCause() instanceof UnrecoverableKeyException || String.valueOf(e.getMessage()).contains("password");
      throw new IllegalArgumentException(which + (wrongPassword
          ? " does not open with " + prefix + "TLS_KEYSTORE_PASSWORD (a wrong password)"
          : " is not a key store (a PKCS#12 file with the private key and its certificate chain)"));
    }
    try {
      for (String alias : java.util.Collections.list(store.aliases())) {
        if (store.isKeyEntry(alias)) {
          checkKeyMatchesCertificate(store, alias, password, which);
          return;
        }
      }
    } catch (KeyStoreException e) {
      throw new IllegalArgumentException(which + " cannot be read: " + Printable.of(e.getMessage()));
    }
    throw new IllegalArgumentException(which + " holds no private key (only certificates): the server needs its key and chain");
  }

  /**
   * Signs a test value with the entry's private key and verifies it with its certificate's public key: a
   * key that is not the certificate's opens like any other, and then fails every handshake ("bad
   * signature") while the server looks healthy.
   */
  private static void checkKeyMatchesCertificate(KeyStore store, String alias, String password, String which) throws KeyStoreException {
    Key key;
    try {
      key = store.getKey(alias, password.toCharArray());
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException(which + ": its private key does not open with " + "the store's password");
    }
    Certificate cert = store.getCertificate(alias);
    if (!(key instanceof PrivateKey privateKey) || cert == null) {
      throw new IllegalArgumentException(which + " holds no private key with a certificate: the server needs its key and chain");
    }
    String algorithm = signatureAlgorithm(privateKey.getAlgorithm());
    if (algorithm == null) {
      return; // a key type this check cannot sign with: the handshake will tell
    }
    byte[] probe = "skiff: does the key match its certificate?".getBytes(StandardCharsets.US_ASCII);
    boolean matches;
    try {
      Signature sign = Signature.getInstance(algorithm);
      sign.initSign(privateKey);
      sign.update(probe);
      byte[] signature = sign.sign();
      Signature verify = Signature.getInstance(algorithm);
      verify.initVerify(cert.getPublicKey());
      verify.update(probe);
      matches = verify.verify(signature);
    } catch (InvalidKeyException | SignatureException e) {
      matches = false; // a certificate for another type of key, or a signature that is not one
    } catch (NoSuchAlgorithmException e) {
      return; // not signable here: the handshake will tell
    }
    if (!matches) {
      String subject = cert instanceof X509Certificate x ? " (" + Printable.of(x.getSubjectX500Principal().getName(), 200) + ")" : "";
      throw new IllegalArgumentException(which + ": its private key is not the key of its certificate" + subject
          + ": every TLS handshake would fail; export the key together with its own certificate chain");
    }
  }

  /** @return a signature algorithm for a key algorithm, or null when there is none to try */
  private static String signatureAlgorithm(String keyAlgorithm) {
    return switch (keyAlgorithm) {
      case "RSA" -> "SHA256withRSA";
      case "EC" -> "SHA256withECDSA";
      case "DSA" -> "SHA256withDSA";
      case "EdDSA", "Ed25519", "Ed448" -> keyAlgorithm;
      default -> null;
    };
  }

  @Override
  public String toString() {
    return "TLS with the key store " + keyStore;
  }
}
