package dev.skiff.service.cassandra;

import dev.skiff.service.Scripts;
import dev.skiff.service.TestStores;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * A 2- or 3-node Cassandra ring of a test's own, run by the project's scripts/cassandra/ring.sh: node 1
 * on 127.0.0.2, node 2 on 127.0.0.3 (node 3 on 127.0.0.4), all on the same two free ports (CQL and
 * storage), data in a folder of the test's. Its nodes can be stopped, killed and started again; closing it ends both, and a node still
 * running when the JVM exits is killed then.
 * Closing kills the nodes (SIGKILL): their data is the test's, thrown away, and a drain takes 10 s a node.
 * Public for the examples' ring tests (through this module's test-jar).
 */
public final class CassandraRing implements AutoCloseable {
  private static final Path SCRIPT = Scripts.of("cassandra/ring.sh");
  private static final List<String> ALL = List.of("127.0.0.2", "127.0.0.3", "127.0.0.4");

  private final List<String> addresses;
  private final Path dir;
  private final int nativePort = TestStores.freePort();
  private final int storagePort = TestStores.freePort();

  /**
   * @param dir where the nodes keep their data (started at once)
   * @param nodes 2 or 3
   */
  public CassandraRing(Path dir, int nodes) {
    if (nodes < 2 || nodes > ALL.size()) {
      throw new IllegalArgumentException("a ring of 2 or 3 nodes, not " + nodes);
    }
    this.addresses = ALL.subList(0, nodes);
    this.dir = dir;
    Runtime.getRuntime().addShutdownHook(new Thread(this::killAll, "kill-test-cassandra-ring"));
    run("start", dir.toString());
  }

  /** @return the contact points, for {@code cassandra.hosts} */
  public String hosts() {
    return String.join(",", addresses.stream().map(a -> a + ":" + nativePort).toList());
  }

  /** @param node 1 to the number of nodes @return its CQL address */
  public String address(int node) {
    return addresses.get(node - 1) + ":" + nativePort;
  }

  /** Stops node N (SIGTERM: it drains and tells the ring, as an operator's stop does). */
  public void stop(int node) {
    run("stop-node", Integer.toString(node), dir.toString());
  }

  /** Kills node N (SIGKILL, as a crash). */
  public void kill(int node) {
    run("kill-node", Integer.toString(node), dir.toString());
  }

  /** Starts node N again and returns once it answers CQL. */
  public void start(int node) {
    run("start-node", Integer.toString(node), dir.toString());
  }

  private void killAll() {
    for (int n = 1; n <= addresses.size(); n++) {
      Scripts.killByPidFile(dir.resolve("node" + n).resolve("cassandra.pid"));
    }
  }

  private void run(String... args) {
    Scripts.run(SCRIPT, Map.of(
        "SKIFF_RING_NATIVE_PORT", Integer.toString(nativePort),
        "SKIFF_RING_STORAGE_PORT", Integer.toString(storagePort),
        "SKIFF_RING_ADDRESSES", String.join(" ", addresses)), Duration.ofSeconds(240), dir, args);
  }

  @Override
  public void close() {
    for (int n = 1; n <= addresses.size(); n++) {
      kill(n);
    }
  }
}
