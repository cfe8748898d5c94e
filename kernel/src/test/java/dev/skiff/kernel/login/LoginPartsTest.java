package dev.skiff.kernel.login;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.codahale.metrics.MetricRegistry;
import com.nimbusds.jose.jwk.JWKSet;
import dev.skiff.kernel.TestClock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The login service's pure parts: the throttle's rules, key rotation and retirement, password hashes, settings. */
class LoginPartsTest {
  private final MetricRegistry metrics = new MetricRegistry();

  @Test
  void theThrottleDelaysDoublingLetsOneDelayedAttemptRunAtATimeLocksAndForgets() {
    LoginThrottle t = new LoginThrottle(new LoginThrottle.Rules(5, Duration.ofMillis(100), Duration.ofMillis(350), 10,
        Duration.ofMinutes(15), Duration.ofMinutes(15), 3), metrics);
    long now = 1_000_000;
    for (int i = 0; i < 5; i++) {
      assertThat(t.begin("x", now)).isEqualTo(new LoginThrottle.Verdict.Go(0));
      t.failed("x", now);
      t.end("x");
    }
    long[] delays = {100, 200, 350, 350};
    for (long d : delays) {
      assertThat(t.begin("x", now)).isEqualTo(new LoginThrottle.Verdict.Go(d));
      assertThat(t.begin("x", now)).as("a second attempt while one is delayed").isInstanceOf(LoginThrottle.Verdict.Busy.class);
      assertThat(t.failed("x", now)).isZero();
      t.end("x");
    }
    t.begin("x", now);
    long until = t.failed("x", now);
    t.end("x");
    assertThat(until).isEqualTo(now + Duration.ofMinutes(15).toMillis());
    assertThat(t.begin("x", now + 1000)).isEqualTo(new LoginThrottle.Verdict.Locked(until));
    assertThat(t.lockedUntil("x", now)).isEqualTo(until);
    assertThat(t.begin("x", until)).as("the lock ends").isInstanceOf(LoginThrottle.Verdict.Go.class);
    t.succeeded("x");
    assertThat(t.begin("x", until)).isEqualTo(new LoginThrottle.Verdict.Go(0));
    assertThat(metrics.counter("skiff.login.lockouts").getCount()).isEqualTo(1);
    assertThat(metrics.counter("skiff.login.failures").getCount()).isEqualTo(10);
  }

  @Test
  void anotherCopysFailuresCountAndLockHereButItsLockoutIsCountedThereAndStaleOrUnboundedOnesAreNot() {
    LoginThrottle t = new LoginThrottle(new LoginThrottle.Rules(5, Duration.ofMillis(100), Duration.ofMillis(350), 10,
        Duration.ofMinutes(15), Duration.ofMinutes(15), 2), metrics);
    long now = 1_000_000;
    for (int i = 0; i < 6; i++) {
      t.failed("x", now);
    }
    for (int i = 0; i < 3; i++) {
      assertThat(t.failedElsewhere("x", now, now)).isZero();
    }
    assertThat(t.begin("x", now)).as("the delays follow every copy's failures").isEqualTo(new LoginThrottle.Verdict.Go(350));
    t.end("x");
    assertThat(t.failedElsewhere("x", now - Duration.ofMinutes(15).toMillis(), now)).as("older than the window").isZero();
    assertThat(t.failuresOf("x")).isEqualTo(9);
    long until = t.failedElsewhere("x", now, now);
    assertThat(until).as("the tenth, counted at another copy, locks here too").isEqualTo(now + Duration.ofMinutes(15).toMillis());
    assertThat(t.begin("x", now)).isEqualTo(new LoginThrottle.Verdict.Locked(until));
    assertThat(metrics.counter("skiff.login.lockouts").getCount()).as("counted by the copy whose failure locked it").isZero();
    assertThat(metrics.counter("skiff.login.failures").getCount()).as("this copy's own").isEqualTo(6);

    t.failedElsewhere("y", now, now);
    assertThat(t.failedElsewhere("z", now, now)).as("two names tracked, both recent: a third is not taken").isZero();
    assertThat(t.failuresOf("z")).isZero();
    assertThat(metrics.counter("skiff.login.throttle-full").getCount()).isEqualTo(1);
    assertThat(t.succeeded("x")).isTrue();
    assertThat(t.succeeded("x")).as("nothing left to forget").isFalse();
    assertThat(t.failedElsewhere("z", now, now)).isZero();
    assertThat(t.failuresOf("z")).as("room again").isEqualTo(1);
  }

