package dev.skiff.gateway.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.gateway.GatewayFixture;
import dev.skiff.gateway.GatewayOptions;
import dev.skiff.kernel.WebServer;
import dev.skiff.testing.RabbitMqExtension;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * What a hostile HTTP client gets: 413 for a large body (declared or streamed), 431 for large headers, its
 * connection cut when it sends a header slowly, 429 with Retry-After past its address's rate, CORS only for
 * listed origins, 400 for a malformed path; each in the one JSON error format.
 */
class GatewayLimitsTest {
  @RegisterExtension static final RabbitMqExtension broker = RabbitMqExtension.create();
  static GatewayFixture f;

  @BeforeAll
  static void start() {
    WebServer.Options http = new WebServer.Options(Duration.ofSeconds(1), 64, 16, 4096, WebServer.Options.Auth.OPEN,
        WebServer.Options.defaults().proxies(), WebServer.Options.defaults().signInsPerMinute(), java.util.Optional.empty());
    GatewayOptions options = GatewayOptions.defaults().withHttp(http).withMaxBodyBytes(1024)
        .withCorsOrigins(Set.of("https://app.example.com"));
    f = new GatewayFixture(broker.amqpUri(), options, null).startService();
  }

  @AfterAll
  static void stop() {
    if (f != null) {
      f.close();
    }
  }

  @Test
  void aBodyOverTheLimitIs413WhetherDeclaredOrStreamed() throws Exception {
    String big = "{\"id\":\"" + "x".repeat(2000) + "\"}";
    HttpResponse<String> declared = f.send("POST", "/v1/things", big);
    assertThat(declared.statusCode()).isEqualTo(413);
    assertThat(declared.body()).contains("\"code\":\"TOO_LARGE\"");
    // no Content-Length: the body arrives chunked
    HttpRequest.BodyPublisher chunked = HttpRequest.BodyPublishers.ofInputStream(
        () -> new java.io.ByteArrayInputStream(big.getBytes(StandardCharsets.UTF_8)));
    HttpResponse<String> streamed = f.send(f.request("/v1/things").header("Content-Type", "application/json").POST(chunked));
    assertThat(streamed.statusCode()).isEqualTo(413);
  }

  @Test
  void headersOverTheLimitAre431InTheErrorFormat() throws Exception {
    HttpResponse<String> r = f.send(f.request("/v1/things/x").header("X-Big", "y".repeat(6000)).GET());
    assertThat(r.statusCode()).isEqualTo(431);
    assertThat(r.body()).contains("\"code\":\"HEADERS_TOO_LARGE\"", "\"request_id\"");
  }

  @Test
  void aRequestLineOverTheLimitIs414UriTooLongWithTheHeadersOfEveryAnswer() throws Exception {
    HttpResponse<String> r = f.get("/v1/things/x?q=" + "a".repeat(6000));
    assertThat(r.statusCode()).isEqualTo(414);
    assertThat(r.body()).contains("\"code\":\"URI_TOO_LONG\"", "\"request_id\"");
    assertJettysAnswerHasTheGatewaysHeaders(r);
    assertJettysAnswerHasTheGatewaysHeaders(f.send(f.request("/v1/things/x").header("X-Big", "y".repeat(6000)).GET()));
  }

  /** Jetty's own refusals carry the headers every answer of the gateway carries. */
  private static void assertJettysAnswerHasTheGatewaysHeaders(HttpResponse<String> r) {
    assertThat(r.headers().firstValue("Content-Security-Policy")).as(r.statusCode() + " CSP").hasValue("default-src 'none'; frame-ancestors 'none'");
    assertThat(r.headers().firstValue("X-Content-Type-Options")).hasValue("nosniff");
    assertThat(r.headers().firstValue("Cache-Control")).hasValue("no-store");
    assertThat(r.headers().firstValue("X-Request-Id")).hasValueSatisfying(id -> assertThat(r.body()).contains(id));
  }

  @Test
  void aClientThatSendsItsHeaderSlowlyIsCutOff() throws Exception {
    try (Socket s = new Socket("127.0.0.1", f.gateway.port())) {
      s.setSoTimeout(5000);
      OutputStream out = s.getOutputStream();
      out.write("GET /v1/things/x HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      long start = System.nanoTime();
      InputStream in = s.getInputStream();
      // the idle timeout (1 s here) closes the half-sent request: read ends (EOF) well before the 5 s socket timeout
      while (in.read() >= 0) {
        // drain whatever Jetty says before closing
      }
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(4));
    }
    assertThat(f.get("/v1/things/alive").statusCode()).isEqualTo(200);
  }

  @Test
  void corsPreflightsAnswerListedOriginsOnly() throws Exception {
    HttpResponse<String> ok = f.send(f.request("/v1/things").method("OPTIONS", HttpRequest.BodyPublishers.noBody())
        .header("Origin", "https://app.example.com").header("Access-Control-Request-Method", "POST"));
    assertThat(ok.statusCode()).isEqualTo(204);
    assertThat(ok.headers().firstValue("Access-Control-Allow-Origin")).hasValue("https://app.example.com");
    assertThat(ok.headers().firstValue("Access-Control-Allow-Methods")).hasValueSatisfying(m -> assertThat(m).contains("POST"));
    assertThat(ok.headers().firstValue("Access-Control-Allow-Headers")).hasValueSatisfying(h -> assertThat(h).contains("Authorization"));

    HttpResponse<String> other = f.send(f.request("/v1/things").method("OPTIONS", HttpRequest.BodyPublishers.noBody())
        .header("Origin", "https://evil.example.net").header("Access-Control-Request-Method", "POST"));
    assertThat(other.statusCode()).isEqualTo(403);
    assertThat(other.headers().firstValue("Access-Control-Allow-Origin")).isEmpty();

    HttpResponse<String> read = f.send(f.request("/v1/things/x").header("Origin", "https://evil.example.net").GET());
    assertThat(read.headers().firstValue("Access-Control-Allow-Origin")).isEmpty();
    HttpResponse<String> listed = f.send(f.request("/v1/things/x").header("Origin", "https://app.example.com").GET());
    assertThat(listed.headers().firstValue("Access-Control-Allow-Origin")).hasValue("https://app.example.com");
  }

  @Test
  void malformedPathsAndQueriesAre400() throws Exception {
    for (String target : new String[] {"/v1/things/%zz", "/v1/things/x?count=%zz"}) {
      try (Socket s = new Socket("127.0.0.1", f.gateway.port())) {
        s.setSoTimeout(5000);
        s.getOutputStream().write(("GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        String answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(answer).as(target).startsWith("HTTP/1.1 400").contains("\"code\":\"BAD_REQUEST\"");
        assertThat(answer).as(target).contains("\r\nContent-Security-Policy: default-src 'none'; frame-ancestors 'none'\r\n");
      }
    }
    assertThat(f.get("/v1/things/x?" + "a=1&".repeat(100)).statusCode()).isEqualTo(400);
  }
}
