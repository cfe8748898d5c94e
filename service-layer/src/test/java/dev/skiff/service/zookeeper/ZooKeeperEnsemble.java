package dev.skiff.service.zookeeper;

import dev.skiff.service.Scripts;
import dev.skiff.service.TestStores;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.IntStream;

/**
 * A 3-member ZooKeeper ensemble of a test's own, run by the project's scripts/zookeeper/ensemble.sh on
 * 127.0.0.1 with free client, peer and election ports, data in a folder of the test's. Members can be
 * killed (SIGKILL) and started again; closing it stops all three, and a member still running when the JVM
 * exits is killed then.
 */
final class ZooKeeperEnsemble implements AutoCloseable {
  private static final Path SCRIPT = Scripts.of("zookeeper/ensemble.sh");

  private final Path dir;
  private final List<Integer> clientPorts = ports();
  private final List<Integer> peerPorts = ports();
  private final List<Integer> electionPorts = ports();

  /** @param dir where the members keep their data (started at once: returns once each serves) */
  ZooKeeperEnsemble(Path dir) {
    this.dir = dir;
    Runtime.getRuntime().addShutdownHook(new Thread(this::killAll, "kill-test-zookeeper-ensemble"));
    run("start", dir.toString());
  }

  private static List<Integer> ports() {
    return IntStream.range(0, 3).mapToObj(i -> TestStores.freePort()).toList();
  }

  /** @return the connect string of all three, for {@code zookeeper.hosts} */
  String hosts() {
    return String.join(",", clientPorts.stream().map(p -> "127.0.0.1:" + p).toList());
  }

  /**
   * @param clientPort a client port
   * @return the member (1 to 3) that listens there
   */
  int memberOn(int clientPort) {
    int i = clientPorts.indexOf(clientPort);
    if (i < 0) {
      throw new IllegalArgumentException("no member listens on " + clientPort + " (" + hosts() + ")");
    }
    return i + 1;
  }

  /** Kills member N (SIGKILL: as a crash) and returns once its process is gone. */
  void kill(int member) {
    run("kill-member", Integer.toString(member), dir.toString());
  }

  /** Starts member N again and returns once it serves. */
  void start(int member) {
    run("start-member", Integer.toString(member), dir.toString());
  }

  /** @return one line per member: port, pid, mode (leader, follower, down) */
  String status() {
    return run("status", dir.toString());
  }

  /** @return the member (1 to 3) that is the ensemble's leader now */
  int leader() {
    return leaderNow().orElseThrow(() -> new IllegalStateException("no leader: " + status()));
  }

  /** @return the member (1 to 3) that is the ensemble's leader now, if one is (the ensemble serves) */
  Optional<Integer> leaderNow() {
    for (String line : status().split("\n")) {
      String[] f = line.trim().split("\\s+");
      if (f.length > 0 && f[f.length - 1].equals("leader")) {
        return Optional.of(Integer.parseInt(f[0].substring("member".length())));
      }
    }
    return Optional.empty();
  }

  private void killAll() {
    for (int n = 1; n <= 3; n++) {
      Scripts.killByPidFile(dir.resolve("member" + n).resolve("zookeeper.pid"));
    }
  }

  private String run(String... args) {
    return Scripts.run(SCRIPT, Map.of(
        "SKIFF_ZK_CLIENT_PORTS", join(clientPorts),
        "SKIFF_ZK_PEER_PORTS", join(peerPorts),
        "SKIFF_ZK_ELECTION_PORTS", join(electionPorts)), Duration.ofSeconds(120), dir, args);
  }

  private static String join(List<Integer> ports) {
    return String.join(" ", ports.stream().map(String::valueOf).toList());
  }

  @Override
  public void close() {
    run("stop", dir.toString());
  }
}
