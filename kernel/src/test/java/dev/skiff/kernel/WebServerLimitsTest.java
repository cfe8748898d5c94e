package dev.skiff.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.skiff.kernel.http.Tls;
import dev.skiff.kernel.http.TrustedProxies;
import dev.skiff.testing.TestCertificates;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The kernel's web server against slow and silent clients (issue 17, item 5): idle connections and
 * half-sent headers hold no thread, so a page still answers at once; every response carries the
 * security headers; the limits come from the environment.
 */
class WebServerLimitsTest {
  private final List<Socket> sockets = new ArrayList<>();
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(1)).build();
  private WebServer web;

  @AfterEach
  void stop() throws IOException {
    for (Socket s : sockets) {
      s.close();
    }
    if (web != null) {
      web.close();
    }
  }

  private WebServer startWithPage() {
    web = WebServer.start("127.0.0.1", 0);
    web.mount("/ping", "Ping", ex -> WebServer.send(ex, 200, "text/plain; charset=utf-8", "pong"));
    return web;
  }

  private HttpResponse<String> get(String path, Duration timeout) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + web.port() + path)).timeout(timeout).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /** Opens connections that send nothing and connections that send half a request header, then stop. */
  private void openIdle(int silent, int halfHeader) throws IOException {
    for (int i = 0; i < silent + halfHeader; i++) {
      Socket s = new Socket("127.0.0.1", web.port());
      sockets.add(s);
      if (i >= silent) {
        OutputStream out = s.getOutputStream();
        out.write("GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ".getBytes(StandardCharsets.US_ASCII));
        out.flush();
      }
    }
  }

  @Test
  void tenIdleConnectionsLeaveThePagesAnswering() throws Exception {
    startWithPage();
    assertThat(get("/ping", Duration.ofSeconds(5)).body()).isEqualTo("pong");
    openIdle(5, 5);
    long start = System.nanoTime();
    HttpResponse<String> r = get("/ping", Duration.ofSeconds(1));
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).isEqualTo("pong");
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(1));
  }

  @Test
  void atTheConnectionLimitSilentConnectionsAreClosedSoonerAndThePageAnswers() throws Exception {
    web = WebServer.start("127.0.0.1", 0, WebServer.Options.defaults().withMaxConnections(4),
        dev.skiff.platform.security.TokenVerifier.refusingAll(), WebServer.SignIn.UNAVAILABLE);
    web.mount("/ping", "Ping", ex -> WebServer.send(ex, 200, "text/plain; charset=utf-8", "pong"));
    openIdle(2, 6);
    // the limit is reached: no new connection is served until the silent ones are closed (after 2 s, not 30)
    HttpResponse<String> r = get("/ping", Duration.ofSeconds(10));
    assertThat(r.statusCode()).isEqualTo(200);
  }

  @Test
  void everyResponseCarriesTheSecurityHeaders() throws Exception {
    startWithPage();
    web.mount("/broken", null, ex -> {
      throw new IllegalStateException("a handler's bug");
    });
    for (String path : List.of("/", "/ping", "/nowhere", "/broken", "/signin", "/ping/deeper")) {
      HttpResponse<String> r = get(path, Duration.ofSeconds(5));
      WebServer.SECURITY_HEADERS.forEach((k, v) -> assertThat(r.headers().allValues(k)).as(path + " " + k).containsExactly(v));
    }
    assertThat(get("/broken", Duration.ofSeconds(5)).statusCode()).isEqualTo(500);
    assertThat(get("/nowhere", Duration.ofSeconds(5)).statusCode()).isEqualTo(404);
    assertThat(get("/pingpong", Duration.ofSeconds(5)).statusCode()).as("a mount matches whole path segments").isEqualTo(404);
    // refused by Jetty itself, before any handler: headers too large
    HttpResponse<String> big = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + web.port() + "/ping"))
        .header("X-Big", "x".repeat(20_000)).timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(big.statusCode()).isEqualTo(431);
    for (String h : List.of("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy")) {
      assertThat(big.headers().allValues(h)).as("431 " + h).containsExactly(WebServer.SECURITY_HEADERS.get(h));
    }
  }

  @Test
  void changesNeedASignedInPersonEvenWhenPagesAreOpen() throws Exception {
    startWithPage();
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + web.port() + "/ping"))
        .POST(HttpRequest.BodyPublishers.ofString("x")).timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(401);
    assertThat(get("/ping", Duration.ofSeconds(5)).statusCode()).isEqualTo(200);
    HttpResponse<String> large = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + web.port() + "/ping"))
        .POST(HttpRequest.BodyPublishers.ofString("x".repeat(WebServer.MAX_BODY_BYTES + 1))).timeout(Duration.ofSeconds(5)).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(large.statusCode()).as("a body over the limit").isEqualTo(413);
  }

  @Test
  void limitsComeFromTheEnvironment() {
    WebServer.Options o = WebServer.Options.fromEnvironment(Map.of("SKIFF_HTTP_MAX_CONNECTIONS", "12", "SKIFF_HTTP_IDLE_TIMEOUT", "7",
        "SKIFF_HTTP_MAX_THREADS", "16", "SKIFF_HTTP_MAX_HEADER_BYTES", "4096", "SKIFF_PAGES_AUTH", "required",
        "SKIFF_HTTP_SIGN_INS_PER_MINUTE", "12", "SKIFF_HTTP_TRUSTED_PROXIES", "10.0.0.0/8", "SKIFF_HTTP_FORWARDED_HEADER", "Forwarded"));
    assertThat(o).isEqualTo(new WebServer.Options(Duration.ofSeconds(7), 12, 16, 4096, WebServer.Options.Auth.REQUIRED,
        TrustedProxies.parse("10.0.0.0/8", "Forwarded", "SKIFF_HTTP_"), 12, java.util.Optional.empty()));
    assertThatThrownBy(() -> WebServer.Options.fromEnvironment(Map.of("SKIFF_HTTP_SIGN_INS_PER_MINUTE", "0")))
        .hasMessageContaining("SKIFF_HTTP_SIGN_INS_PER_MINUTE");
    assertThatThrownBy(() -> WebServer.Options.fromEnvironment(Map.of("SKIFF_HTTP_TRUSTED_PROXIES", "proxy.example.com")))
        .hasMessageStartingWith("SKIFF_HTTP_TRUSTED_PROXIES");
    assertThat(WebServer.Options.fromEnvironment(Map.of())).isEqualTo(WebServer.Options.defaults());
    assertThatThrownBy(() -> WebServer.Options.fromEnvironment(Map.of("SKIFF_HTTP_MAX_CONNECTIONS", "lots")))
        .hasMessageContaining("SKIFF_HTTP_MAX_CONNECTIONS");
    assertThatThrownBy(() -> WebServer.Options.fromEnvironment(Map.of("SKIFF_PAGES_AUTH", "maybe")))
        .hasMessageContaining("SKIFF_PAGES_AUTH");
  }

  @Test
  void thePagesServeHttpsFromAKeyStoreAndTheirCookieIsSecureThere(@TempDir Path dir) throws Exception {
    Path store = TestCertificates.keyStore(dir.resolve("pages.p12"), "pages-pass-1", "skiff-pages");
    web = WebServer.start("127.0.0.1", 0, WebServer.Options.defaults().withTls(new Tls(store, "pages-pass-1")),
        dev.skiff.platform.security.TokenVerifier.refusingAll(), WebServer.SignIn.UNAVAILABLE);
    web.mount("/ping", "Ping", ex -> WebServer.send(ex, 200, "text/plain; charset=utf-8", "pong"));
    String base = "https://localhost:" + web.port();
    HttpClient https = HttpClient.newBuilder().sslContext(TestCertificates.trusting("pages-pass-1", store))
        .version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
    HttpResponse<String> ping = https.send(HttpRequest.newBuilder(URI.create(base + "/ping")).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(ping.statusCode()).isEqualTo(200);
    assertThat(ping.body()).isEqualTo("pong");
    WebServer.SECURITY_HEADERS.forEach((k, v) -> assertThat(ping.headers().firstValue(k)).as(k).hasValue(v));
    // the request is known to be secure here, with no proxy header: the https origin matches, the cookie is Secure
    HttpResponse<String> out = https.send(HttpRequest.newBuilder(URI.create(base + "/signout")).header("Origin", base)
        .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(out.statusCode()).isEqualTo(303);
    assertThat(out.headers().firstValue("Set-Cookie").orElseThrow()).contains("; Secure");
    assertThat(https.send(HttpRequest.newBuilder(URI.create(base + "/signout")).header("Origin", "http://localhost:" + web.port())
        .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString()).statusCode())
        .as("the plain-http origin is another origin").isEqualTo(403);
    assertThatThrownBy(() -> get("/ping", Duration.ofSeconds(5))).as("no plain HTTP on that port").isInstanceOf(IOException.class);
    assertThatThrownBy(() -> WebServer.Options.fromEnvironment(Map.of("SKIFF_HTTP_TLS_KEYSTORE", dir.resolve("none.p12").toString())))
        .hasMessageStartingWith("SKIFF_HTTP_TLS_KEYSTORE");
  }
}
