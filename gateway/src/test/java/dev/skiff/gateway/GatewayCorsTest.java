package dev.skiff.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * CORS preflights list the methods served at the path (a service's routes, the sign-in and admin routes,
 * the gateway's own GET paths), and a preflight for a path nothing serves is 404 in the one error format,
 * without CORS allow headers; the gateway's own GET-only paths answer another method with 405 and
 * {@code Allow: GET, HEAD}, not 404.
 */
class GatewayCorsTest {
  private static final String ORIGIN = "https://app.example.com";

  @RegisterExtension static final GatewayExtension gw = new GatewayExtension(GatewayOptions.defaults().withRates(1000, 1000)
      .withCorsOrigins(Set.of(ORIGIN)));

  private static HttpResponse<String> preflight(String path, String method) throws Exception {
    return gw.f().send(gw.f().request(path).method("OPTIONS", HttpRequest.BodyPublishers.noBody())
        .header("Origin", ORIGIN).header("Access-Control-Request-Method", method));
  }

  @Test
  void aPreflightListsTheMethodsServedAtThePath() throws Exception {
    Map<String, String> expected = Map.ofEntries(
        Map.entry("/v1/things", "POST"),
        Map.entry("/v1/things/x", "GET, HEAD, TOUCH"),
        Map.entry("/v1/things/x/address", "GET, HEAD, PUT"),
        Map.entry("/auth/v1/login", "POST"),
        Map.entry("/auth/v1/whoami", "GET, HEAD"),
        Map.entry("/auth/v1/password", "PUT"),
        Map.entry("/admin/v1/routes", "GET, HEAD, PUT"),
        Map.entry("/admin/v1/users", "GET, HEAD, POST"),
        Map.entry("/admin/v1/users/ada/roles", "PUT"),
        Map.entry("/admin/v1/traces/" + "ab".repeat(16), "GET, HEAD"),
        Map.entry("/openapi.json", "GET, HEAD"),
        Map.entry("/explorer", "GET, HEAD"),
        Map.entry("/explorer.js", "GET, HEAD"),
        Map.entry("/livez", "GET, HEAD"),
        Map.entry("/readyz", "GET, HEAD"));
    for (Map.Entry<String, String> e : expected.entrySet()) {
      HttpResponse<String> r = preflight(e.getKey(), "POST");
      assertThat(r.statusCode()).as(e.getKey() + " " + r.body()).isEqualTo(204);
      assertThat(r.headers().firstValue("Access-Control-Allow-Methods")).as(e.getKey()).hasValue(e.getValue());
      assertThat(r.headers().firstValue("Access-Control-Allow-Origin")).as(e.getKey()).hasValue(ORIGIN);
      assertThat(r.headers().firstValue("Access-Control-Allow-Headers")).as(e.getKey()).isPresent();
    }
  }

  @Test
  void aPreflightForAPathNothingServesIs404WithoutAllowHeaders() throws Exception {
    for (String path : List.of("/nope", "/v1/nothing/here", "/admin/v1/nope", "/auth/v1/nope", "/admin/v1/routes/extra")) {
      HttpResponse<String> r = preflight(path, "GET");
      assertThat(r.statusCode()).as(path).isEqualTo(404);
      assertThat(r.headers().firstValue("Content-Type")).as(path).hasValue("application/json");
      String id = r.headers().firstValue("X-Request-Id").orElseThrow();
      assertThat(r.body()).as(path).startsWith("{\"code\":\"NOT_FOUND\",\"message\":").endsWith(",\"request_id\":\"" + id + "\"}");
      for (String h : List.of("Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Access-Control-Allow-Origin",
          "Access-Control-Max-Age")) {
        assertThat(r.headers().firstValue(h)).as(path + " " + h).isEmpty();
      }
    }
    // another origin is still refused first, with 403
    HttpResponse<String> other = gw.f().send(gw.f().request("/nope").method("OPTIONS", HttpRequest.BodyPublishers.noBody())
        .header("Origin", "https://evil.example.net").header("Access-Control-Request-Method", "GET"));
    assertThat(other.statusCode()).isEqualTo(403);
  }

  @Test
  void anotherMethodAtTheGatewaysOwnGetPathsIs405WithAllow() throws Exception {
    for (String path : List.of("/openapi.json", "/explorer", "/explorer.js", "/explorer.css", "/livez", "/readyz")) {
      for (String method : List.of("POST", "PUT", "DELETE")) {
        // no body: the method alone decides, and a body the gateway has no use for is not read, so Jetty closes
        // that connection after the answer, and the JDK client, reusing it for the next request, may read nothing
        HttpResponse<String> r = gw.f().send(gw.f().request(path).method(method, HttpRequest.BodyPublishers.noBody()));
        assertThat(r.statusCode()).as(method + " " + path + " " + r.body()).isEqualTo(405);
        assertThat(r.headers().firstValue("Allow")).as(method + " " + path).hasValue("GET, HEAD");
        assertThat(r.body()).as(method + " " + path).startsWith("{\"code\":\"METHOD_NOT_ALLOWED\"");
      }
      assertThat(gw.f().get(path).statusCode()).as("GET " + path).isIn(200, 503); // /readyz: 503 until its first checks ran
    }
  }
}
