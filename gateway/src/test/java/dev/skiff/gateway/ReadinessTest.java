package dev.skiff.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.platform.health.HealthCheck;
import dev.skiff.platform.health.HealthChecks;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/** What {@code /readyz} says, from the gateway server's checks: the listener and the routes gate it, token keys do not. */
class ReadinessTest {
  private static HealthCheck check(AtomicBoolean healthy) {
    return new HealthCheck() {
      @Override
      protected Result check() {
        return healthy.get() ? Result.healthy("fine") : Result.unhealthy("not fine");
      }
    };
  }

  @Test
  void readyWhenTheGatingChecksPassedAtTheirLastRunAndNotStopping() {
    Readiness r = new Readiness();
    assertThat(r.notReady()).containsExactly("starting");
    AtomicBoolean http = new AtomicBoolean(true);
    AtomicBoolean routes = new AtomicBoolean(false);
    AtomicBoolean keys = new AtomicBoolean(false);
    HealthChecks checks = new HealthChecks();
    checks.register("http", check(http));
    checks.register("routes", check(routes));
    checks.register("token-keys", check(keys));
    r.follow(checks);
    assertThat(r.notReady()).as("no check has run yet").containsExactly("http", "routes");
    checks.runAll();
    assertThat(r.notReady()).containsExactly("routes");
    routes.set(true);
    checks.runAll();
    assertThat(r.notReady()).as("the login service's keys do not gate it").isEmpty();
    http.set(false);
    checks.run("http");
    assertThat(r.notReady()).containsExactly("http");
    http.set(true);
    checks.run("http");
    r.stopping();
    assertThat(r.notReady()).containsExactly("stopping");
  }

  @Test
  void aGatingCheckThatIsMissingIsNotTakenAsPassed() {
    Readiness r = new Readiness();
    HealthChecks checks = new HealthChecks();
    checks.register("http", check(new AtomicBoolean(true)));
    r.follow(checks);
    checks.runAll();
    assertThat(r.notReady()).containsExactly("routes");
  }
}
