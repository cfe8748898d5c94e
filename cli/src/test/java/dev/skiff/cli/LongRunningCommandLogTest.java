package dev.skiff.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The log of {@code skiff kernel} (and {@code skiff gateway}, which sets it the same way) is a service's:
 * INFO lines, each with its time and thread, where a short command logs warnings only. Run as processes of
 * their own, since SLF4J's simple logger reads its settings once per JVM.
 */
class LongRunningCommandLogTest {
  /** A service's log line: {@code 01:15:27.899 [main] INFO dev.skiff.kernel.config.ConfigService - ...}. */
  private static final Pattern TIMED_INFO = Pattern.compile("^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} \\[[^\\]]+\\] INFO dev\\.skiff\\.kernel\\..+");
  private static final String END = "\u0000end";

  /** Starts {@code skiff ARGS} in a JVM of its own, on the tests' broker, with these JVM options first. */
  private static Process skiff(List<String> jvmOptions, String... args) throws IOException {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(jvmOptions);
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(SkiffCli.class.getName());
    command.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(command).redirectOutput(ProcessBuilder.Redirect.DISCARD);
    pb.environment().put("SKIFF_AMQP_URI", EchoService.brokerUri());
    pb.environment().remove("SKIFF_JAVA_OPTS");
    // no session: a short command is refused (and says so on stderr) whoever runs the tests
    Path noSession = Path.of(System.getProperty("java.io.tmpdir"), "skiff-no-session-" + System.nanoTime());
    pb.environment().put("SKIFF_TOKEN_FILE", noSession.toString());
    return pb.start();
  }

  /** @return the process's stderr, line by line, then {@link #END} */
  private static BlockingQueue<String> lines(Process p) {
    BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    Thread reader = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8))) {
        for (String line = r.readLine(); line != null; line = r.readLine()) {
          lines.add(line);
        }
      } catch (IOException e) {
        lines.add("(reading failed: " + e + ")");
      }
      lines.add(END);
    }, "skiff-stderr");
    reader.setDaemon(true);
    reader.start();
    return lines;
  }

  /** @return the first line matching, or fails with every line seen */
  private static String awaitLine(BlockingQueue<String> lines, Pattern pattern, Duration within) throws InterruptedException {
    List<String> seen = new ArrayList<>();
    long deadline = System.nanoTime() + within.toNanos();
    while (System.nanoTime() < deadline) {
      String line = lines.poll(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
      if (line == null || line.equals(END)) {
        break;
      }
      if (pattern.matcher(line).matches()) {
        return line;
      }
      seen.add(line);
    }
    throw new AssertionError("no line matching " + pattern + " within " + within + "; stderr: " + seen);
  }

  private static void stop(Process p) throws InterruptedException {
    p.destroy();
    if (!p.waitFor(20, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      p.waitFor(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void theKernelLogsItsStartAtInfoWithTheTimeAndThreadAsAServiceDoes() throws Exception {
    Process kernel = skiff(List.of(), "kernel", "--http-port", "0", "config");
    try {
      String line = awaitLine(lines(kernel), TIMED_INFO, Duration.ofSeconds(30));
      assertThat(line).contains("dev.skiff.kernel.config.ConfigService - config service:");
    } finally {
      stop(kernel);
    }
  }

  @Test
  void aLogSettingTheUserGaveIsKept() throws Exception {
    Process kernel = skiff(List.of("-Dorg.slf4j.simpleLogger.showDateTime=false"), "kernel", "--http-port", "0", "config");
    try {
      String line = awaitLine(lines(kernel), Pattern.compile("^(\\[[^\\]]+\\] )?INFO dev\\.skiff\\.kernel\\..+|^\\d\\d:\\d\\d.+"),
          Duration.ofSeconds(30));
      assertThat(line).as("no time: the user's setting wins").startsWith("[").doesNotMatch("^\\d.*");
    } finally {
      stop(kernel);
    }
  }

  @Test
  void aShortCommandStillLogsNoInfoLines() throws Exception {
    Process get = skiff(List.of(), "config", "get");
    BlockingQueue<String> lines = lines(get);
    assertThat(get.waitFor(60, TimeUnit.SECONDS)).as("skiff config get ended").isTrue();
    List<String> all = new ArrayList<>();
    for (String line = lines.poll(10, TimeUnit.SECONDS); line != null && !line.equals(END); line = lines.poll(10, TimeUnit.SECONDS)) {
      all.add(line);
    }
    assertThat(all).as("its stderr").isNotEmpty().noneMatch(l -> l.contains("INFO"));
  }
}
