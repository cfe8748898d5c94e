package com.example.greeter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.skiff.gateway.Gateway;
import dev.skiff.gateway.GatewayOptions;
import dev.skiff.platform.security.ServiceIdentities;
import dev.skiff.platform.server.Server;
import dev.skiff.testing.RabbitMqExtension;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The greeter over HTTP through the gateway: POST /v1/greeter/hello (body *) and GET /v1/greeter/hello?name=Ada. */
class GreeterGatewayTest {
  @RegisterExtension static final RabbitMqExtension broker = RabbitMqExtension.create();

  @Test
  void helloIsServedAtItsHttpRoutes() throws Exception {
    try (Gateway gateway = Gateway.start(broker.transport(), ServiceIdentities.defaults(), GatewayOptions.defaults().withPort(0).withStopGrace(java.time.Duration.ZERO));
        Server s = new Greeter().start(broker.transport())) {
      assertThat(s.name()).isEqualTo(Greeter.NAME);
      HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
      String base = "http://127.0.0.1:" + gateway.port();
      await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(20)).until(() -> gateway.routeCount() == 2);
      HttpResponse<String> post = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/greeter/hello"))
          .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString("{\"name\": \"Ada\"}")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(post.statusCode()).isEqualTo(200);
      assertThat(post.body()).isEqualTo("{\"greeting\":\"Hello, Ada!\"}");
      HttpResponse<String> get = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/greeter/hello?name=Ada")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(get.statusCode()).isEqualTo(200);
      assertThat(get.body()).isEqualTo("{\"greeting\":\"Hello, Ada!\"}");
      HttpResponse<String> blank = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/greeter/hello")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(blank.statusCode()).isEqualTo(400);
      assertThat(blank.body()).contains("\"code\":\"BAD_REQUEST\"", "name is required");
    }
  }
}