  @Test
  void failuresOutsideTheWindowDoNotLockAndTheBoundFailsClosedUntilNamesGoIdle() {
    LoginThrottle t = new LoginThrottle(new LoginThrottle.Rules(100, Duration.ofMillis(1), Duration.ofMillis(1), 3,
        Duration.ofMinutes(1), Duration.ofMinutes(1), 2), metrics);
    t.failed("a", 0);
    t.failed("a", 1);
    assertThat(t.failed("a", 61_000)).as("the first two left the window").isZero();
    t.failed("b", 61_000);
    assertThat(t.begin("c", 61_000)).as("two names tracked, both recent: full").isInstanceOf(LoginThrottle.Verdict.Busy.class);
    assertThat(metrics.counter("skiff.login.throttle-full").getCount()).isEqualTo(1);
    assertThat(t.begin("a", 61_000)).as("a tracked name still goes").isInstanceOf(LoginThrottle.Verdict.Go.class);
    assertThat(t.begin("c", 200_000)).as("idle names are forgotten").isEqualTo(new LoginThrottle.Verdict.Go(0));
    assertThat(t.size()).isZero();
  }

  @Test
  void keysRotateAndARetiredKeyIsPublishedUntilItsTokensExpired() throws Exception {
    TestClock clock = new TestClock(Instant.parse("2030-01-01T00:00:00Z"));
    MemoryUserStore store = new MemoryUserStore(10, 10, clock);
    SigningKeys keys = new SigningKeys(store, clock, Duration.ofHours(24), Duration.ofMinutes(20));
    assertThat(keys.refresh()).isTrue();
    String first = keys.signingKid();
    assertThat(keys.refresh()).as("nothing due").isFalse();
    clock.advance(Duration.ofHours(24));
    assertThat(keys.refresh()).isTrue();
    String second = keys.signingKid();
    assertThat(second).isNotEqualTo(first);
    assertThat(kids(keys)).containsExactlyInAnyOrder(first, second);
    clock.advance(Duration.ofMinutes(20));
    keys.refresh();
    assertThat(kids(keys)).as("a minute's margin after the longest token").contains(first);
    clock.advance(Duration.ofMinutes(1));
    assertThat(keys.refresh()).isTrue();
    assertThat(kids(keys)).containsExactly(second);
    assertThat(store.keys()).extracting(UserStore.Key::kid).containsExactly(second);
    assertThat(keys.publicJwks()).doesNotContain("\"d\"");
    // another copy on the same store signs with the same key
    assertThat(new SigningKeys(store, clock, Duration.ofHours(24), Duration.ofMinutes(20))).satisfies(other -> {
      other.refresh();
      assertThat(other.signingKid()).isEqualTo(second);
    });
  }

  private static java.util.List<String> kids(SigningKeys keys) throws Exception {
    return JWKSet.parse(keys.publicJwks()).getKeys().stream().map(k -> k.getKeyID()).toList();
  }

  @Test
  void passwordsAreArgon2idPhcStringsComparedWhetherTheUserExistsOrNot() {
    PasswordHasher h = new PasswordHasher(2);
    String a = h.hash("correct horse");
    String b = h.hash("correct horse");
    assertThat(a).startsWith("$argon2id$v=19$m=19456,t=2,p=1$").isNotEqualTo(b).doesNotContain("correct");
    assertThat(h.matches("correct horse", a)).isTrue();
    assertThat(h.matches("correct horsf", a)).isFalse();
    assertThat(h.matches("correct horse", null)).as("no such user").isFalse();
    assertThat(h.matches("correct horse", "$argon2id$v=19$m=999999999,t=2,p=1$AAAA$BBBB")).as("damaged").isFalse();
    assertThat(h.outdated(a)).isFalse();
    PasswordHasher lighter = new PasswordHasher(1024, 1, 1, 1);
    String old = lighter.hash("pw-of-old");
    assertThat(h.outdated(old)).isTrue();
    assertThat(h.matches("pw-of-old", old)).as("older parameters still verify").isTrue();
  }

  @Test
  void settingsComeFromTheEnvironmentAndNeverShowThePassword() {
    LoginSettings s = LoginSettings.fromEnvironment(Map.of("SKIFF_LOGIN_TOKEN_TTL", "5m", "SKIFF_LOGIN_SESSION_MAX", "1h",
        "SKIFF_LOGIN_KEY_ROTATION", "2h", "SKIFF_LOGIN_STORE", "Cassandra", "SKIFF_BOOTSTRAP_ADMIN_PASSWORD", "s3cret-value"));
    assertThat(s.tokenTtl()).isEqualTo(Duration.ofMinutes(5));
    assertThat(s.sessionMax()).isEqualTo(Duration.ofHours(1));
    assertThat(s.keyRotation()).isEqualTo(Duration.ofHours(2));
    assertThat(s.store()).isEqualTo("cassandra");
    assertThat(s.bootstrapAdminPassword()).isEqualTo("s3cret-value");
    assertThat(s.toString()).doesNotContain("s3cret");
    assertThatThrownBy(() -> LoginSettings.fromEnvironment(Map.of("SKIFF_LOGIN_STORE", "files"))).hasMessageContaining("SKIFF_LOGIN_STORE");
    assertThatThrownBy(() -> LoginSettings.fromEnvironment(Map.of("SKIFF_LOGIN_TOKEN_TTL", "13h"))).hasMessageContaining("SKIFF_LOGIN_TOKEN_TTL");
    assertThat(LoginService.nextSecond(12_000)).isEqualTo(13_000);
    assertThat(LoginService.nextSecond(12_999)).isEqualTo(13_000);
  }
}
