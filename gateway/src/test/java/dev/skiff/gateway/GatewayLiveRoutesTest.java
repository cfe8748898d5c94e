package dev.skiff.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.skiff.platform.server.Server;
import dev.skiff.testing.RabbitMqExtension;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Routes follow discovery: a service started after the gateway is served within seconds; once gone, 503;
 * and a gone service's routes never shadow a live service's that claims the same ones.
 */
class GatewayLiveRoutesTest {
  @RegisterExtension static final RabbitMqExtension broker = RabbitMqExtension.create();

  @Test
  void aNewServicesRoutesAppearWithoutARestartAndAGoneServiceAnswers503() throws Exception {
    try (GatewayFixture f = new GatewayFixture(broker.amqpUri(), GatewayOptions.defaults(), null)) {
      assertThat(f.get("/v1/things/a").statusCode()).isEqualTo(404);
      long start = System.nanoTime();
      f.server = GatewayFixture.things(f.service, f.transport).start();
      await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(20)).until(() -> f.get("/v1/things/a").statusCode() == 200);
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));

      f.server.close();
      f.server = null;
      await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50)).until(() -> f.get("/v1/things/a").statusCode() == 503);
      var r = f.get("/v1/things/a");
      assertThat(r.body()).contains("\"code\":\"UNAVAILABLE\"", "is not running");
      assertThat(r.headers().firstValue("Retry-After")).isPresent();
    }
  }

  @Test
  void aGoneServiceNeverShadowsALiveOneThatServesTheSameRoute() throws Exception {
    try (GatewayFixture f = new GatewayFixture(broker.amqpUri(), GatewayOptions.defaults(), null).startService()) {
      // another service with the same routes, whose name sorts first: while both run, it keeps them
      String earlier = "gwtest.aaa" + f.service.substring(f.service.length() - 6);
      Server other = GatewayFixture.things(earlier, f.transport).start();
      try {
        await().atMost(Duration.ofSeconds(10)).until(() -> f.gateway.metrics().counter("skiff.gateway.routes.conflicts").getCount() >= 1);
      } finally {
        other.close();
      }
      // once it is gone, the live service serves the route again: not a 503 for the gone one
      await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50))
          .until(() -> f.get("/v1/things/a").statusCode() == 200);
      assertThat(f.get("/v1/things/b").body()).contains("\"id\":\"b\"");
    }
  }
}
