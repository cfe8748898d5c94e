package dev.skiff.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.skiff.kernel.LimitedJetty;
import dev.skiff.kernel.WebServer;
import dev.skiff.kernel.http.Tls;
import dev.skiff.platform.health.HealthCheck;
import dev.skiff.testing.RabbitMqExtension;
import dev.skiff.testing.TestCertificates;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Map;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The gateway serving HTTPS from a key store ({@code SKIFF_GATEWAY_TLS_KEYSTORE}): HTTP/2 chosen by ALPN (what
 * browsers speak; they never speak h2c) and HTTP/1.1 for clients that ask for it, the plain protocol refused
 * on that port, a renewed key store served without a restart, the certificate in the {@code http} check
 * (failing while it is still served, a week before its end),
 * and wrong settings refused at start naming the variable, never printing the password.
 */
class GatewayTlsTest {
  @RegisterExtension static final RabbitMqExtension broker = RabbitMqExtension.create();
  private static final String PASSWORD = "store-pass-1";

  @TempDir Path dir;

  private static HttpResponse<String> get(SSLContext trust, HttpClient.Version version, String uri) throws Exception {
    HttpClient c = HttpClient.newBuilder().sslContext(trust).version(version).connectTimeout(Duration.ofSeconds(5)).build();
    return c.send(HttpRequest.newBuilder(URI.create(uri)).timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void itServesHttp2AndHttp11OverTlsAndServesARenewedCertificateWithoutARestart() throws Exception {
    Path store = TestCertificates.keyStore(dir.resolve("gateway.p12"), PASSWORD, "skiff-gateway-a");
    Path renewal = TestCertificates.keyStore(dir.resolve("renewal.p12"), PASSWORD, "skiff-gateway-b");
    SSLContext trustBoth = TestCertificates.trusting(PASSWORD, store, renewal);
    GatewayOptions options = GatewayOptions.defaults().withHttp(WebServer.Options.defaults().withTls(new Tls(store, PASSWORD)));
    try (GatewayFixture f = new GatewayFixture(broker.amqpUri(), options, null).startService()) {
      String base = "https://localhost:" + f.gateway.port();

      HttpResponse<String> h2 = get(trustBoth, HttpClient.Version.HTTP_2, base + "/v1/things/t1?count=2");
      assertThat(h2.statusCode()).as(h2.body()).isEqualTo(200);
      assertThat(h2.version()).as("h2 by ALPN").isEqualTo(HttpClient.Version.HTTP_2);
      assertThat(h2.body()).contains("\"id\":\"t1\"");
      HttpResponse<String> h1 = get(trustBoth, HttpClient.Version.HTTP_1_1, base + "/v1/things/t2");
      assertThat(h1.statusCode()).isEqualTo(200);
      assertThat(h1.version()).isEqualTo(HttpClient.Version.HTTP_1_1);
      assertThat(served(h1)).isEqualTo("CN=skiff-gateway-a");
      // what browsers and curl do: offer protocols by ALPN and get one of them (names are matched exactly)
      assertThat(alpn(trustBoth, f.gateway.port(), "h2", "http/1.1")).startsWith("h2 ");
      assertThat(alpn(trustBoth, f.gateway.port(), "http/1.1")).isEqualTo("http/1.1 HTTP/1.1 200 OK");

      // the port speaks TLS only: a plain request gets no answer (the handshake fails), never a page
      assertThatThrownBy(() -> get(trustBoth, HttpClient.Version.HTTP_1_1, "http://localhost:" + f.gateway.port() + "/v1/things/t3"))
          .isInstanceOf(IOException.class);
      // a client that does not trust the certificate is refused by its own TLS, as a browser would warn
      assertThatThrownBy(() -> get(SSLContext.getDefault(), HttpClient.Version.HTTP_2, base + "/v1/things/t4"))
          .isInstanceOf(IOException.class);

      HealthCheck.Result http = f.gateway.health().run("http");
      assertThat(http.healthy()).as(http.message()).isTrue();
      assertThat(http.message()).contains("(HTTPS)");
      HealthCheck.Result certificate = f.gateway.health().run("tls-certificate");
      assertThat(certificate.healthy()).as(certificate.message()).isTrue();
      assertThat(certificate.message()).contains("CN=skiff-gateway-a", "valid until");

      // an operator renews the certificate by writing the key store again: served within seconds, no restart
      Path written = Files.copy(renewal, dir.resolve("gateway.p12.part"));
      Files.move(written, store, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      await().atMost(LimitedJetty.TLS_RELOAD_SCAN.multipliedBy(6)).pollInterval(Duration.ofMillis(500)).ignoreExceptions()
          .until(() -> served(get(trustBoth, HttpClient.Version.HTTP_1_1, base + "/v1/things/t5")).equals("CN=skiff-gateway-b"));
      assertThat(f.gateway.health().run("tls-certificate").message()).contains("CN=skiff-gateway-b");
    }
  }

  @Test
  void aCertificateNearItsEndFailsItsCheckWhileItIsStillServedAndTheGatewayStaysReady() throws Exception {
    Path store = TestCertificates.keyStore(dir.resolve("ending.p12"), PASSWORD, "skiff-gateway-ending", 3);
    GatewayOptions options = GatewayOptions.defaults().withHttp(WebServer.Options.defaults().withTls(new Tls(store, PASSWORD)));
    try (GatewayFixture f = new GatewayFixture(broker.amqpUri(), options, null)) {
      HealthCheck.Result certificate = f.gateway.health().run("tls-certificate");
      assertThat(certificate.healthy()).as(certificate.message()).isFalse();
      assertThat(certificate.message()).contains("CN=skiff-gateway-ending", "renew it");
      HttpResponse<String> r = get(TestCertificates.trusting(PASSWORD, store), HttpClient.Version.HTTP_2,
          "https://localhost:" + f.gateway.port() + "/openapi.json");
      assertThat(r.statusCode()).isEqualTo(200);
      // every copy serves the same certificate: a warning a week ahead must not take them all out of rotation
      f.gateway.health().run("http");
      f.gateway.health().run("routes");
      HttpResponse<String> ready = get(TestCertificates.trusting(PASSWORD, store), HttpClient.Version.HTTP_2,
          "https://localhost:" + f.gateway.port() + "/readyz");
      assertThat(ready.statusCode()).as(ready.body()).isEqualTo(200);
    }
  }

  @Test
  void aKeyStoreWhoseKeyIsNotItsCertificatesIsRefusedAtStart() throws Exception {
    Path a = TestCertificates.keyStore(dir.resolve("a.p12"), PASSWORD, "skiff-gateway-a");
    Path b = TestCertificates.keyStore(dir.resolve("b.p12"), PASSWORD, "skiff-gateway-b");
    KeyStore storeA = KeyStore.getInstance(a.toFile(), PASSWORD.toCharArray());
    KeyStore storeB = KeyStore.getInstance(b.toFile(), PASSWORD.toCharArray());
    // a's key with b's chain: it opens like any key store, and then fails every handshake ("bad signature")
    KeyStore mixed = KeyStore.getInstance("PKCS12");
    mixed.load(null, null);
    mixed.setKeyEntry("server", storeA.getKey("server", PASSWORD.toCharArray()), PASSWORD.toCharArray(), storeB.getCertificateChain("server"));
    Path mismatch = dir.resolve("mismatch.p12");
    try (var out = Files.newOutputStream(mismatch)) {
      mixed.store(out, PASSWORD.toCharArray());
    }
    assertThatThrownBy(() -> GatewayOptions.fromEnvironment(Map.of("SKIFF_GATEWAY_TLS_KEYSTORE", mismatch.toString(),
        "SKIFF_GATEWAY_TLS_KEYSTORE_PASSWORD", PASSWORD)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("SKIFF_GATEWAY_TLS_KEYSTORE")
        .hasMessageContaining("its private key is not the key of its certificate (CN=skiff-gateway-b)")
        .hasMessageNotContaining(PASSWORD);
    // the key with its own chain still opens
    assertThat(GatewayOptions.fromEnvironment(Map.of("SKIFF_GATEWAY_TLS_KEYSTORE", a.toString(),
        "SKIFF_GATEWAY_TLS_KEYSTORE_PASSWORD", PASSWORD)).http().tls()).contains(new Tls(a, PASSWORD));
  }

  @Test
  void aCertificateNotYetValidFailsItsCheck() throws Exception {
    Path store = dir.resolve("later.p12");
    Process p = new ProcessBuilder(java.util.List.of(Path.of(System.getProperty("java.home"), "bin", "keytool").toString(), "-genkeypair",
        "-keystore", store.toString(), "-storetype", "PKCS12", "-storepass", PASSWORD, "-alias", "server", "-keyalg", "EC",
        "-groupname", "secp256r1", "-startdate", "+30d", "-validity", "90", "-dname", "CN=skiff-gateway-later",
        "-ext", "SAN=dns:localhost,ip:127.0.0.1")).redirectErrorStream(true).start();
    String said = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor()).as(said).isZero();
    GatewayOptions options = GatewayOptions.defaults().withHttp(WebServer.Options.defaults().withTls(new Tls(store, PASSWORD)));
    try (GatewayFixture f = new GatewayFixture(broker.amqpUri(), options, null)) {
      HealthCheck.Result certificate = f.gateway.health().run("tls-certificate");
      assertThat(certificate.healthy()).as("clients refuse it as they refuse an expired one: %s", certificate.message()).isFalse();
      assertThat(certificate.message()).contains("CN=skiff-gateway-later", "is not valid before");
    }
  }

  /**
   * @return the protocol the server chose among those offered, and, when it is HTTP/1.1, the status line
   *     of a GET of /openapi.json on that connection
   */
  private static String alpn(SSLContext trust, int port, String... offered) throws Exception {
    try (SSLSocket socket = (SSLSocket) trust.getSocketFactory().createSocket("localhost", port)) {
      socket.setSoTimeout(10_000);
      SSLParameters p = socket.getSSLParameters();
      p.setApplicationProtocols(offered);
      p.setServerNames(java.util.List.of(new SNIHostName("localhost")));
      socket.setSSLParameters(p);
      socket.startHandshake();
      String chosen = socket.getApplicationProtocol();
      if (!chosen.equals("http/1.1")) {
        return chosen + " ";
      }
      socket.getOutputStream().write("GET /openapi.json HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
          .getBytes(StandardCharsets.US_ASCII));
      String status = new java.io.BufferedReader(new java.io.InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII))
          .readLine();
      return chosen + " " + status;
    }
  }

  private static String served(HttpResponse<String> r) throws Exception {
    return ((X509Certificate) r.sslSession().orElseThrow().getPeerCertificates()[0]).getSubjectX500Principal().getName();
  }

  @Test
  void wrongSettingsAreRefusedNamingTheVariableAndNeverThePassword() throws Exception {
    assertThat(GatewayOptions.fromEnvironment(Map.of()).http().tls()).isEmpty();
    assertThatThrownBy(() -> GatewayOptions.fromEnvironment(Map.of("SKIFF_GATEWAY_TLS_KEYSTORE", dir.resolve("missing.p12").toString(),
        "SKIFF_GATEWAY_TLS_KEYSTORE_PASSWORD", "secret-word")))
        .hasMessageStartingWith("SKIFF_GATEWAY_TLS_KEYSTORE").hasMessageNotContaining("secret-word");
    Path store = TestCertificates.keyStore(dir.resolve("gateway.p12"), PASSWORD, "skiff-gateway-a");
    GatewayOptions read = GatewayOptions.fromEnvironment(Map.of("SKIFF_GATEWAY_TLS_KEYSTORE", store.toString(),
        "SKIFF_GATEWAY_TLS_KEYSTORE_PASSWORD", PASSWORD, "SKIFF_HTTP_TLS_KEYSTORE", "/nowhere"));
    assertThat(read.http().tls()).contains(new Tls(store, PASSWORD));
    assertThat(read.toString()).contains(store.toString()).doesNotContain(PASSWORD);

    // read from the environment, a wrong password or a file that is not a key store is refused at once, in one
    // line naming the variable (a usage error of 'skiff gateway'), never with the password
    assertThatThrownBy(() -> GatewayOptions.fromEnvironment(Map.of("SKIFF_GATEWAY_TLS_KEYSTORE", store.toString(),
        "SKIFF_GATEWAY_TLS_KEYSTORE_PASSWORD", "not-the-password")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("SKIFF_GATEWAY_TLS_KEYSTORE")
        .hasMessageContaining("does not open with SKIFF_GATEWAY_TLS_KEYSTORE_PASSWORD").hasMessageNotContaining("not-the-password");
    Path pem = Files.writeString(dir.resolve("fullchain.pem"), "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
    assertThatThrownBy(() -> GatewayOptions.fromEnvironment(Map.of("SKIFF_GATEWAY_TLS_KEYSTORE", pem.toString(),
        "SKIFF_GATEWAY_TLS_KEYSTORE_PASSWORD", PASSWORD)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("is not a key store").hasMessageNotContaining(PASSWORD);

    // a wrong password given in code: the gateway does not start, and says so without the password
    GatewayOptions wrong = GatewayOptions.defaults().withHttp(WebServer.Options.defaults().withTls(new Tls(store, "not-the-password")));
    assertThatThrownBy(() -> new GatewayFixture(broker.amqpUri(), wrong, null))
        .isInstanceOf(IllegalStateException.class).hasMessageNotContaining("not-the-password");
  }
}
