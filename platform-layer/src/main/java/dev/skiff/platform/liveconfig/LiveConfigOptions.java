package dev.skiff.platform.liveconfig;

import dev.skiff.platform.config.EnvVars;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * How an instance follows its configuration in the config service.
 *
 * <table>
 *   <caption>Environment variables ({@link #fromEnvironment()})</caption>
 *   <tr><th>variable</th><th>meaning</th><th>default</th></tr>
 *   <tr><td>SKIFF_REGION</td><td>the region this instance runs in: the layers {@code region/R} and
 *       {@code region/R/service/S} apply to it</td><td>none</td></tr>
 *   <tr><td>SKIFF_ENV</td><td>the environment (e.g. {@code staging}): the layers {@code env/E} and
 *       {@code env/E/service/S}</td><td>none</td></tr>
 *   <tr><td>SKIFF_CONFIG_CACHE_DIR</td><td>where the last good copy is kept ({@code off}: nowhere)</td>
 *       <td>{@code ~/.skiff/config-cache}</td></tr>
 *   <tr><td>SKIFF_CONFIG_RESYNC</td><td>how often the view is read again even without a change event
 *       (a lost event is made good by then)</td><td>30s</td></tr>
 * </table>
 *
 * @param region the region, if any (1-128 letters, digits, {@code .}, {@code _}, {@code -})
 * @param env the environment, if any (same rule)
 * @param cacheDir where the last good copy is kept; empty for nowhere
 * @param firstRead how long a start waits for the config service before using the last good copy
 * @param resync how often the view is read again without a change event
 */
public record LiveConfigOptions(Optional<String> region, Optional<String> env, Optional<Path> cacheDir, Duration firstRead, Duration resync) {
  /** How long a start waits for the config service by default. */
  public static final Duration DEFAULT_FIRST_READ = Duration.ofSeconds(2);
  /** How often the view is read again by default. */
  public static final Duration DEFAULT_RESYNC = Duration.ofSeconds(30);

  /** @throws IllegalArgumentException when a name or a duration is invalid */
  public LiveConfigOptions {
    region.ifPresent(r -> checkName("region", r));
    env.ifPresent(e -> checkName("environment", e));
    Objects.requireNonNull(cacheDir, "cacheDir");
    if (firstRead.isNegative() || firstRead.isZero() || resync.isNegative() || resync.isZero()) {
      throw new IllegalArgumentException("the first read's wait and the resync interval must be positive");
    }
  }

  /** @return no region or environment, no local copy, the default waits (for tests) */
  public static LiveConfigOptions defaults() {
    return new LiveConfigOptions(Optional.empty(), Optional.empty(), Optional.empty(), DEFAULT_FIRST_READ, DEFAULT_RESYNC);
  }

  /** @return the options this process's environment gives (see the class comment) */
  public static LiveConfigOptions fromEnvironment() {
    return fromEnvironment(System.getenv());
  }

  /**
   * @param env the variables to read
   * @return the options they give
   * @throws IllegalArgumentException naming a variable whose value is invalid
   */
  public static LiveConfigOptions fromEnvironment(Map<String, String> env) {
    Optional<String> dir = EnvVars.nonBlank(env, "SKIFF_CONFIG_CACHE_DIR");
    Optional<Path> cache = dir.isPresent()
        ? dir.filter(d -> !d.equals("off")).map(Path::of)
        : Optional.of(Path.of(System.getProperty("user.home"), ".skiff", "config-cache"));
    try {
      return new LiveConfigOptions(EnvVars.nonBlank(env, "SKIFF_REGION"), EnvVars.nonBlank(env, "SKIFF_ENV"), cache,
          DEFAULT_FIRST_READ, EnvVars.positiveDuration(env, "SKIFF_CONFIG_RESYNC", DEFAULT_RESYNC));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("SKIFF_REGION / SKIFF_ENV: " + e.getMessage(), e);
    }
  }

  /**
   * @param r the region
   * @return these options for that region
   */
  public LiveConfigOptions withRegion(String r) {
    return new LiveConfigOptions(Optional.of(r), env, cacheDir, firstRead, resync);
  }

  /**
   * @param e the environment
   * @return these options for that environment
   */
  public LiveConfigOptions withEnv(String e) {
    return new LiveConfigOptions(region, Optional.of(e), cacheDir, firstRead, resync);
  }

  /**
   * @param dir where to keep the last good copy
   * @return these options keeping it there
   */
  public LiveConfigOptions withCacheDir(Path dir) {
    return new LiveConfigOptions(region, env, Optional.of(dir), firstRead, resync);
  }

  /**
   * @param wait how long a start waits for the config service
   * @return these options with that wait
   */
  public LiveConfigOptions withFirstRead(Duration wait) {
    return new LiveConfigOptions(region, env, cacheDir, wait, resync);
  }

  private static void checkName(String what, String name) {
    boolean ok = !name.isEmpty() && name.length() <= 128 && !name.chars().allMatch(c -> c == '.');
    for (int i = 0; ok && i < name.length(); i++) {
      char c = name.charAt(i);
      ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    }
    if (!ok) {
      throw new IllegalArgumentException("a " + what + " is 1-128 letters, digits, '.', '_' or '-', not '" + name + "'");
    }
  }
}
