package dev.skiff.platform;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The 3-node RabbitMQ cluster of {@code scripts/rabbitmq-cluster.sh}, driven by that script: started if it
 * does not run yet (and then stopped by {@link #stopIfStarted}), left as found otherwise; one node killed
 * with SIGKILL or started again. Fails, never skips, when the script cannot start it. Public (in the
 * platform's test jar) for the cluster tests of other modules (the kernel's {@code RoutingClusterNodeLossTest}).
 */
public final class RabbitCluster {
  private final Path script;
  private final boolean startedHere;
  private final String uris;

  private RabbitCluster(Path script, boolean startedHere, String uris) {
    this.script = script;
    this.startedHere = startedHere;
    this.uris = uris;
  }

  /**
   * The running cluster, started by the script if it did not run.
   *
   * @return the cluster
   */
  public static RabbitCluster startIfNeeded() {
    Path script = findScript();
    Result status = run(script, 60, "status");
    if (status.exit == 0) {
      return new RabbitCluster(script, false, lastLine(status.out));
    }
    Result start = run(script, 300, "start");
    if (start.exit != 0) {
      throw new IllegalStateException("scripts/rabbitmq-cluster.sh start failed (" + start.exit + "): " + start.out);
    }
    return new RabbitCluster(script, true, lastLine(start.out));
  }

  /** @return the nodes' AMQP URIs separated by commas, as SKIFF_AMQP_URI takes them */
  public String uris() {
    return uris;
  }

  /** @return whether this JVM started the cluster */
  public boolean startedHere() {
    return startedHere;
  }

  /**
   * Kills one node's VM with SIGKILL and waits until it is gone.
   *
   * @param node 1, 2 or 3
   */
  public void kill(int node) {
    must(run(script, 60, "kill", Integer.toString(node)), "kill");
  }

  /**
   * Starts a node again and waits until it serves.
   *
   * @param node 1, 2 or 3
   */
  public void restart(int node) {
    must(run(script, 180, "restart", Integer.toString(node)), "restart");
  }

  /**
   * @param connectionName a connection's client-given name
   * @return the node (1, 2 or 3) that connection is on, or 0 if no node lists it
   */
  public int nodeOf(String connectionName) {
    for (int node = 1; node <= 3; node++) {
      Result r = run(script, 60, "connections", Integer.toString(node));
      if (r.exit == 0 && r.out.lines().anyMatch(l -> l.startsWith(connectionName + "\t"))) {
        return node;
      }
    }
    return 0;
  }

  /**
   * @param queue a queue of the default virtual host
   * @return the node (1, 2 or 3) of its process: a classic queue's home, a quorum queue's leader; 0 if
   *     none is listed
   */
  public int nodeOfQueue(String queue) {
    Result r = run(script, 60, "queue-node", queue);
    String out = r.out.strip();
    return r.exit == 0 && out.matches("[123]") ? Integer.parseInt(out) : 0;
  }

  /** Stops the cluster if this JVM started it. */
  public void stopIfStarted() {
    if (startedHere) {
      run(script, 180, "stop");
    }
  }

  private static void must(Result r, String what) {
    if (r.exit != 0) {
      throw new IllegalStateException("scripts/rabbitmq-cluster.sh " + what + " failed (" + r.exit + "): " + r.out);
    }
  }

  private static String lastLine(String out) {
    List<String> lines = out.lines().filter(l -> l.startsWith("amqp://")).toList();
    if (lines.isEmpty()) {
      throw new IllegalStateException("scripts/rabbitmq-cluster.sh printed no URI: " + out);
    }
    return lines.get(lines.size() - 1);
  }

  private static Path findScript() {
    for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
      Path s = dir.resolve("scripts/rabbitmq-cluster.sh");
      if (Files.isRegularFile(s)) {
        return s;
      }
    }
    throw new IllegalStateException("scripts/rabbitmq-cluster.sh not found above " + Path.of("").toAbsolutePath());
  }

  private record Result(int exit, String out) {}

  private static Result run(Path script, int timeoutSeconds, String... args) {
    String[] cmd = new String[args.length + 2];
    cmd[0] = "bash";
    cmd[1] = script.toString();
    System.arraycopy(args, 0, cmd, 2, args.length);
    try {
      Path log = Files.createTempFile("skiff-cluster-", ".out");
      try {
        // stdout and stderr to a file: nothing to drain while waiting
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
          p.destroyForcibly();
          throw new IllegalStateException(String.join(" ", cmd) + " did not finish in " + timeoutSeconds + " s");
        }
        return new Result(p.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
      } finally {
        Files.deleteIfExists(log);
      }
    } catch (IOException e) {
      throw new IllegalStateException("cannot run " + String.join(" ", cmd) + ": " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  /**
   * The cluster for a test class that runs on demand ({@code -Dskiff.cluster=true}): started before its
   * tests if it does not run, stopped after them if it was started here; nothing without the property.
   * Register it with {@code @RegisterExtension static final RabbitCluster.OnDemand CLUSTER = new RabbitCluster.OnDemand();}.
   */
  public static final class OnDemand implements BeforeAllCallback, AfterAllCallback {
    private RabbitCluster cluster;

    @Override
    public void beforeAll(ExtensionContext context) {
      if (Boolean.getBoolean("skiff.cluster")) {
        cluster = startIfNeeded();
      }
    }

    @Override
    public void afterAll(ExtensionContext context) {
      if (cluster != null) {
        cluster.stopIfStarted();
        cluster = null;
      }
    }

    /** @return the cluster (only in a test enabled by {@code -Dskiff.cluster=true}) */
    public RabbitCluster cluster() {
      if (cluster == null) {
        throw new IllegalStateException("the cluster runs only with -Dskiff.cluster=true");
      }
      return cluster;
    }
  }
}
