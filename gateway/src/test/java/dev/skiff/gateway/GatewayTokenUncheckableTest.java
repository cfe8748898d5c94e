package dev.skiff.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.skiff.platform.security.TokenRejectedException;
import dev.skiff.testing.RabbitMqExtension;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A token that cannot be checked now (the login service's keys or ended sessions are out of reach, as while
 * a broker node is lost) is the edge's passing trouble, not the token's fault: 503 with {@code Retry-After},
 * never a 401 {@code invalid_token}, which tells an app to throw its token away.
 */
class GatewayTokenUncheckableTest {
  @RegisterExtension static final RabbitMqExtension broker = RabbitMqExtension.create();

  @Test
  void aTokenThatCannotBeCheckedNowIs503WithRetryAfterNot401() throws Exception {
    try (GatewayFixture f = new GatewayFixture(broker.amqpUri(), GatewayOptions.defaults(), token -> {
      throw new TokenRejectedException(TokenRejectedException.Reason.KEYS_UNAVAILABLE,
          "ended sessions cannot be checked while the broker connection is lost");
    }).startService()) {
      await().atMost(Duration.ofSeconds(10)).until(() -> f.gateway.routeCount() >= 1);
      HttpResponse<String> r = f.send(f.request("/v1/things/t1").header("Authorization", "Bearer some.valid.token").GET());
      assertThat(r.statusCode()).as(r.body()).isEqualTo(503);
      assertThat(r.headers().firstValue("Retry-After")).hasValue("1");
      assertThat(r.headers().firstValue("WWW-Authenticate")).isEmpty();
      assertThat(r.body()).contains("\"code\":\"UNAVAILABLE\"").contains("cannot be checked now").doesNotContain("some.valid.token");
    }
  }
}
