package dev.skiff.platform;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * {@link WaitingService} run as a process of its own, as a supervisor would start it: this test JVM's
 * class path, only the given {@code SKIFF_} variables, standard error merged into the output, which is
 * collected line by line as it comes. Closing it kills the process.
 */
public final class WaitingServiceProcess implements AutoCloseable {
  private final Process process;
  private final List<String> lines = new CopyOnWriteArrayList<>();
  private final Thread reader;

  private WaitingServiceProcess(Process process) {
    this.process = process;
    BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    reader = new Thread(() -> out.lines().forEach(lines::add), "waiting-service-output");
    reader.setDaemon(true);
    reader.start();
  }

  /** Starts the service with these environment variables and no other {@code SKIFF_} one. */
  public static WaitingServiceProcess start(Map<String, String> env) throws IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    ProcessBuilder pb = new ProcessBuilder(java, "-Xmx128m", "-cp", System.getProperty("java.class.path"), WaitingService.class.getName())
        .redirectErrorStream(true);
    pb.environment().keySet().removeIf(k -> k.startsWith("SKIFF_"));
    pb.environment().putAll(env);
    return new WaitingServiceProcess(pb.start());
  }

  /** The lines printed so far. */
  public List<String> lines() {
    return lines;
  }

  /** Everything printed so far, one line after another. */
  public String output() {
    return String.join("\n", lines);
  }

  public boolean isAlive() {
    return process.isAlive();
  }

  /**
   * Waits for the process to exit and its output to be read to the end.
   *
   * @return the exit code, or empty when it was still running after {@code within}
   */
  public OptionalInt awaitExit(Duration within) throws InterruptedException {
    if (!process.waitFor(within.toMillis(), TimeUnit.MILLISECONDS)) {
      return OptionalInt.empty();
    }
    reader.join(TimeUnit.SECONDS.toMillis(10));
    return OptionalInt.of(process.exitValue());
  }

  @Override
  public void close() {
    process.destroyForcibly();
  }
}
