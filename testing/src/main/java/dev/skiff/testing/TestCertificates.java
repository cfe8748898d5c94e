package dev.skiff.testing;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * Self-signed certificates for tests of servers that speak TLS: a PKCS#12 key store made by the JDK's own
 * {@code keytool} (as an operator would make one), and a client {@link SSLContext} that trusts exactly it.
 */
public final class TestCertificates {
  private TestCertificates() {}

  /**
   * Makes a key store with one EC P-256 key and a self-signed certificate for {@code localhost} and
   * {@code 127.0.0.1}, valid for 30 days.
   *
   * @param file where to write it (replaced if it exists)
   * @param password the store's password (at least 6 characters: keytool's rule)
   * @param name the certificate's common name (tells two certificates apart)
   * @return the file
   * @throws IOException if keytool cannot run or fails
   * @throws InterruptedException if interrupted while it runs
   */
  public static Path keyStore(Path file, String password, String name) throws IOException, InterruptedException {
    return keyStore(file, password, name, 30);
  }

  /**
   * Makes a key store as {@link #keyStore(Path, String, String)} does, with a certificate valid for the days given.
   *
   * @param file where to write it (replaced if it exists)
   * @param password the store's password (at least 6 characters)
   * @param name the certificate's common name
   * @param days how long the certificate is valid from now
   * @return the file
   * @throws IOException if keytool cannot run or fails
   * @throws InterruptedException if interrupted while it runs
   */
  public static Path keyStore(Path file, String password, String name, int days) throws IOException, InterruptedException {
    Path made = file.resolveSibling(file.getFileName() + ".new");
    Files.deleteIfExists(made);
    Path keytool = Path.of(System.getProperty("java.home"), "bin", "keytool");
    Process p = new ProcessBuilder(List.of(keytool.toString(), "-genkeypair", "-keystore", made.toString(), "-storetype", "PKCS12",
        "-storepass", password, "-alias", "server", "-keyalg", "EC", "-groupname", "secp256r1", "-validity", Integer.toString(days),
        "-dname", "CN=" + name, "-ext", "SAN=dns:localhost,ip:127.0.0.1")).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      p.destroyForcibly();
      throw new IOException("keytool failed: " + out);
    }
    // moved into place at once, as an operator's renewal would be, so that a reader never sees half a file
    return Files.move(made, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
  }

  /**
   * @param password the stores' password
   * @param keyStores key stores made by {@link #keyStore}
   * @return a client context that trusts their certificates and no other
   * @throws IOException if a store cannot be read
   * @throws GeneralSecurityException if one does not load
   */
  public static SSLContext trusting(String password, Path... keyStores) throws IOException, GeneralSecurityException {
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    for (int i = 0; i < keyStores.length; i++) {
      trust.setCertificateEntry("server" + i, certificate(keyStores[i], password));
    }
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(null, tmf.getTrustManagers(), null);
    return context;
  }

  /**
   * @param keyStore a key store made by {@link #keyStore}
   * @param password its password
   * @return its certificate
   * @throws IOException if the store cannot be read
   * @throws GeneralSecurityException if it does not load
   */
  public static X509Certificate certificate(Path keyStore, String password) throws IOException, GeneralSecurityException {
    KeyStore store = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(keyStore)) {
      store.load(in, password.toCharArray());
    }
    return (X509Certificate) store.getCertificate("server");
  }
}
