package dev.skiff.gateway.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.gateway.GatewayExtension;
import dev.skiff.gateway.GatewayOptions;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A JSON body is one JSON value, read strictly, before any of it is mapped: a body nested deep enough
 * to exhaust a recursive parser's stack, data after the value, a key twice, or a value of the wrong type
 * is a 400 in the one error format, at once, and never reaches the service.
 */
class GatewayJsonBodyTest {
  @RegisterExtension static final GatewayExtension gw = new GatewayExtension(GatewayOptions.defaults());

  @Test
  void aBodyNestedTooDeepIs400AtOnceNotAnInternalError() throws Exception {
    String[] bodies = {
        "{\"id\":" + "{\"a\":".repeat(100_000) + "1" + "}".repeat(100_000) + "}",
        "{\"extra\":" + "{\"a\":".repeat(30_000) + "1" + "}".repeat(30_000) + "}",
        "{\"tags\":" + "[".repeat(200_000) + "]".repeat(200_000) + "}",
        "{\"extra\":{\"a\":" + "[".repeat(5_000) + "]".repeat(5_000) + "}}"};
    for (String body : bodies) {
      long start = System.nanoTime();
      HttpResponse<String> r = gw.f().send("POST", "/v1/things", body);
      assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
      assertThat(r.body()).contains("\"code\":\"BAD_REQUEST\"").containsAnyOf("nested deeper than", "must be a string, not");
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
    }
  }

  @Test
  void dataAfterTheValueAKeyTwiceOrAWrongTypeIs400() throws Exception {
    assertBad(gw.f().send("POST", "/v1/things", "{\"id\":\"a\"} {\"id\":\"b\"}"), "after");
    assertBad(gw.f().send("POST", "/v1/things", "{\"id\":\"a\"} trailing"), "after");
    assertBad(gw.f().send("POST", "/v1/things", "{\"id\":\"a\",\"id\":\"b\"}"), "twice");
    assertBad(gw.f().send("POST", "/v1/things", "{\"address\":{\"city\":\"a\",\"city\":\"b\"}}"), "twice");
    assertBad(gw.f().send("POST", "/v1/things", "{\"id\":5}"), "id");
    assertBad(gw.f().send("POST", "/v1/things", "{\"id\":true}"), "id");
    assertBad(gw.f().send("PUT", "/v1/things/x/address", "{\"city\":\"a\"} x"), "after");
    HttpResponse<String> fine = gw.f().send("POST", "/v1/things", "{\"id\":\"a\", \"count\": 5, \"extra\": {\"n\": 1}}\n");
    assertThat(fine.statusCode()).as(fine.body()).isEqualTo(200);
  }

  @Test
  void aQueryWhoseEscapesAreNotUtf8Is400NotAReplacementCharacter() throws Exception {
    assertBad(gw.f().get("/v1/things/q?note=%E9"), "not UTF-8");
    HttpResponse<String> fine = gw.f().get("/v1/things/q?note=caf%C3%A9+au+lait");
    assertThat(fine.statusCode()).as(fine.body()).isEqualTo(200);
    assertThat(fine.body()).contains("café au lait");
  }

  @Test
  void aQueryParameterWithoutANameIsSaidSo() throws Exception {
    HttpResponse<String> r = gw.f().get("/v1/things/q?=x");
    assertBad(r, "a query parameter without a name");
    assertThat(r.body()).doesNotContain("no field  in");
  }

  private static void assertBad(HttpResponse<String> r, String saying) {
    assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
    assertThat(r.body()).contains("\"code\":\"BAD_REQUEST\"").contains(saying);
  }
}
