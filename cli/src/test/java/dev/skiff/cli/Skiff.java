package dev.skiff.cli;

import static org.awaitility.Awaitility.await;

import java.io.ByteArrayInputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/** Runs the skiff command in this JVM and captures what it prints. */
final class Skiff {
  private Skiff() {}

  /**
   * The outcome of one run.
   *
   * @param exitCode the exit code
   * @param out what went to stdout
   * @param err what went to stderr
   * @param elapsed how long the run took, connecting included
   */
  record Result(int exitCode, String out, String err, Duration elapsed) {
    @Override
    public String toString() {
      return "exit " + exitCode + " after " + elapsed.toMillis() + " ms\n--- stdout\n" + out + "--- stderr\n" + err;
    }
  }

  static Result run(Map<String, String> env, String... args) {
    return runWithInput(env, "", args);
  }

  /** Runs it with {@code input} as its standard input (e.g. a password line). */
  static Result runWithInput(Map<String, String> env, String input, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    long t0 = System.nanoTime();
    int code = SkiffCli.run(args, new ByteArrayInputStream(input.getBytes(StandardCharsets.UTF_8)), new PrintWriter(out, true),
        new PrintWriter(err, true), env);
    return new Result(code, out.toString(), err.toString(), Duration.ofNanos(System.nanoTime() - t0));
  }

  static Result run(String... args) {
    return run(EchoService.env(), args);
  }

  /**
   * @param tokenFile where {@code skiff login} is to keep the session
   * @return the tests' environment ({@link EchoService#env()}) with that session file
   */
  static Map<String, String> envWithTokenFile(Path tokenFile) {
    Map<String, String> env = new HashMap<>(EchoService.env());
    env.put("SKIFF_TOKEN_FILE", tokenFile.toString());
    return env;
  }

  /**
   * Runs {@code skiff login USER} with the password on stdin until the login service answers (a kernel
   * just started may not listen yet); fails after 30 s.
   *
   * @return the first run the service answered, signed in or refused
   */
  static Result login(Map<String, String> env, String user, String password) {
    return await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200))
        .until(() -> runWithInput(env, password + "\n", "login", user), r -> r.exitCode() != SkiffCli.EXIT_CALL_FAILED);
  }
}
