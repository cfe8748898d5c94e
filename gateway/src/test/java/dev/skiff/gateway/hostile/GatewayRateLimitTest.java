package dev.skiff.gateway.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.gateway.GatewayFixture;
import dev.skiff.gateway.GatewayOptions;
import dev.skiff.testing.RabbitMqExtension;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** A client address past its rate gets 429 with Retry-After, and the service never sees those requests. */
class GatewayRateLimitTest {
  @RegisterExtension static final RabbitMqExtension broker = RabbitMqExtension.create();

  @Test
  void pastItsRateAnAddressGets429WithRetryAfter() throws Exception {
    try (GatewayFixture f = new GatewayFixture(broker.amqpUri(), GatewayOptions.defaults().withRates(5, 5), null).startService()) {
      int ok = 0;
      HttpResponse<String> limited = null;
      for (int i = 0; i < 20 && limited == null; i++) {
        HttpResponse<String> r = f.get("/v1/things/r" + i);
        if (r.statusCode() == 429) {
          limited = r;
        } else {
          assertThat(r.statusCode()).isEqualTo(200);
          ok++;
        }
      }
      assertThat(limited).isNotNull();
      assertThat(ok).isBetween(5, 7);
      assertThat(limited.headers().firstValue("Retry-After")).hasValueSatisfying(v -> assertThat(Long.parseLong(v)).isPositive());
      assertThat(limited.body()).contains("\"code\":\"RATE_LIMITED\"");
      assertThat(f.gateway.metrics().counter("skiff.gateway.rate-limit.address.limited").getCount()).isPositive();
    }
  }
}
