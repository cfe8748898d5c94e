package dev.skiff.kernel.login;

import dev.skiff.platform.config.EnvVars;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * How the login service runs, from the environment ({@link #fromEnvironment(Map)}).
 *
 * <table>
 *   <caption>Environment variables</caption>
 *   <tr><th>variable</th><th>meaning</th><th>default</th></tr>
 *   <tr><td>SKIFF_LOGIN_STORE</td><td>{@code memory} (one process, lost at restart) or {@code cassandra}</td><td>memory</td></tr>
 *   <tr><td>SKIFF_LOGIN_TOKEN_TTL</td><td>how long a token is valid ({@code 15m}, {@code 900s}, {@code PT15M})</td><td>15m</td></tr>
 *   <tr><td>SKIFF_LOGIN_SESSION_MAX</td><td>how long renewals can extend a session after its login</td><td>12h</td></tr>
 *   <tr><td>SKIFF_LOGIN_KEY_ROTATION</td><td>how long a signing key signs before a new one replaces it</td><td>24h</td></tr>
 *   <tr><td>SKIFF_LOGIN_MAX_USERS</td><td>(memory) users kept at most</td><td>10000</td></tr>
 *   <tr><td>SKIFF_LOGIN_MAX_SESSIONS</td><td>(memory) live sessions kept at most</td><td>100000</td></tr>
 *   <tr><td>SKIFF_LOGIN_KEYSPACE</td><td>(cassandra) the keyspace, created if missing</td><td>skiff_login</td></tr>
 *   <tr><td>SKIFF_BOOTSTRAP_ADMIN_PASSWORD</td><td>when the store has no user at all: the password of user
 *       {@code admin} (role {@code ADMIN}) created at start; ignored once any user exists</td><td>unset</td></tr>
 * </table>
 *
 * @param store {@code memory} or {@code cassandra}
 * @param tokenTtl how long a token is valid
 * @param sessionMax how long a session can be renewed, from its login
 * @param keyRotation how long a signing key signs
 * @param maxUsers (memory store) users at most
 * @param maxSessions (memory store) live sessions at most
 * @param bootstrapAdminPassword the first administrator's password, or null (never logged)
 * @param throttle the failed-login rules
 */
record LoginSettings(
    String store, Duration tokenTtl, Duration sessionMax, Duration keyRotation, int maxUsers, int maxSessions,
    String bootstrapAdminPassword, LoginThrottle.Rules throttle) {
  /** The variable naming the first administrator's password. */
  static final String BOOTSTRAP_VARIABLE = "SKIFF_BOOTSTRAP_ADMIN_PASSWORD";

  /** Checks the values. */
  LoginSettings {
    Objects.requireNonNull(store, "store");
    if (!store.equals("memory") && !store.equals("cassandra")) {
      throw new IllegalArgumentException("SKIFF_LOGIN_STORE must be 'memory' or 'cassandra', not '" + store + "'");
    }
    if (tokenTtl.compareTo(Duration.ofSeconds(1)) < 0 || tokenTtl.compareTo(sessionMax) > 0) {
      throw new IllegalArgumentException("SKIFF_LOGIN_TOKEN_TTL must be at least 1s and at most SKIFF_LOGIN_SESSION_MAX (" + sessionMax + ")");
    }
    if (keyRotation.compareTo(Duration.ofSeconds(1)) < 0) {
      throw new IllegalArgumentException("SKIFF_LOGIN_KEY_ROTATION must be at least 1s");
    }
    Objects.requireNonNull(throttle, "throttle");
  }

  /** @return the defaults (memory store, 15 min tokens, 12 h sessions, daily rotation, no bootstrap) */
  static LoginSettings defaults() {
    return fromEnvironment(Map.of());
  }

  /**
   * @param env environment variables
   * @return the settings they give (see the table above)
   * @throws IllegalArgumentException naming a variable whose value is invalid
   */
  static LoginSettings fromEnvironment(Map<String, String> env) {
    String store = EnvVars.nonBlank(env, "SKIFF_LOGIN_STORE").orElse("memory").toLowerCase(Locale.ROOT);
    return new LoginSettings(store,
        EnvVars.positiveDuration(env, "SKIFF_LOGIN_TOKEN_TTL", Duration.ofMinutes(15)),
        EnvVars.positiveDuration(env, "SKIFF_LOGIN_SESSION_MAX", Duration.ofHours(12)),
        EnvVars.positiveDuration(env, "SKIFF_LOGIN_KEY_ROTATION", Duration.ofHours(24)),
        EnvVars.positiveInt(env, "SKIFF_LOGIN_MAX_USERS", 10_000),
        EnvVars.positiveInt(env, "SKIFF_LOGIN_MAX_SESSIONS", 100_000),
        EnvVars.nonBlank(env, BOOTSTRAP_VARIABLE).orElse(null),
        LoginThrottle.Rules.defaults());
  }

  /** @return a copy with another token lifetime */
  LoginSettings withTokenTtl(Duration ttl) {
    return new LoginSettings(store, ttl, sessionMax, keyRotation, maxUsers, maxSessions, bootstrapAdminPassword, throttle);
  }

  /** @return a copy with another session maximum */
  LoginSettings withSessionMax(Duration max) {
    return new LoginSettings(store, tokenTtl, max, keyRotation, maxUsers, maxSessions, bootstrapAdminPassword, throttle);
  }

  /** @return a copy with another key rotation period */
  LoginSettings withKeyRotation(Duration rotation) {
    return new LoginSettings(store, tokenTtl, sessionMax, rotation, maxUsers, maxSessions, bootstrapAdminPassword, throttle);
  }

  /** @return a copy with a bootstrap password (null for none) */
  LoginSettings withBootstrapAdminPassword(String password) {
    return new LoginSettings(store, tokenTtl, sessionMax, keyRotation, maxUsers, maxSessions, password, throttle);
  }

  /** @return a copy with other throttle rules */
  LoginSettings withThrottle(LoginThrottle.Rules rules) {
    return new LoginSettings(store, tokenTtl, sessionMax, keyRotation, maxUsers, maxSessions, bootstrapAdminPassword, rules);
  }

  /** @return a description without the bootstrap password */
  @Override
  public String toString() {
    return "LoginSettings[store " + store + ", token TTL " + tokenTtl + ", session max " + sessionMax + ", key rotation " + keyRotation
        + ", bootstrap admin " + (bootstrapAdminPassword == null ? "unset" : "set") + "]";
  }
}
