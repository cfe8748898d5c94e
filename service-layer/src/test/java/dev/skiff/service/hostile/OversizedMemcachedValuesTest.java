package dev.skiff.service.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.health.HealthCheckRegistry;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.config.Config;
import dev.skiff.service.TestStores;
import dev.skiff.service.memcached.Codec;
import dev.skiff.service.memcached.Memcached;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * A value larger than memcached takes (a caller's large booking, say) is the caller's problem, not an
 * outage: {@code set} refuses it with BAD_REQUEST naming the limit, before anything is sent, and
 * read-through answers the loader's value, counting it, and throws nothing for memcached's sake.
 */
class OversizedMemcachedValuesTest {
  private static final int MIB = 1 << 20;
  private final MetricRegistry metrics = new MetricRegistry();
  private final HealthCheckRegistry health = new HealthCheckRegistry();
  private final String prefix = "t-" + UUID.randomUUID() + "-";

  private Memcached client() {
    return Memcached.builder()
        .config(Config.of(Map.of("memcached.hosts", TestStores.memcachedHosts())))
        .metrics(metrics)
        .healthChecks(health)
        .build()
        .start();
  }

  @Test
  void setOfAValueOverTheItemSizeIsABadRequestNamingTheLimit() {
    try (Memcached m = client()) {
      for (int size : new int[] {2 * MIB, MIB, MIB - 40}) {
        assertThatThrownBy(() -> m.set(prefix + "big", new byte[size], Duration.ofMinutes(1)))
            .as("%d bytes", size)
            .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.BAD_REQUEST))
            .hasMessageContaining(size + " bytes")
            .hasMessageContaining("memcached.max-item-size")
            .hasMessageContaining("1048576");
      }
      byte[] fits = new byte[MIB - 1024];
      m.set(prefix + "fits", fits, Duration.ofMinutes(1));
      assertThat(m.get(prefix + "fits")).as("a value that fits is stored").hasValueSatisfying(v -> assertThat(v).hasSize(fits.length));
      assertThat(metrics.counter("memcached.too-large").getCount()).isEqualTo(3);
      assertThat(health.runHealthCheck("memcached").isHealthy()).as("a refused value is no outage").isTrue();
    }
  }

  @Test
  void readThroughOfAValueOverTheItemSizeAnswersTheLoadersValueAndCountsIt() {
    AtomicInteger loads = new AtomicInteger();
    byte[] big = new byte[3 * MIB];
    try (Memcached m = client()) {
      for (int i = 1; i <= 2; i++) {
        byte[] v = m.readThrough(prefix + "rt", Duration.ofMinutes(1), Codec.bytes(), () -> {
          loads.incrementAndGet();
          return big;
        });
        assertThat(v).as("the loader's value").isSameAs(big);
        assertThat(loads).as("not cached, so loaded each time").hasValue(i);
      }
      assertThat(metrics.counter("memcached.read-through.too-large").getCount()).isEqualTo(2);
      assertThat(metrics.counter("memcached.read-through.fallbacks").getCount()).as("memcached was not down").isZero();
      assertThat(m.get(prefix + "rt")).isEmpty();
    }
  }
}
