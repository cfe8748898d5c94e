package dev.skiff.platform;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.awaitility.core.ConditionTimeoutException;

/**
 * A RabbitMQ node of this test JVM's own, for the tests that stop, kill and restart their broker (the
 * platform's fault tests, the kernel's routing tests): never the broker that every other test, and every
 * other test run on the machine, shares. Like that shared broker (scripts/services.sh), it runs the
 * consistent-hash exchange plugin that version routing needs.
 *
 * <p>Started on first use ({@link #privateNode()}) from the machine's RabbitMQ installation (the one
 * scripts/test.sh installs), with node name {@code skiff-fault-PID@localhost}, a free port on
 * 127.0.0.1 and its data under a temporary folder; stopped and deleted when the JVM exits. Nodes left
 * by a JVM that died without stopping its own are stopped at the next start. When RabbitMQ is not
 * installed or the node does not start, the test fails saying why: it never skips.
 */
public final class Broker {
  private static final Pattern FAULT_NODE = Pattern.compile("name (skiff-fault-(\\d+)) at port");
  private static Broker privateNode;

  private final String node;
  private final int port;
  private final Path base;
  private final Map<String, String> env = new HashMap<>();

  private Broker(int port, Path base) {
    this.node = "skiff-fault-" + ProcessHandle.current().pid() + "@localhost";
    this.port = port;
    this.base = base;
    env.put("RABBITMQ_NODENAME", node);
    env.put("RABBITMQ_NODE_PORT", Integer.toString(port));
    env.put("RABBITMQ_DIST_PORT", Integer.toString(port + 20000));
    env.put("RABBITMQ_MNESIA_BASE", base.resolve("mnesia").toString());
    env.put("RABBITMQ_LOG_BASE", base.resolve("log").toString());
    env.put("RABBITMQ_CONFIG_FILE", base.resolve("rabbitmq").toString());
    env.put("RABBITMQ_ENABLED_PLUGINS_FILE", base.resolve("enabled_plugins").toString());
    env.put("RABBITMQ_PID_FILE", base.resolve("pid").toString());
  }

  /**
   * The test JVM's private node, started on the first call.
   *
   * @return the running node
   * @throws IllegalStateException if it cannot be started (RabbitMQ missing, no free port)
   */
  public static synchronized Broker privateNode() {
    if (privateNode == null) {
      stopOrphans();
      Broker b = new Broker(freePortPair(), createBase());
      b.writeConfig();
      Runtime.getRuntime().addShutdownHook(new Thread(b::destroy, "stop-fault-broker"));
      b.startNode();
      privateNode = b;
    }
    return privateNode;
  }

  /** @return the AMQP URI of this node */
  public String uri() {
    return "amqp://guest:guest@127.0.0.1:" + port;
  }

  /** Stops the RabbitMQ application; the Erlang VM stays up. */
  public void stopApp() {
    ctl(60, "stop_app");
  }

  /** Starts the RabbitMQ application again and waits until it answers AMQP. */
  public void startApp() {
    ctl(60, "start_app");
    awaitReady(Duration.ofSeconds(60));
  }

  /** Stops the whole node. */
  public void stopNode() {
    ctl(60, "stop");
  }

  /** Kills the node's VM with SIGKILL and waits until it is gone. */
  public void killNode() {
    long pid = Long.parseLong(ctl(30, "eval", "os:getpid().").trim().replace("\"", ""));
    ProcessHandle vm = ProcessHandle.of(pid).orElseThrow(() -> new IllegalStateException("no process " + pid));
    vm.destroyForcibly();
    vm.onExit().orTimeout(30, TimeUnit.SECONDS).join();
  }

  /** Starts the node (detached) and waits until it answers AMQP. */
  public void startNode() {
    run(env, 60, "rabbitmq-server", "-detached");
    awaitReady(Duration.ofSeconds(90));
  }

