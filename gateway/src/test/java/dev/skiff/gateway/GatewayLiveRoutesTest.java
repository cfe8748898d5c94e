package dev.skiff.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.skiff.testing.RabbitMqExtension;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Routes follow discovery: a service started after the gateway is served within seconds; once gone, 503. */
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
}
