package dev.skiff.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Each way an HTTP request fills a request message (path, nested path, query, nested and repeated query,
 * body "*", body field), the answer as canonical proto JSON, and what never reaches the service (unknown
 * fields, values of the wrong type, malformed JSON, an endpoint without a route), over the real broker.
 */
class GatewayMappingTest {
  @RegisterExtension static final GatewayExtension gw = new GatewayExtension(GatewayOptions.defaults());

  @Test
  void aPathVariableFillsItsField() throws Exception {
    HttpResponse<String> r = gw.f().get("/v1/things/abc%20d");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("application/json"));
    assertThat(r.body()).contains("\"got\":{\"id\":\"abc d\"");
  }

  @Test
  void aNestedPathVariableFillsTheNestedField() throws Exception {
    HttpResponse<String> r = gw.f().get("/v1/cities/Paris/things");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).contains("\"address\":{\"city\":\"Paris\",\"zip\":0}");
  }

  @Test
  void queryParametersFillScalarNestedRepeatedAndEnumFields() throws Exception {
    HttpResponse<String> r = gw.f().get("/v1/things/x?count=3&tags=a&tags=b&address.zip=75001&flag=true&kind=BIG&big=9007199254740993");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(r.body()).contains("\"count\":3", "\"tags\":[\"a\",\"b\"]", "\"zip\":75001", "\"flag\":true", "\"kind\":\"BIG\"",
        "\"big\":\"9007199254740993\"");
  }

  @Test
  void bodyStarFillsTheWholeMessageAndTheAnswerIsCanonicalJson() throws Exception {
    HttpResponse<String> r = gw.f().send("POST", "/v1/things", "{\"id\":\"n1\",\"tags\":[\"x\"],\"address\":{\"city\":\"Oslo\"}}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(r.body()).startsWith("{\"got\":{\"id\":\"n1\",\"count\":0,\"tags\":[\"x\"],\"address\":{\"city\":\"Oslo\",\"zip\":0}");
  }

  @Test
  void aBodyFieldTakesTheBodyAndThePathTheRest() throws Exception {
    HttpResponse<String> r = gw.f().send("PUT", "/v1/things/t9/address", "{\"city\":\"Rome\",\"zip\":100}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(r.body()).contains("\"id\":\"t9\"", "\"address\":{\"city\":\"Rome\",\"zip\":100}");
  }

  @Test
  void unknownFieldsAreRefusedWith400AndNameTheField() throws Exception {
    HttpResponse<String> body = gw.f().send("POST", "/v1/things", "{\"nmae\":\"x\"}");
    assertThat(body.statusCode()).isEqualTo(400);
    assertThat(body.body()).contains("\"code\":\"BAD_REQUEST\"", "nmae");
    HttpResponse<String> query = gw.f().get("/v1/things/x?colour=red");
    assertThat(query.statusCode()).isEqualTo(400);
    assertThat(query.body()).contains("colour");
  }

  @Test
  void malformedJsonAndWrongTypesAre400() throws Exception {
    assertThat(gw.f().send("POST", "/v1/things", "{\"id\":").statusCode()).isEqualTo(400);
    assertThat(gw.f().send("POST", "/v1/things", "[1,2]").statusCode()).isEqualTo(400);
    assertThat(gw.f().get("/v1/things/x?count=many").statusCode()).isEqualTo(400);
    assertThat(gw.f().get("/v1/things/x?count=1&count=2").statusCode()).isEqualTo(400);
    assertThat(gw.f().get("/v1/things/x?kind=HUGE").statusCode()).isEqualTo(400);
    assertThat(gw.f().get("/v1/things/x?address=1").statusCode()).isEqualTo(400);
    assertThat(gw.f().send("POST", "/v1/things/x", "{}").statusCode()).isEqualTo(405);
    assertThat(gw.f().send("GET", "/v1/things/x", "{\"a\":1}").statusCode()).isEqualTo(400);
  }

  @Test
  void anEndpointWithoutARouteIsNotReachable() throws Exception {
    HttpResponse<String> r = gw.f().get("/v1/hidden");
    assertThat(r.statusCode()).isEqualTo(404);
    assertThat(r.body()).contains("\"code\":\"NOT_FOUND\"", "\"request_id\":\"" + r.headers().firstValue("X-Request-Id").orElseThrow() + "\"");
  }

  @Test
  void theOpenApiDocumentListsTheRoutes() throws Exception {
    HttpResponse<String> r = gw.f().get("/openapi.json");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).contains("\"openapi\":\"3.0.3\"", "\"/v1/things/{id}\"", "\"/v1/cities/{address.city}/things\"",
        "skiff.gatewaytest.Thing").doesNotContain("hidden");
  }
}
