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
  void headIsServedWhereverGetIsWithTheHeadersAndNoBody() throws Exception {
    HttpResponse<String> get = gw.f().get("/v1/things/abc");
    HttpResponse<String> head = gw.f().send(gw.f().request("/v1/things/abc").method("HEAD", java.net.http.HttpRequest.BodyPublishers.noBody()));
    assertThat(head.statusCode()).isEqualTo(200);
    assertThat(head.body()).isEmpty();
    assertThat(head.headers().firstValue("Content-Type")).isEqualTo(get.headers().firstValue("Content-Type"));
    assertThat(head.headers().firstValueAsLong("Content-Length")).hasValue(get.body().getBytes(java.nio.charset.StandardCharsets.UTF_8).length);
    assertThat(head.headers().firstValue("X-Request-Id")).isPresent();
    // the gateway's own pages and probes too; a route with no GET still answers 405, listing HEAD beside GET where there is one
    assertThat(gw.f().send(gw.f().request("/openapi.json").method("HEAD", java.net.http.HttpRequest.BodyPublishers.noBody())).statusCode())
        .isEqualTo(200);
    assertThat(gw.f().send(gw.f().request("/readyz").method("HEAD", java.net.http.HttpRequest.BodyPublishers.noBody())).statusCode())
        .isIn(200, 503);
    HttpResponse<String> postOnly = gw.f().send(gw.f().request("/v1/things").method("HEAD", java.net.http.HttpRequest.BodyPublishers.noBody()));
    assertThat(postOnly.statusCode()).isEqualTo(405);
    assertThat(postOnly.headers().firstValue("Allow")).hasValueSatisfying(a -> assertThat(a).contains("POST").doesNotContain("HEAD"));
    HttpResponse<String> delete = gw.f().send(gw.f().request("/v1/things/abc").DELETE());
    assertThat(delete.headers().firstValue("Allow")).hasValueSatisfying(a -> assertThat(a).contains("GET", "HEAD"));
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
  void aBodyMayBeARepeatedFieldOrOneValueAndReachesNoOtherField() throws Exception {
    HttpResponse<String> tags = gw.f().send("POST", "/v1/things/t1/tags?count=3", "[\"a\",\"b\"]");
    assertThat(tags.statusCode()).as(tags.body()).isEqualTo(200);
    assertThat(tags.body()).contains("\"id\":\"t1\"", "\"count\":3", "\"tags\":[\"a\",\"b\"]");
    HttpResponse<String> count = gw.f().send("PUT", "/v1/things/t2/count", "7");
    assertThat(count.statusCode()).as(count.body()).isEqualTo(200);
    assertThat(count.body()).contains("\"id\":\"t2\"", "\"count\":7");
    assertThat(gw.f().send("PUT", "/v1/things/t2/count", "\"many\"").statusCode()).isEqualTo(400);
    // a body that tries to reach past its field: not one JSON value, refused
    HttpResponse<String> escape = gw.f().send("PUT", "/v1/things/t2/count", "7, \"id\": \"evil\"");
    assertThat(escape.statusCode()).as(escape.body()).isEqualTo(400);
    assertThat(gw.f().send("PUT", "/v1/things/t2/count", "7}, {\"flag\": true").statusCode()).isEqualTo(400);
    assertThat(gw.f().send("POST", "/v1/things/t1/tags?tags=c", "[\"a\"]").statusCode()).as("the body's field in the query").isEqualTo(400);
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
    var cut = gw.f().send("POST", "/v1/things", "{\"id\":");
    assertThat(cut.statusCode()).isEqualTo(400);
    assertThat(cut.body()).as("says where, in the caller's terms, not the parser's class names")
        .contains("malformed JSON body", "End of input at line 1").doesNotContain("java.", "Exception");
    var array = gw.f().send("POST", "/v1/things", "[1,2]");
    assertThat(array.statusCode()).isEqualTo(400);
    assertThat(array.body()).doesNotContain("java.", "Exception");
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
  void wellKnownTypesAreFilledFromTheQueryAsTheirJsonFormsWriteThem() throws Exception {
    HttpResponse<String> r = gw.f().get("/v1/things/x?since=2026-12-05T10:00:00Z&ttl=1.5s&limit=10"
        + "&mask=address.city,tags&note=hi%20there&marks=7&marks=9007199254740993");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(r.body()).contains("\"since\":\"2026-12-05T10:00:00Z\"", "\"ttl\":\"1.500s\"", "\"limit\":10",
        "\"mask\":\"address.city,tags\"", "\"note\":\"hi there\"", "\"marks\":[\"7\",\"9007199254740993\"]");
  }

  @Test
  void aWrapperFillsAPathVariable() throws Exception {
    HttpResponse<String> r = gw.f().get("/v1/limited/42");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(r.body()).contains("\"limit\":42");
    assertThat(gw.f().get("/v1/limited/forty").statusCode()).isEqualTo(400);
  }

  @Test
  void badWellKnownValuesAndStructuredTypesInTheQueryAre400() throws Exception {
    HttpResponse<String> since = gw.f().get("/v1/things/x?since=yesterday");
    assertThat(since.statusCode()).isEqualTo(400);
    assertThat(since.body()).contains("parameter \\\"since\\\"", "google.protobuf.Timestamp");
    assertThat(gw.f().get("/v1/things/x?ttl=5").statusCode()).isEqualTo(400);
    assertThat(gw.f().get("/v1/things/x?limit=ten").statusCode()).isEqualTo(400);
    assertThat(gw.f().get("/v1/things/x?limit=1&limit=2").statusCode()).isEqualTo(400);
    assertThat(gw.f().get("/v1/things/x?extra=%7B%7D").statusCode()).isEqualTo(400);
    assertThat(gw.f().get("/v1/things/x?since.seconds=1").statusCode()).isEqualTo(400);
  }

  @Test
  void wellKnownTypesInTheBodyKeepTheirJsonForms() throws Exception {
    HttpResponse<String> r = gw.f().send("POST", "/v1/things",
        "{\"id\":\"w\",\"since\":\"2026-01-02T03:04:05.600Z\",\"limit\":3,\"extra\":{\"a\":[1,\"b\",null]}}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(r.body()).contains("\"since\":\"2026-01-02T03:04:05.600Z\"", "\"limit\":3", "\"extra\":{\"a\":[1.0,\"b\",null]}");
  }

  @Test
  void anAnyHoldsATypeTheServiceAnnouncedBothWays() throws Exception {
    String detail = "{\"@type\":\"type.googleapis.com/skiff.gatewaytest.Address\",\"city\":\"Oslo\",\"zip\":7}";
    HttpResponse<String> r = gw.f().send("POST", "/v1/things", "{\"id\":\"a1\",\"detail\":" + detail + "}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(r.body()).contains("\"detail\":" + detail);
    HttpResponse<String> unknown = gw.f().send("POST", "/v1/things",
        "{\"id\":\"a2\",\"detail\":{\"@type\":\"type.googleapis.com/skiff.v1.LoginRequest\",\"user\":\"x\"}}");
    assertThat(unknown.statusCode()).as("a type the service did not announce").isEqualTo(400);
    assertThat(gw.f().send("POST", "/v1/things", "{\"detail\":{\"city\":\"Oslo\"}}").statusCode()).as("no @type").isEqualTo(400);
  }

  @Test
  void aResponseBodyRuleWritesOneFieldOfTheAnswer() throws Exception {
    HttpResponse<String> tags = gw.f().get("/v1/things/t1/tags?tags=a&tags=b%22c");
    assertThat(tags.statusCode()).as(tags.body()).isEqualTo(200);
    assertThat(tags.body()).isEqualTo("[\"a\",\"b\\\"c\"]");
    assertThat(gw.f().get("/v1/things/t1/tags").body()).isEqualTo("[]");
    assertThat(gw.f().get("/v1/things/t%3C1%3E/id").body()).isEqualTo("\"t<1>\"");
    assertThat(gw.f().get("/v1/things/t1/address?address.city=Oslo").body()).isEqualTo("{\"city\":\"Oslo\",\"zip\":0}");
    // a field with presence left unset (a message, a wrapper) has no value: null; one without presence its default
    assertThat(gw.f().get("/v1/things/t1/address").body()).isEqualTo("null");
    assertThat(gw.f().get("/v1/things/t1/note?note=n").body()).isEqualTo("\"n\"");
    assertThat(gw.f().get("/v1/things/t1/note?note=").body()).isEqualTo("\"\"");
    assertThat(gw.f().get("/v1/things/t1/note").body()).isEqualTo("null");
    assertThat(gw.f().get("/v1/things/t1/extra").body()).isEqualTo("null");
  }

  @Test
  void aCustomMethodIsServedAndListedWhereMethodsAreListed() throws Exception {
    HttpResponse<String> r = gw.f().send("TOUCH", "/v1/things/t2", "");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(r.body()).contains("\"got\":{\"id\":\"t2\"");
    HttpResponse<String> other = gw.f().send("DELETE", "/v1/things/t2", "");
    assertThat(other.statusCode()).isEqualTo(405);
    assertThat(other.headers().firstValue("Allow")).hasValue("GET, HEAD, TOUCH");
  }

  @Test
  void theOpenApiDocumentListsTheRoutes() throws Exception {
    HttpResponse<String> r = gw.f().get("/openapi.json");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).contains("\"openapi\":\"3.0.3\"", "\"/v1/things/{id}\"", "\"/v1/cities/{address.city}/things\"",
        "skiff.gatewaytest.Thing").doesNotContain("hidden");
  }

  @Test
  void aBodyIsJsonOnlyWhenItsMediaTypeIsApplicationJsonWithOrWithoutParameters() throws Exception {
    for (String type : new String[] {"application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8",
        "application/json ; charset=utf-8"}) {
      HttpResponse<String> r = gw.f().send(gw.f().request("/v1/things").header("Content-Type", type)
          .POST(java.net.http.HttpRequest.BodyPublishers.ofString("{\"id\":\"m\"}")));
      assertThat(r.statusCode()).as(type + ": " + r.body()).isEqualTo(200);
    }
    for (String type : new String[] {"application/jsonx", "application/json-patch+json", "application/json5", "text/plain"}) {
      HttpResponse<String> r = gw.f().send(gw.f().request("/v1/things").header("Content-Type", type)
          .POST(java.net.http.HttpRequest.BodyPublishers.ofString("{\"id\":\"m\"}")));
      assertThat(r.statusCode()).as(type).isEqualTo(415);
      assertThat(r.body()).contains("\"code\":\"UNSUPPORTED_MEDIA_TYPE\"");
    }
  }

  @Test
  void theOpenApiDocumentsOperationIdsAreUniqueAndStable() throws Exception {
    String doc = gw.f().get("/openapi.json").body();
    com.google.gson.JsonObject paths = com.google.gson.JsonParser.parseString(doc).getAsJsonObject().getAsJsonObject("paths");
    java.util.Map<String, String> ids = new java.util.TreeMap<>(); // operationId -> METHOD path
    for (String path : paths.keySet()) {
      for (String method : paths.getAsJsonObject(path).keySet()) {
        com.google.gson.JsonObject op = paths.getAsJsonObject(path).getAsJsonObject(method);
        String id = op.get("operationId").getAsString();
        String had = ids.put(id, method + " " + path);
        assertThat(had).as("operationId " + id + " of " + method + " " + path).isNull();
        // grouped by service, and a line a person reads: what the explorer and OpenAPI tools show
        String service = id.substring(0, id.indexOf('/'));
        assertThat(op.getAsJsonArray("tags").toString()).as(id).isEqualTo("[\"" + service + "\"]");
        assertThat(op.get("summary").getAsString()).as(id).startsWith(id.substring(id.indexOf('/') + 1).replaceAll("_[a-z]+_[0-9]+$", "") + " of " + service);
      }
    }
    // parts has four additional_bindings: the first binding keeps the plain id, the others say their method and index
    String svc = gw.f().service;
    assertThat(ids).containsEntry(svc + "/parts", "get /v1/things/{id}/tags").containsEntry(svc + "/parts_get_1", "get /v1/things/{id}/id")
        .containsEntry(svc + "/parts_get_4", "get /v1/things/{id}/extra");
    assertThat(gw.f().get("/openapi.json").body()).as("stable").isEqualTo(doc);
  }

  /** Browsers ask for /favicon.ico beside the explorer: "none" (204), not a 404 in their console. */
  @Test
  void theFaviconIsNoContentNotAnError() throws Exception {
    HttpResponse<String> r = gw.f().get("/favicon.ico");
    assertThat(r.statusCode()).isEqualTo(204);
    assertThat(r.body()).isEmpty();
  }

  @Test
  void theOpenApiDocumentWritesWellKnownTypesAndResponseBodiesAsTheirJson() throws Exception {
    String doc = gw.f().get("/openapi.json").body();
    assertThat(doc).contains(
        "\"since\":{\"type\":\"string\",\"format\":\"date-time\"}",
        "{\"name\":\"limit\",\"in\":\"query\",\"required\":false,\"schema\":{\"type\":\"integer\",\"format\":\"int32\"}}",
        "\"marks\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"format\":\"int64\"}}",
        "\"operationId\":\"" + gw.f().service + "/parts\"",
        "{\"type\":\"array\",\"items\":{\"type\":\"string\"}}",
        "\"requestBody\":{\"required\":false,\"content\":{\"application/json\":{\"schema\":{\"type\":\"integer\",\"format\":\"int32\"}}}}")
        .doesNotContain("\"google.protobuf.Timestamp\":{", "\"touch\"", "/touch\"");
  }
}
