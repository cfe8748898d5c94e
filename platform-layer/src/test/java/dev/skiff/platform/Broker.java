package dev.skiff.platform;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * Stops, starts and kills the local RabbitMQ node, for fault tests. Tests that use it skip themselves
 * unless the broker is local and {@code rabbitmqctl} is at hand.
 */
final class Broker {
  private Broker() {}

  static void assumeLocalAndControllable() {
    String uri = AmqpRpcTest.brokerUri();
    Assumptions.assumeTrue(
        uri.contains("@localhost") || uri.contains("@127.0.0.1"), "the broker is not local: " + uri);
    Assumptions.assumeTrue(isReady(), "rabbitmqctl cannot reach the local broker");
  }

  /** Stops the RabbitMQ application; the Erlang VM stays up. */
  static void stopApp() {
    run(60, "rabbitmqctl", "-q", "stop_app");
  }

  /** Starts the RabbitMQ application again and waits until it answers AMQP. */
  static void startApp() {
    run(60, "rabbitmqctl", "-q", "start_app");
    awaitReady(Duration.ofSeconds(60));
  }

  /** Stops the whole node. */
  static void stopNode() {
    run(60, "rabbitmqctl", "-q", "stop");
  }

  /** Kills the node's VM with SIGKILL. */
  static void killNode() {
    String pid = run(30, "rabbitmqctl", "-q", "eval", "os:getpid().").trim().replace("\"", "");
    run(10, "kill", "-9", pid);
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (System.nanoTime() < until && new java.io.File("/proc/" + pid).exists()) {
      sleep(50);
    }
  }

  /** Starts the node (detached) and waits until it answers AMQP. */
  static void startNode() {
    run(30, "rabbitmq-server", "-detached");
    awaitReady(Duration.ofSeconds(90));
  }

  static boolean isReady() {
    try {
      run(10, "rabbitmqctl", "-q", "await_startup", "--timeout", "2");
    } catch (IllegalStateException e) {
      return false;
    }
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", 5672), 1000);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  static void awaitReady(Duration max) {
    long until = System.nanoTime() + max.toNanos();
    while (System.nanoTime() < until) {
      if (isReady()) {
        return;
      }
      sleep(250);
    }
    throw new IllegalStateException("RabbitMQ did not come back within " + max);
  }

  static String run(int timeoutSeconds, String... cmd) {
    try {
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IllegalStateException(String.join(" ", cmd) + " did not finish in " + timeoutSeconds + " s");
      }
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (p.exitValue() != 0) {
        throw new IllegalStateException(String.join(" ", cmd) + " exited " + p.exitValue() + ": " + out);
      }
      return out;
    } catch (IOException e) {
      throw new IllegalStateException("cannot run " + String.join(" ", cmd) + ": " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }
}
