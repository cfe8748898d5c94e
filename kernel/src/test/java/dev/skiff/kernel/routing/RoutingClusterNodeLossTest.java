package dev.skiff.kernel.routing;

import static dev.skiff.kernel.routing.RoutingFixture.awaitFullPass;
import static dev.skiff.kernel.routing.RoutingFixture.awaitRegistry;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.StringValue;
import dev.skiff.kernel.Kernel;
import dev.skiff.kernel.binding.BindingService;
import dev.skiff.kernel.discovery.DiscoveryService;
import dev.skiff.platform.CallTally;
import dev.skiff.platform.NodeLossLoad;
import dev.skiff.platform.RabbitCluster;
import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.client.Reply;
import dev.skiff.platform.config.Settings;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.transport.amqp.AmqpNames;
import dev.skiff.platform.transport.amqp.AmqpOptions;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * Issue 22: routing by weight keeps working when a node of a 3-node RabbitMQ cluster dies
 * (docs/operations.md). The kernel's binding service (with discovery, one copy, on a connection of its
 * own) keeps a weighted split between two versions of a service (2 instances each, each on its own
 * connection) on the cluster of {@code scripts/rabbitmq-cluster.sh} (the platform's
 * {@link RabbitCluster}: started here if it does not run, stopped again if it was), under a steady load of
 * idempotent and non-idempotent calls through the split. The node of the binding leader's connection is
 * killed ({@code kill -9}; with {@code -Dskiff.cluster.kill=version}, the node of the leader of the
 * heavier version's queue instead). Asserted: the binding service leads again and makes full passes;
 * routed calls keep succeeding (idempotent ones all, non-idempotent ones but for a clear
 * {@code UNAVAILABLE} or {@code UNKNOWN_OUTCOME} at the loss); after the recovery both versions get traffic
 * per the rule's weights, and a new rule set after it applies; no non-idempotent request runs twice.
 * Prints the figures (docs/operations.md has them).
 *
 * <p>On demand, as every cluster test: {@code -Dskiff.cluster=true} (listed in .ci/allowed-skips).
 */
class RoutingClusterNodeLossTest {
  private static final Duration DEADLINE = Duration.ofSeconds(5);
  /** How late after its deadline a call may end (scheduling on a busy 2-core machine). */
  private static final Duration SLACK = Duration.ofMillis(500);
  private static final Duration HEARTBEAT = Duration.ofSeconds(1);
  /** Longer than the heartbeat, shorter than the default 3 s to keep the test short. */
  private static final Duration WARM_UP = Duration.ofSeconds(2);
  private static final int CALLERS = 8;
  /** Calls counted for a split: a version with 30% gets about 450 of them. */
  private static final int SPLIT_CALLS = 1500;
  private static final String V1 = "1.0.0";
  private static final String V2 = "2.0.0";

  @RegisterExtension static final RabbitCluster.OnDemand CLUSTER = new RabbitCluster.OnDemand();

  /** The versions that answered the calls started while it was the current window. */
  private static final class Window {
    final ConcurrentMap<String, LongAdder> byVersion = new ConcurrentHashMap<>();

    long total() {
      return byVersion.values().stream().mapToLong(LongAdder::sum).sum();
    }

    double share(String version) {
      LongAdder n = byVersion.get(version);
      return n == null ? 0 : (double) n.sum() / Math.max(1, total());
    }

    Map<String, Long> counts() {
      Map<String, Long> m = new TreeMap<>();
      byVersion.forEach((k, v) -> m.put(k, v.sum()));
      return m;
    }
  }

  @Test
  @EnabledIfSystemProperty(named = "skiff.cluster", matches = "true")
  void aWeightedSplitKeepsRoutingAndTheBindingServiceLeadsAgainAfterANodeDies() throws Exception {
    String uris = CLUSTER.cluster().uris();
    String tag = ProcessHandle.current().pid() + "-" + System.nanoTime() % 100000;
    String kernelName = "routing-cluster-kernel-" + tag;
    boolean killVersionNode = "version".equals(System.getProperty("skiff.cluster.kill"));
    NodeLossLoad load = new NodeLossLoad(CALLERS, DEADLINE.plus(SLACK));
    AtomicReference<Window> window = new AtomicReference<>(new Window());
    List<AmqpTransport> transports = new ArrayList<>();
    List<Server> servers = new ArrayList<>();
    Kernel kernel = null;
    int victim = 0;
    try (RoutingFixture f = new RoutingFixture(uris)) {
      String service = f.name("cluster");
      AmqpOptions options = AmqpOptions.of(uris);
      AmqpTransport kernelTransport = AmqpTransport.connect(options.withConnectionName(kernelName));
      transports.add(kernelTransport);
      BindingService binding = new BindingService(Clock.systemUTC(), WARM_UP);
      kernel = Kernel.start(kernelTransport, Settings.fromEnvironment(Map.of()), List.of(new DiscoveryService(), binding), 0);
      BindingService b = binding;
      await("the binding service leads").atMost(RoutingFixture.HANG).until(b::isLeader);

      String[] versions = {V1, V1, V2, V2};
      for (int i = 0; i < versions.length; i++) {
        String instance = String.valueOf((char) ('a' + i));
        AmqpTransport t = AmqpTransport.connect(options.withConnectionName("routing-cluster-instance-" + instance + "-" + tag));
        transports.add(t);
        String version = versions[i];
        servers.add(TestServices.echo(t, service, version, instance, HEARTBEAT, TestServices.Hook.NONE)
            .drainGrace(Duration.ofSeconds(1))
            .endpoint(Endpoint.of("once", StringValue.class, StringValue.class, (req, ctx) -> {
              load.once.ran(req.getValue());
              return StringValue.of(version + ":" + req.getValue());
            }))
            .build().start());
      }
      awaitRegistry(binding, service, Map.of(V1, 2, V2, 2));
      f.setRoute(service, Map.of(V1, 70, V2, 30));
      awaitFullPass(binding);

      AmqpTransport clientTransport = AmqpTransport.connect(options.withConnectionName("routing-cluster-client-" + tag));
      transports.add(clientTransport);
      Client client = Client.builder().transport(clientTransport).build();
      load.start((endpoint, text, tally) -> call(client, service, endpoint, text, tally, load, window));

      // the split under steady load, before the loss
      Window before = measure(window, SPLIT_CALLS);
      int kernelNode = CLUSTER.cluster().nodeOf(kernelName);
      int versionNode = CLUSTER.cluster().nodeOfQueue(AmqpNames.versionQueue(service, V1));
      int leaseNode = CLUSTER.cluster().nodeOfQueue(BindingService.LEADER_QUEUE);
      victim = killVersionNode ? versionNode : kernelNode;
      assertThat(victim).as(killVersionNode ? "the node of the version queue's leader" : "the binding leader's node").isBetween(1, 3);
      long passesBefore = binding.fullPasses();
      window.set(new Window());
      load.killed();
      CLUSTER.cluster().kill(victim);

      // the binding service leads again (or still) and makes full passes on the surviving nodes
      await("the binding service leads again and makes full passes").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(50))
          .until(() -> b.isLeader() && b.fullPasses() >= passesBefore + 3);
      long leadsAgainMillis = (System.nanoTime() - load.killedAtNanos()) / 1_000_000;
      Window during = window.get();
      awaitRegistry(binding, service, Map.of(V1, 2, V2, 2));
      awaitFullPass(binding);
      // after the recovery, the rule in force still splits the traffic
      Window after = measure(window, SPLIT_CALLS);
      // and a rule set now applies: the leader acts
      f.setRoute(service, Map.of(V1, 30, V2, 70));
      awaitFullPass(binding);
      Window changed = measure(window, SPLIT_CALLS);

      load.stop(DEADLINE.multipliedBy(3));
      // without load (removing a rule binds the service queue before it deletes the split: a request
      // routed in between reaches both), and waited for, so that no split is left on the cluster
      f.setRoute(service, Map.of());
      awaitFullPass(binding);
      client.close();
      System.out.printf("routing on a cluster, node loss: node %d of 3 killed (the binding leader's: %s; the lease queue's: %s; "
              + "the %s queue leader's: %s); the binding service led again and made full passes %d ms after the kill; "
              + "split 70/30 before %s, from the kill to then %s, after %s; 30/70 set after the recovery: %s%n"
              + "  idempotent:     %s%n  not idempotent: %s%n",
          victim, kernelNode == victim, leaseNode == victim, V1, versionNode == victim, leadsAgainMillis,
          before.counts(), during.counts(), after.counts(), changed.counts(), load.idempotent.figures(), load.once.figures());

      load.assertNothingRunTwiceOrLate();
      load.assertOnlyNonIdempotentCallsFailedClearly();
      assertThat(before.share(V1)).as("version 1's share before the loss (70%%): %s", before.counts()).isBetween(0.62, 0.78);
      assertThat(after.share(V1)).as("version 1's share after the recovery (70%%): %s", after.counts()).isBetween(0.62, 0.78);
      assertThat(changed.share(V1)).as("version 1's share under the rule set after it (30%%): %s", changed.counts())
          .isBetween(0.22, 0.38);
    } finally {
      load.close();
      servers.forEach(Server::close);
      if (kernel != null) {
        kernel.close();
      }
      transports.forEach(AmqpTransport::close);
      if (victim != 0 && !CLUSTER.cluster().startedHere()) {
        CLUSTER.cluster().restart(victim); // leave a cluster this test did not start as it found it
      }
    }
  }

  /**
   * Opens a new window, waits until the calls started in it that succeeded number at least {@code n}, and
   * closes it (the calls started later count nowhere, until the next window): left open, a window also
   * counted the calls made under the next rule.
   */
  private static Window measure(AtomicReference<Window> window, int n) {
    Window w = new Window();
    window.set(w);
    await("calls through the split").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(50)).until(() -> w.total() >= n);
    window.set(new Window());
    return w;
  }

  private static void call(Client c, String service, String method, String text, CallTally tally, NodeLossLoad load,
      AtomicReference<Window> window) {
    Window w = window.get();
    load.record(tally, () -> {
      Reply<StringValue> r = Client.await(c.exchange(service, method, StringValue.of(text), StringValue.class,
          CallOptions.timeout(DEADLINE)));
      assertThat(r.value().getValue()).isEqualTo(r.serviceVersion() + ":" + text);
      w.byVersion.computeIfAbsent(r.serviceVersion(), k -> new LongAdder()).increment();
    });
  }
}
