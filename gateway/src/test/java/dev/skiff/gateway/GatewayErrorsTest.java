package dev.skiff.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.platform.ErrorCode;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * One error format ({@code code}, {@code message}, {@code request_id}) and one HTTP status per Skiff error
 * code; the deadline from {@code X-Skiff-Timeout} (504 once it passes); HTTP/2 (h2c) beside HTTP/1.1.
 */
class GatewayErrorsTest {
  @RegisterExtension static final GatewayExtension gw = new GatewayExtension(GatewayOptions.defaults());

  @Test
  void eachSkiffCodeHasItsStatusAndTheOneErrorFormat() throws Exception {
    Map<ErrorCode, Integer> expected = Map.of(ErrorCode.BAD_REQUEST, 400, ErrorCode.UNAUTHORIZED, 401, ErrorCode.FORBIDDEN, 403,
        ErrorCode.NOT_FOUND, 404, ErrorCode.CONFLICT, 409, ErrorCode.CAPACITY, 503, ErrorCode.UNAVAILABLE, 503,
        ErrorCode.INTERNAL, 500);
    for (Map.Entry<ErrorCode, Integer> e : expected.entrySet()) {
      HttpResponse<String> r = gw.f().get("/v1/fail/" + e.getKey().name());
      assertThat(r.statusCode()).as(e.getKey().name()).isEqualTo(e.getValue());
      String id = r.headers().firstValue("X-Request-Id").orElseThrow();
      assertThat(id).matches("[0-9a-f]{32}");
      assertThat(r.body()).isEqualTo("{\"code\":\"" + e.getKey().name() + "\",\"message\":\"failing as asked\",\"request_id\":\"" + id + "\"}");
    }
  }

  @Test
  void theDeadlineComesFromTheHeaderAnd504WhenItPasses() throws Exception {
    long start = System.nanoTime();
    HttpResponse<String> r = gw.f().send(gw.f().request("/v1/fail/SLOW").header("X-Skiff-Timeout", "300ms").GET());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(504);
    assertThat(r.body()).contains("\"code\":\"TIMEOUT\"");
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofMillis(1800));
    assertThat(gw.f().send(gw.f().request("/v1/things/x").header("X-Skiff-Timeout", "soon").GET()).statusCode()).isEqualTo(400);
    assertThat(gw.f().send(gw.f().request("/v1/things/x").header("X-Skiff-Timeout", "2h").GET()).statusCode()).isEqualTo(400);
  }

  @Test
  void http2WithoutTlsIsServedToo() throws Exception {
    HttpClient h2 = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).build();
    HttpResponse<String> r = h2.send(gw.f().request("/v1/things/h2").GET().build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.version()).isEqualTo(HttpClient.Version.HTTP_2);
    assertThat(r.body()).contains("\"id\":\"h2\"");
  }

  @Test
  void aTraceparentIsCarriedAndReturned() throws Exception {
    String tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    HttpResponse<String> r = gw.f().send(gw.f().request("/v1/things/t").header("traceparent", tp).GET());
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("traceparent")).hasValue(tp);
  }

  @Test
  void aTraceparentThatIsNotW3cVersion00InLowercaseHexStartsANewTraceAndIsNotReturned() throws Exception {
    for (String tp : new String[] {
        "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", // another version
        "00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01", // upper case
        "00-0af7651916cd43dd8448eb211c80319c-B7AD6B7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0G", // flags not hex
        "00-0af7651916cd43dd8448eb211c80319x-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331-01",
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01"}) {
      HttpResponse<String> r = gw.f().send(gw.f().request("/v1/things/t").header("traceparent", tp).GET());
      assertThat(r.statusCode()).as(tp).isEqualTo(200);
      assertThat(r.headers().firstValue("traceparent")).as(tp).isEmpty();
    }
  }
}