  /**
   * Brings the node back to serving, whatever a test left it in: application stopped, VM stopped or
   * killed.
   */
  public void restoreService() {
    if (isReady()) {
      return;
    }
    try {
      startApp(); // the VM may still be up with the application stopped
    } catch (IllegalStateException vmDown) {
      startNode();
    }
  }

  /** @return whether the node's application runs and its AMQP port accepts connections */
  public boolean isReady() {
    try {
      ctl(10, "await_startup", "--timeout", "2");
    } catch (IllegalStateException e) {
      return false;
    }
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  private void awaitReady(Duration max) {
    try {
      await().atMost(max).pollInterval(Duration.ofMillis(250)).until(this::isReady);
    } catch (ConditionTimeoutException e) {
      throw new IllegalStateException("the private RabbitMQ node " + node + " did not come up within " + max
          + "; its logs are in " + base.resolve("log"), e);
    }
  }

  private String ctl(int timeoutSeconds, String... args) {
    String[] cmd = new String[args.length + 4];
    cmd[0] = "rabbitmqctl";
    cmd[1] = "-q";
    cmd[2] = "-n";
    cmd[3] = node;
    System.arraycopy(args, 0, cmd, 4, args.length);
    return run(env, timeoutSeconds, cmd);
  }

  private void writeConfig() {
    try {
      Files.createDirectories(base.resolve("mnesia"));
      Files.createDirectories(base.resolve("log"));
      Files.writeString(base.resolve("rabbitmq.conf"),
          "listeners.tcp.local = 127.0.0.1:" + port + "\nloopback_users = none\n");
      Files.writeString(base.resolve("enabled_plugins"), "[rabbitmq_consistent_hash_exchange].\n");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    // as root, Debian's scripts run the broker as the rabbitmq user, which must own its folders
    if ("root".equals(System.getProperty("user.name"))) {
      run(Map.of(), 30, "chown", "-R", "rabbitmq:", base.toString());
    }
  }

  private void destroy() {
    try {
      ctl(60, "stop");
    } catch (RuntimeException e) {
      // already down
    }
    deleteTree(base);
  }

  /** Stops the fault nodes of test JVMs that are gone (killed before their shutdown hook ran). */
  private static void stopOrphans() {
    String names;
    try {
      names = run(Map.of(), 10, "epmd", "-names");
    } catch (IllegalStateException e) {
      return; // no Erlang node runs at all
    }
    Matcher m = FAULT_NODE.matcher(names);
    while (m.find()) {
      long pid = Long.parseLong(m.group(2));
      if (ProcessHandle.of(pid).isEmpty()) {
        try {
          run(Map.of(), 60, "rabbitmqctl", "-q", "-n", m.group(1) + "@localhost", "stop");
        } catch (IllegalStateException e) {
          // it went by itself
        }
      }
    }
  }

  private static Path createBase() {
    try {
      return Files.createTempDirectory("skiff-fault-broker-");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** @return a port free on 127.0.0.1 whose Erlang distribution port (+20000) is free as well */
  private static int freePortPair() {
    for (int attempt = 0; attempt < 50; attempt++) {
      int p;
      try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
        p = s.getLocalPort();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      if (p + 20000 < 65536 && free(p + 20000)) {
        return p;
      }
    }
    throw new IllegalStateException("no free pair of ports for a private RabbitMQ node");
  }

  private static boolean free(int port) {
    try (ServerSocket s = new ServerSocket(port)) {
      return s.isBound();
    } catch (IOException e) {
      return false;
    }
  }

  private static void deleteTree(Path dir) {
    try (Stream<Path> files = Files.walk(dir)) {
      for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      // a temporary folder: best effort
    }
  }

  private static String run(Map<String, String> env, int timeoutSeconds, String... cmd) {
    try {
      ProcessBuilder pb = new ProcessBuilder(List.of(cmd)).redirectErrorStream(true);
      pb.environment().putAll(env);
      Process p = pb.start();
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
      throw new IllegalStateException("cannot run " + String.join(" ", cmd) + " (is RabbitMQ installed? scripts/test.sh installs it): " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }
}
