package dev.skiff.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;

/**
 * A real headless Chromium for tests of web pages: loads a page, lets its scripts run, and returns the
 * resulting DOM or a screenshot. Uses Debian's {@code chromium} (installed by the project's scripts);
 * {@link #assumeAvailable()} skips a test where it is absent.
 *
 * <pre>{@code
 * String dom = HeadlessChromium.dumpDom("http://localhost:8090/", Duration.ofSeconds(5));
 * HeadlessChromium.screenshot("http://localhost:8090/", Path.of("target/dashboard.png"), Duration.ofSeconds(5));
 * }</pre>
 */
public final class HeadlessChromium {
  private static final String[] CANDIDATES = {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"};

  private HeadlessChromium() {}

  /** @return the browser binary, or null when none is installed */
  public static Path binary() {
    String env = System.getenv("SKIFF_CHROMIUM");
    if (env != null && Files.isExecutable(Path.of(env))) {
      return Path.of(env);
    }
    for (String c : CANDIDATES) {
      if (Files.isExecutable(Path.of(c))) {
        return Path.of(c);
      }
    }
    return null;
  }

  /** Skips the calling test (JUnit assumption) when no Chromium is installed. */
  public static void assumeAvailable() {
    Assumptions.assumeTrue(binary() != null, "no headless Chromium: install Debian's chromium (scripts/test.sh does)");
  }

  /**
   * Loads a page and returns its DOM after its scripts ran for up to {@code budget} of virtual time.
   *
   * @param url the page
   * @param budget how long the page's timers and fetches may run
   * @return the serialised DOM
   */
  public static String dumpDom(String url, Duration budget) {
    return run(List.of("--dump-dom", url), budget);
  }

  /**
   * Loads a page and saves a PNG screenshot of it.
   *
   * @param url the page
   * @param file where to save it (parent folders are created)
   * @param budget how long the page's scripts may run first
   */
  public static void screenshot(String url, Path file, Duration budget) {
    try {
      Files.createDirectories(file.toAbsolutePath().getParent());
    } catch (IOException e) {
      throw new IllegalStateException("cannot create " + file.getParent(), e);
    }
    run(List.of("--window-size=1280,900", "--screenshot=" + file.toAbsolutePath(), url), budget);
    if (!Files.exists(file)) {
      throw new IllegalStateException("Chromium wrote no screenshot to " + file);
    }
  }

  private static String run(List<String> args, Duration budget) {
    Path bin = binary();
    if (bin == null) {
      throw new IllegalStateException("no Chromium installed (looked for " + String.join(", ", CANDIDATES) + ")");
    }
    Path profile;
    try {
      profile = Files.createTempDirectory("skiff-chromium");
    } catch (IOException e) {
      throw new IllegalStateException("cannot create a profile folder", e);
    }
    List<String> cmd = new ArrayList<>(List.of(
        bin.toString(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--user-data-dir=" + profile, "--virtual-time-budget=" + budget.toMillis()));
    cmd.addAll(args);
    try {
      Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
      byte[] out = p.getInputStream().readAllBytes();
      if (!p.waitFor(budget.toMillis() + 60_000, TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        throw new IllegalStateException("Chromium did not finish: " + cmd);
      }
      return new String(out, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalStateException("cannot run Chromium: " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } finally {
      try (Stream<Path> files = Files.walk(profile)) {
        files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
      } catch (IOException e) {
        // a leftover temp profile is harmless
      }
    }
  }
}
