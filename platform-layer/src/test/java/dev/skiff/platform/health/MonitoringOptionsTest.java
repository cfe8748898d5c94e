package dev.skiff.platform.health;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.skiff.platform.metrics.MonitoringOptions;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MonitoringOptionsTest {
  @Test
  void defaultsAndEnvironment() {
    MonitoringOptions d = MonitoringOptions.fromEnvironment(Map.of());
    assertThat(d.metricsEnabled()).isTrue();
    assertThat(d.graphite()).isEmpty();
    assertThat(d.publishInterval()).isEqualTo(Duration.ofSeconds(5));
    MonitoringOptions o = MonitoringOptions.fromEnvironment(Map.of(
        "SKIFF_METRICS", "off", "SKIFF_GRAPHITE", "graphite.example.com:2003",
        "SKIFF_GRAPHITE_INTERVAL", "30s", "SKIFF_HEALTH_INTERVAL", "1s"));
    assertThat(o.metricsEnabled()).isFalse();
    assertThat(o.graphite()).get().satisfies(a -> {
      assertThat(a.getHostString()).isEqualTo("graphite.example.com");
      assertThat(a.getPort()).isEqualTo(2003);
    });
    assertThat(o.graphiteInterval()).isEqualTo(Duration.ofSeconds(30));
    assertThat(o.publishInterval()).isEqualTo(Duration.ofSeconds(1));
  }

  @Test
  void badValuesNameTheirVariable() {
    for (String bad : new String[] {"graphite", "graphite:", ":2003", "graphite:port", "graphite:70000", "http://g/x:1"}) {
      assertThatThrownBy(() -> MonitoringOptions.fromEnvironment(Map.of("SKIFF_GRAPHITE", bad)))
          .as(bad)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("SKIFF_GRAPHITE must be host:port")
          .hasMessageContaining("'" + bad + "'");
    }
    assertThatThrownBy(() -> MonitoringOptions.fromEnvironment(Map.of("SKIFF_METRICS", "maybe")))
        .hasMessageContaining("SKIFF_METRICS must be 'on' or 'off', not 'maybe'");
    assertThatThrownBy(() -> MonitoringOptions.fromEnvironment(Map.of("SKIFF_HEALTH_INTERVAL", "soon")))
        .hasMessageContaining("SKIFF_HEALTH_INTERVAL");
  }
}
