package dev.skiff.service.zookeeper;

import static org.awaitility.Awaitility.await;

import dev.skiff.service.TestStores;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * A standalone ZooKeeper server process of a test's own, on a free port, that the test may stop, kill
 * (SIGKILL) and start again: never the shared server other tests use. It runs the machine's ZooKeeper
 * installation as scripts/services.sh installs it ({@code /usr/share/java/zookeeper.jar}), with a 500 ms
 * tick (sessions of 1 s to 10 s) and its data (sessions included) kept across restarts in a temporary
 * folder deleted at close. When ZooKeeper is not installed the test fails saying why: it never skips.
 */
final class ZooKeeperProcess implements AutoCloseable {
  private static final Path JAR = Path.of("/usr/share/java/zookeeper.jar");

  final int port;
  private final Path dir;
  private final Thread cleanup;
  private Process process;

  ZooKeeperProcess() {
    this(true);
  }

  /** @param start whether to start it now (else {@link #start()} later) */
  ZooKeeperProcess(boolean start) {
    if (!Files.isRegularFile(JAR)) {
      throw new IllegalStateException("ZooKeeper is not installed at " + JAR + ": run the tests with scripts/test.sh, which installs it");
    }
    this.port = TestStores.freePort();
    try {
      this.dir = Files.createTempDirectory("skiff-zk-" + port + "-");
      Files.writeString(dir.resolve("zoo.cfg"), String.join("\n",
          "tickTime=500",
          "initLimit=10",
          "syncLimit=5",
          "dataDir=" + dir.resolve("data"),
          "clientPort=" + port,
          "clientPortAddress=127.0.0.1",
          "maxClientCnxns=0",
          "admin.enableServer=false",
          "4lw.commands.whitelist=srvr,ruok",
          "forceSync=no",
          ""));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    cleanup = new Thread(this::destroy, "stop-zookeeper-" + port);
    Runtime.getRuntime().addShutdownHook(cleanup);
    if (start) {
      start();
    }
  }

  /** @return the connect string, {@code 127.0.0.1:PORT} */
  String address() {
    return "127.0.0.1:" + port;
  }

  /** Starts the server and waits until it serves ({@code ruok} answered {@code imok}). */
  synchronized void start() {
    startNoWait();
    await("ZooKeeper on " + port).atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(50)).until(this::serves);
  }

  /** Starts the server and returns at once, while it is still starting. */
  synchronized void startNoWait() {
    if (process != null && process.isAlive()) {
      throw new IllegalStateException("ZooKeeper on " + port + " is running");
    }
    List<String> cmd = List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx128m", "-XX:+UseSerialGC", "-Xshare:auto",
        "-Dzookeeper.log.dir=" + dir, "-cp", "/etc/zookeeper/conf:" + JAR,
        "org.apache.zookeeper.server.quorum.QuorumPeerMain", dir.resolve("zoo.cfg").toString());
    try {
      process = new ProcessBuilder(cmd).redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("zookeeper.log").toFile())).start();
    } catch (IOException e) {
      throw new IllegalStateException("cannot run ZooKeeper: " + e, e);
    }
  }

  /** @return whether the server answers {@code ruok} with {@code imok} now */
  boolean serves() {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 500);
      s.setSoTimeout(500);
      OutputStream out = s.getOutputStream();
      out.write("ruok".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = s.getInputStream();
      return new String(in.readNBytes(4), StandardCharsets.US_ASCII).equals("imok");
    } catch (IOException e) {
      return false;
    }
  }

  /** Stops the server as an operator would (SIGTERM) and waits until it is gone. */
  synchronized void stop() {
    end(false);
  }

  /** Kills the server at once (SIGKILL), as a crash would. */
  synchronized void kill() {
    end(true);
  }

  private void end(boolean force) {
    if (process == null) {
      return;
    }
    if (force) {
      process.destroyForcibly();
    } else {
      process.destroy();
    }
    try {
      process.waitFor();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private synchronized void destroy() {
    kill();
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // a temporary folder: left for the system to clean
    }
  }

  @Override
  public void close() {
    destroy();
    try {
      Runtime.getRuntime().removeShutdownHook(cleanup);
    } catch (IllegalStateException e) {
      // the JVM is exiting: the hook runs anyway
    }
  }
}
