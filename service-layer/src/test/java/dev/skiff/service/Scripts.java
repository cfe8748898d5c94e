package dev.skiff.service;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs one of the project's scripts (scripts/cassandra/cassandra.sh, ring.sh, scripts/zookeeper/ensemble.sh)
 * for a test's nodes of its own: its standard error goes to the test's output, a time limit is kept, and a
 * failure names the script, its arguments and where to look.
 */
public final class Scripts {
  private Scripts() {}

  /**
   * @param name the script's path below {@code scripts/}, e.g. {@code cassandra/ring.sh}
   * @return the script, found from a module's folder (where Maven runs its tests) upwards, so that a
   *     module of {@code examples/} finds it too
   */
  public static Path of(String name) {
    Path here = Path.of("").toAbsolutePath();
    for (Path d = here; d != null; d = d.getParent()) {
      Path script = d.resolve("scripts").resolve(name);
      if (Files.isRegularFile(script)) {
        return script.normalize();
      }
    }
    return Path.of("..", "scripts").resolve(name).toAbsolutePath().normalize();
  }

  /**
   * Kills (SIGKILL) the process whose id a script left in a pid file, if it runs: what a test does to
   * nodes a failed or interrupted script may have left behind.
   *
   * @param pidFile the pid file; nothing happens when it is missing or does not hold a number
   */
  public static void killByPidFile(Path pidFile) {
    try {
      if (Files.exists(pidFile)) {
        ProcessHandle.of(Long.parseLong(Files.readString(pidFile).trim())).ifPresent(ProcessHandle::destroyForcibly);
      }
    } catch (IOException | NumberFormatException e) {
      // nothing to kill
    }
  }

  /**
   * @param script the script
   * @param env variables added to this process's environment
   * @param limit how long it may take
   * @param see where its logs are, for the failure's message
   * @param args its arguments (the first is its command)
   * @return what it printed on standard output
   * @throws IllegalStateException when it cannot run, fails or takes longer than the limit
   */
  public static String run(Path script, Map<String, String> env, Duration limit, Path see, String... args) {
    List<String> cmd = new ArrayList<>(List.of("bash", script.toString()));
    cmd.addAll(List.of(args));
    String name = script.getFileName().toString();
    try {
      ProcessBuilder b = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT);
      b.environment().putAll(env);
      Process p = b.start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(limit.toSeconds(), TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IllegalStateException(name + " " + args[0] + " did not finish in " + limit.toSeconds() + " s");
      }
      if (p.exitValue() != 0) {
        throw new IllegalStateException(name + " " + String.join(" ", args) + " failed (exit " + p.exitValue() + "); see " + see);
      }
      return out;
    } catch (IOException e) {
      throw new IllegalStateException("cannot run " + script + ": " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }
}
