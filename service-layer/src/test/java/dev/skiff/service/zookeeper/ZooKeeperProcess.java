package dev.skiff.service.zookeeper;

import dev.skiff.service.StoreProcess;
import dev.skiff.service.TestStores;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * A standalone ZooKeeper server process of a test's own, on a free port, that the test may stop, kill
 * (SIGKILL) and start again: never the shared server other tests use. It runs the machine's ZooKeeper
 * installation as scripts/services.sh installs it ({@code /usr/share/java/zookeeper.jar}), with a 500 ms
 * tick (sessions of 1 s to 10 s) and its data (sessions included) kept across restarts in a temporary
 * folder deleted at close. It serves when it answers {@code ruok} with {@code imok}. When ZooKeeper is not
 * installed the test fails saying why: it never skips.
 */
final class ZooKeeperProcess extends StoreProcess {
  private static final Path JAR = Path.of("/usr/share/java/zookeeper.jar");

  private final Path dir;
  private final Thread cleanup;

  ZooKeeperProcess() {
    this(true);
  }

  /** @param start whether to start it now (else {@link #start()} later) */
  ZooKeeperProcess(boolean start) {
    super("ZooKeeper", TestStores.freePort(), "ruok", "imok");
    if (!Files.isRegularFile(JAR)) {
      throw new IllegalStateException("ZooKeeper is not installed at " + JAR + ": run the tests with scripts/test.sh, which installs it");
    }
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

  @Override
  protected List<String> command() {
    return List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx128m", "-XX:+UseSerialGC",
        "-Dzookeeper.log.dir=" + dir, "-cp", "/etc/zookeeper/conf:" + JAR,
        "org.apache.zookeeper.server.quorum.QuorumPeerMain", dir.resolve("zoo.cfg").toString());
  }

  @Override
  protected ProcessBuilder.Redirect output() {
    return ProcessBuilder.Redirect.appendTo(dir.resolve("zookeeper.log").toFile());
  }

  private void destroy() {
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
