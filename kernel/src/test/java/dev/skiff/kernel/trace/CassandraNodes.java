package dev.skiff.kernel.trace;

import dev.skiff.platform.config.Config;
import dev.skiff.service.cassandra.CassandraClient;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * The Cassandra the trace store tests use: the shared node scripts/test.sh starts (SKIFF_CASSANDRA_HOSTS;
 * tests are skipped when it is unset, as the service layer's are), and nodes of a test's own, run by
 * scripts/cassandra/cassandra.sh, for tests that stop them.
 */
final class CassandraNodes {
  private CassandraNodes() {}

  /** @return host:port of the shared Cassandra, or the test is skipped */
  static String sharedHosts() {
    String v = System.getenv("SKIFF_CASSANDRA_HOSTS");
    Assumptions.assumeTrue(v != null && !v.isBlank(),
        "SKIFF_CASSANDRA_HOSTS is not set: run the tests with scripts/test.sh, which starts Cassandra and sets it");
    return v.trim();
  }

  /** @return a keyspace name of its own for a test */
  static String newKeyspace() {
    return "skiff_trace_t_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
  }

  /**
   * @param hosts the contact points
   * @param keyspace the keyspace
   * @param more further settings
   * @return the configuration of a store there: consistency ONE, schema changes seen at once
   */
  static Config config(String hosts, String keyspace, Map<String, String> more) {
    Map<String, String> m = new HashMap<>();
    m.put("cassandra.hosts", hosts);
    m.put("cassandra.consistency", "ONE");
    m.put("cassandra.driver.advanced.metadata.schema.debouncer.window", "0");
    m.put("trace.keyspace", keyspace);
    m.putAll(more);
    return Config.of(m);
  }

  /** @return a client of the shared node, for a test's own queries (TTLs) and clean-up */
  static CassandraClient client(String hosts) {
    return CassandraClient.builder().name("test").config(config(hosts, "x", Map.of())).build().start();
  }

  static void drop(String hosts, String keyspace) {
    try (CassandraClient c = client(hosts)) {
      c.session("system").driver().execute("DROP KEYSPACE IF EXISTS " + keyspace);
    }
  }

  static int freePort() {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A Cassandra node of a test's own on free ports, its data in {@code dir}, that the test may stop and start. */
  static final class OwnNode implements AutoCloseable {
    private static final Path SCRIPT = Path.of("..", "scripts", "cassandra", "cassandra.sh").toAbsolutePath().normalize();
    final Path dir;
    final int nativePort = freePort();
    final int storagePort = freePort();

    OwnNode(Path dir) {
      this.dir = dir;
      start();
    }

    String address() {
      return "127.0.0.1:" + nativePort;
    }

    void start() {
      run("start", dir.toString(), Integer.toString(nativePort), Integer.toString(storagePort));
    }

    void stop() {
      run("stop", dir.toString());
    }

    private void run(String... args) {
      List<String> cmd = new ArrayList<>(List.of("bash", SCRIPT.toString()));
      cmd.addAll(List.of(args));
      try {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.INHERIT).start();
        if (!p.waitFor(180, TimeUnit.SECONDS)) {
          p.destroyForcibly();
          throw new IllegalStateException("cassandra.sh " + args[0] + " did not finish in 180 s");
        }
        if (p.exitValue() != 0) {
          throw new IllegalStateException("cassandra.sh " + String.join(" ", args) + " failed (exit " + p.exitValue() + ")");
        }
      } catch (IOException e) {
        throw new IllegalStateException("cannot run " + SCRIPT + ": " + e, e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted", e);
      }
    }

    @Override
    public void close() {
      stop();
    }
  }
}
