package dev.skiff.service.cassandra;

import dev.skiff.service.Scripts;
import dev.skiff.service.TestStores;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * A Cassandra node of a test's own, on ports of its own, run by the project's
 * scripts/cassandra/cassandra.sh (the same JVM flags as the shared node) so a test can stop and start
 * it without touching the shared one. A node still running when the JVM exits is killed then.
 */
public final class CassandraProcess implements AutoCloseable {
  private static final Path SCRIPT = Scripts.of("cassandra/cassandra.sh");

  /** Where the node keeps its data and logs. */
  public final Path dir;
  final int nativePort = TestStores.freePort();
  final int storagePort = TestStores.freePort();

  /** @param dir where the node keeps its data (started at once) */
  public CassandraProcess(Path dir) {
    this(dir, true);
  }

  /**
   * @param dir where the node keeps its data
   * @param startNow whether to start it now (otherwise its ports are chosen and nothing answers on
   *     them until {@link #start()})
   */
  public CassandraProcess(Path dir, boolean startNow) {
    this.dir = dir;
    Runtime.getRuntime().addShutdownHook(new Thread(() -> pid().ifPresent(ProcessHandle::destroyForcibly), "kill-test-cassandra"));
    if (startNow) {
      start();
    }
  }

  private Optional<ProcessHandle> pid() {
    try {
      Path file = dir.resolve("cassandra.pid");
      return Files.exists(file) ? ProcessHandle.of(Long.parseLong(Files.readString(file).trim())) : Optional.empty();
    } catch (IOException | NumberFormatException e) {
      return Optional.empty();
    }
  }

  /** Kills the node (SIGKILL: no drain, no flush) and returns once the process is gone. */
  public void kill() {
    pid().ifPresent(p -> {
      p.destroyForcibly();
      p.onExit().orTimeout(Duration.ofSeconds(30).toSeconds(), TimeUnit.SECONDS).join();
    });
  }

  /** @return whether the node answers a CQL OPTIONS request now (as cassandra.sh start waits for) */
  public boolean answers() {
    return CqlProbe.anyAnswers(List.of(new java.net.InetSocketAddress("127.0.0.1", nativePort)), Duration.ofSeconds(1));
  }

  /** @return host:port of the node's CQL port */
  public String address() {
    return "127.0.0.1:" + nativePort;
  }

  /** Starts the node (its data stays in {@link #dir}) and returns once it answers CQL. */
  public void start() {
    run("start", dir.toString(), Integer.toString(nativePort), Integer.toString(storagePort));
  }

  /** Stops the node (SIGTERM) and returns once the process is gone. */
  public void stop() {
    run("stop", dir.toString());
  }

  private void run(String... args) {
    Scripts.run(SCRIPT, Map.of(), Duration.ofSeconds(180), dir.resolve("logs"), args);
  }

  @Override
  public void close() {
    stop();
  }
}
