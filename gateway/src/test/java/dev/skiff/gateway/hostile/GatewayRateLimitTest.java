package dev.skiff.gateway.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.skiff.gateway.GatewayFixture;
import dev.skiff.gateway.GatewayOptions;
import dev.skiff.testing.RabbitMqExtension;
import java.net.http.HttpResponse;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A client address past its rate gets 429 with Retry-After, and the service never sees those requests;
 * behind a trusted proxy the address is the forwarded client's, and a forwarding header from a peer that
 * is not a trusted proxy changes nothing.
 */
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

  @Test
  void behindATrustedProxyEachForwardedClientHasItsOwnRateAndASpoofedHeaderFromElsewhereChangesNothing() throws Exception {
    GatewayOptions trusting = GatewayOptions.defaults().withRates(1, 1000).withTrustedProxies("127.0.0.0/8, ::1/128", "");
    try (GatewayFixture f = new GatewayFixture(broker.amqpUri(), trusting, null).startService()) {
      // one request a second per address: each forwarded client gets its own (the spoofed left part is not the key)
      for (int client = 0; client < 5; client++) {
        HttpResponse<String> r = f.send(f.request("/v1/things/p" + client).header("X-Forwarded-For", "6.6.6.6, 198.51.100." + client).GET());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      }
      HttpResponse<String> again = f.send(f.request("/v1/things/p").header("X-Forwarded-For", "198.51.100.4").GET());
      assertThat(again.statusCode()).isEqualTo(429);
    }
    GatewayOptions elsewhere = GatewayOptions.defaults().withRates(1, 1000).withTrustedProxies("10.0.0.0/8", "");
    try (GatewayFixture f = new GatewayFixture(broker.amqpUri(), elsewhere, null).startService()) {
      int ok = 0;
      HttpResponse<String> limited = null;
      for (int i = 0; i < 10 && limited == null; i++) {
        HttpResponse<String> r = f.send(f.request("/v1/things/s" + i).header("X-Forwarded-For", "203.0.113." + i).GET());
        if (r.statusCode() == 429) {
          limited = r;
        } else {
          assertThat(r.statusCode()).isEqualTo(200);
          ok++;
        }
      }
      assertThat(limited).as("a spoofed header from an untrusted peer must not give it a fresh rate-limit key").isNotNull();
      assertThat(ok).isBetween(1, 2);
    }
  }

  @Test
  void theTrustedProxiesAreReadFromTheGatewaysOwnVariables() {
    GatewayOptions o = GatewayOptions.fromEnvironment(Map.of("SKIFF_GATEWAY_TRUSTED_PROXIES", "127.0.0.1/32",
        "SKIFF_GATEWAY_FORWARDED_HEADER", "Forwarded", "SKIFF_HTTP_TRUSTED_PROXIES", "10.0.0.0/8"));
    assertThat(o.proxies().headerName()).isEqualTo("Forwarded");
    assertThat(o.proxies().client("127.0.0.1", java.util.List.of("for=198.51.100.3"))).isEqualTo("198.51.100.3");
    assertThat(o.proxies().client("10.0.0.1", java.util.List.of("for=198.51.100.3"))).as("the pages' setting is not the gateway's")
        .isEqualTo("10.0.0.1");
    assertThatThrownBy(() -> GatewayOptions.fromEnvironment(Map.of("SKIFF_GATEWAY_TRUSTED_PROXIES", "nope")))
        .hasMessageStartingWith("SKIFF_GATEWAY_TRUSTED_PROXIES");
    assertThatThrownBy(() -> GatewayOptions.defaults().withTrustedProxies("", "X-Real-IP")).hasMessageStartingWith("SKIFF_GATEWAY_FORWARDED_HEADER");
  }
}
