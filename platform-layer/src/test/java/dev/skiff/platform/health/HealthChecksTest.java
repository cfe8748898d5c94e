package dev.skiff.platform.health;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class HealthChecksTest {
  static final class Throwing extends HealthCheck {
    @Override
    protected Result check() throws Exception {
      Thread.sleep(20);
      throw new IOException("disk on fire");
    }

    @Override
    public Priority priority() {
      return Priority.PAGE;
    }
  }

  @Test
  void aThrownExceptionIsAnUnhealthyResultWithItsDuration() {
    HealthCheck.Result r = new Throwing().execute();
    assertThat(r.healthy()).isFalse();
    assertThat(r.message()).isEqualTo("disk on fire");
    assertThat(r.error()).isInstanceOf(IOException.class);
    assertThat(r.duration()).isGreaterThanOrEqualTo(Duration.ofMillis(15));
    assertThat(r.checkedAt()).isAfter(Instant.now().minusSeconds(5));
  }

  @Test
  void aNullResultIsUnhealthy() {
    HealthCheck nothing = new HealthCheck() {
      @Override
      protected Result check() {
        return null;
      }
    };
    assertThat(nothing.execute().healthy()).isFalse();
    assertThat(nothing.execute().message()).contains("returned no result");
  }

  @Test
  void registryRunsChecksAtTheirIntervalsAndKeepsTheLatestResult() {
    HealthChecks checks = new HealthChecks();
    checks.register("fire", new Throwing());
    checks.register("fine", Priority.WARN, Duration.ofMinutes(1), new HealthCheck() {
      @Override
      protected Result check() {
        return Result.healthy("all good");
      }
    });
    assertThat(checks.results()).allSatisfy(s -> assertThat(s.result()).isNull());
    assertThat(checks.isHealthy()).isTrue();
    Instant now = Instant.now();
    assertThat(checks.runDue(now)).isEqualTo(2);
    assertThat(checks.runDue(now.plusSeconds(1))).isZero();
    assertThat(checks.runDue(now.plusSeconds(11))).isEqualTo(1);
    assertThat(checks.isHealthy()).isFalse();
    HealthChecks.Status fire = checks.results().get(1);
    assertThat(fire.name()).isEqualTo("fire");
    assertThat(fire.priority()).isEqualTo(Priority.PAGE);
    assertThat(fire.interval()).isEqualTo(HealthCheck.DEFAULT_INTERVAL);
    assertThat(checks.results().get(0).result().message()).isEqualTo("all good");
    assertThat(checks.unregister("fire")).isTrue();
    assertThat(checks.names()).containsExactly("fine");
  }

  @Test
  void badRegistrationsAreRefusedClearly() {
    HealthChecks checks = new HealthChecks();
    checks.register("a", new Throwing());
    assertThatThrownBy(() -> checks.register("a", new Throwing())).hasMessageContaining("'a' is already registered");
    assertThatThrownBy(() -> checks.register("no spaces", new Throwing())).hasMessageContaining("invalid healthcheck name");
    assertThatThrownBy(() -> checks.register("b", Priority.WARN, Duration.ofMillis(1), new Throwing()))
        .hasMessageContaining("at least 100ms");
    assertThatThrownBy(() -> checks.run("zzz")).hasMessageContaining("no healthcheck named 'zzz'").hasMessageContaining("[a]");
  }
}
