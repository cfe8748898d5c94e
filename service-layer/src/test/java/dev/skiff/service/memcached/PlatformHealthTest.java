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

  /**
   * As a {@code SkiffService} does it: the registry is included while the server is built, the client is
   * made and started only once the server runs ({@code prepare}). Its check is run and published from then
   * on, and removed when the client closes.
   */
  @Test
  void aCheckRegisteredAfterTheServerStartedIsRunPublishedAndRemovedWithItsClient() {
    HealthCheckRegistry stores = new HealthCheckRegistry();
    try (MemcachedProcess store = new MemcachedProcess(); InProcessTransport transport = InProcessTransport.create()) {
      ServerBuilder b = Server.builder("test.health.later").transport(transport)
          .endpoint(Endpoint.of("noop", Error.class, Error.class, (req, ctx) -> req));
      PlatformHealth.include(stores, b);
      try (Server s = b.build().start()) {
        assertThat(s.health().names()).doesNotContain("memcached");
        Memcached cache = Memcached.builder()
            .config(Config.of(Map.of("memcached.hosts", store.address(), "memcached.timeout", "300ms")))
            .healthChecks(stores).build().start();
        assertThat(s.health().names()).as("registered in the registry after the server started").contains("memcached");
        HealthCheck.Result up = s.health().run("memcached");
        assertThat(up.healthy()).as(up.message()).isTrue();
        assertThat(s.monitor().report().getChecksList()).as("published")
            .anySatisfy(c -> assertThat(c.getName()).isEqualTo("memcached"));
        store.kill();
        await().atMost(Duration.ofSeconds(10)).until(() -> !s.health().run("memcached").healthy());
        assertThat(s.health().isHealthy()).isFalse();
        assertThat(s.monitor().report().getHealthy()).as("the published health says so").isFalse();

        cache.close();
        assertThat(s.health().names()).as("a closed client's check is gone from the service's").doesNotContain("memcached");
      }
    }
  }
}
