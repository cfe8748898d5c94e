package dev.skiff.service.memcached;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.codahale.metrics.health.HealthCheckRegistry;
import dev.skiff.platform.config.Config;
import dev.skiff.platform.health.HealthCheck;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.server.ServerBuilder;
import dev.skiff.platform.transport.inprocess.InProcessTransport;
import dev.skiff.proto.v1.Error;
import dev.skiff.service.health.PlatformHealth;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A service-layer client's check shows among the service's health checks and follows the store. */
class PlatformHealthTest {
  @Test
  void aStoreClientsCheckIsPartOfTheServicesHealth() {
    HealthCheckRegistry stores = new HealthCheckRegistry();
    try (MemcachedProcess server = new MemcachedProcess();
        Memcached cache = Memcached.builder()
            .config(Config.of(Map.of("memcached.hosts", server.address(), "memcached.timeout", "300ms")))
            .healthChecks(stores).build().start();
        InProcessTransport transport = InProcessTransport.create()) {
      ServerBuilder b = Server.builder("test.health.bridge").transport(transport)
          .endpoint(Endpoint.of("noop", Error.class, Error.class, (req, ctx) -> req));
      PlatformHealth.include(stores, b);
      try (Server s = b.build().start()) {
        assertThat(s.health().names()).contains("memcached");
        HealthCheck.Result up = s.health().run("memcached");
        assertThat(up.healthy()).as(up.message()).isTrue();
        server.kill();
        await().atMost(Duration.ofSeconds(10)).until(() -> !s.health().run("memcached").healthy());
        assertThat(s.health().run("memcached").message()).contains("down");
        assertThat(s.health().isHealthy()).isFalse();
      }
      assertThat(cache.availableServers()).isEmpty();
    }
  }
}
