package dev.skiff.kernel.routing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.StringValue;
import dev.skiff.platform.transport.amqp.AmqpNames;
import dev.skiff.kernel.Kernel;
import dev.skiff.kernel.binding.BindingService;
import dev.skiff.kernel.discovery.DiscoveryService;
import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.config.Settings;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import dev.skiff.proto.v1.RouteRule;
import dev.skiff.proto.v1.RouteStatus;
import dev.skiff.proto.v1.SetRouteRequest;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * 200 services with 3 instances each (600 instances, two versions per service) in this JVM, with a
 * discovery and a binding service: how long the registry and the bindings take to converge, and what a
 * change of rule costs. Prints the figures recorded in docs/routing.md, section Scale. Run with:
 * {@code mvn -B -pl kernel -am test -Dtest=ScaleTest -Dsurefire.failIfNoSpecifiedTests=false -Dskiff.scale=true}
 */
@EnabledIfSystemProperty(named = "skiff.scale", matches = "true")
class ScaleTest {
  static final int SERVICES = 200;
  static final int INSTANCES = 3;

  @Test
  void sixHundredInstances() throws Exception {
    String prefix = "test.scale.s" + Long.toHexString(ThreadLocalRandom.current().nextLong() & 0xffffL);
    List<AmqpTransport> transports = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      transports.add(AmqpTransport.connect(TestServices.URI));
    }
    AmqpTransport kt = AmqpTransport.connect(TestServices.URI);
    DiscoveryService discovery = new DiscoveryService();
    BindingService binding = new BindingService(Clock.systemUTC(), Duration.ofSeconds(3));
    Kernel kernel = Kernel.start(kt, Settings.fromEnvironment(Map.of()), List.of(discovery, binding), 0);
    Client client = Client.builder().transport(kt).defaultTimeout(Duration.ofSeconds(10)).build();
    List<Server> servers = new ArrayList<>();
    try {
      long t0 = System.nanoTime();
      for (int s = 0; s < SERVICES; s++) {
        for (int i = 0; i < INSTANCES; i++) {
          String version = i < 2 ? "1.0.0" : "2.0.0";
          servers.add(Server.builder(prefix + "." + s).version(version).instanceId("i" + i)
              .transport(transports.get((s * INSTANCES + i) % transports.size()))
              .concurrency(1)
              .endpoint(Endpoint.of("echo", StringValue.class, StringValue.class, (req, ctx) -> StringValue.of(version)))
              .build().start());
        }
      }
      double startS = (System.nanoTime() - t0) / 1e9;
      await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20))
          .until(() -> discovery.registry().list("").stream().filter(i -> i.getAnnouncement().getService().startsWith(prefix)).count()
              == SERVICES * INSTANCES);
      double registryS = (System.nanoTime() - t0) / 1e9;
      await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20))
          .until(() -> binding.registry().list("").stream().filter(i -> i.getAnnouncement().getService().startsWith(prefix)).count()
              == SERVICES * INSTANCES);
      // bindings converged: the leader has made a full pass over every service after all were registered
      long passesBefore = binding.reconciles();
      await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20))
          .until(() -> binding.reconciles() >= passesBefore + SERVICES);
      double bindingsS = (System.nanoTime() - t0) / 1e9;
      System.out.printf("[scale] %d instances started in %.2f s; in the discovery registry after %.2f s; "
              + "bindings converged (a full pass of the leader over every service) after %.2f s; full pass %.0f ms%n",
          SERVICES * INSTANCES, startS, registryS, bindingsS, binding.lastFullPassNanos() / 1e6);

      // one change of rule, timed from the request to the first reply from the routed split
      String one = prefix + ".7";
      long c0 = System.nanoTime();
      set(client, one, Map.of("1.0.0", 90, "2.0.0", 10));
      double setMs = (System.nanoTime() - c0) / 1e6;
      await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(5))
          .until(() -> kt.routing().orElseThrow().splitExists(one));
      double appliedMs = (System.nanoTime() - c0) / 1e6;
      long c1 = System.nanoTime();
      set(client, one, Map.of("1.0.0", 10, "2.0.0", 90));
      await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(20))
          .until(() -> versionShare(client, one, 200) > 0.7);
      double changeMs = (System.nanoTime() - c1) / 1e6;
      System.out.printf("[scale] one rule: set_route answered in %.0f ms, route exchange in place after %.0f ms; "
          + "a change 90/10 -> 10/90 seen by callers after %.0f ms%n", setMs, appliedMs, changeMs);

      // a rule on every service
      long r0 = System.nanoTime();
      for (int s = 0; s < SERVICES; s++) {
        set(client, prefix + "." + s, Map.of("1.0.0", 50, "2.0.0", 50));
      }
      double allSetS = (System.nanoTime() - r0) / 1e9;
      String last = prefix + "." + (SERVICES - 1);
      await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20))
          .until(() -> kt.routing().orElseThrow().splitExists(last));
      double allAppliedS = (System.nanoTime() - r0) / 1e9;
      // a full pass that started after the last rule was applied (the one under way may have started before)
      long passes = binding.fullPasses();
      await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50)).until(() -> binding.fullPasses() >= passes + 2);
      System.out.printf("[scale] rules on all %d services: set in %.2f s, applied after %.2f s; "
          + "full repair pass with every service routed: %.0f ms%n", SERVICES, allSetS, allAppliedS, binding.lastFullPassNanos() / 1e6);
      assertThat(registryS).isLessThan(30);
      for (int s = 0; s < SERVICES; s++) {
        set(client, prefix + "." + s, Map.of());
      }
    } finally {
      servers.forEach(Server::close);
      client.close();
      kernel.close();
      kt.close();
      transports.forEach(AmqpTransport::close);
    }
  }

  static void set(Client client, String service, Map<String, Integer> weights) {
    Client.await(client.exchange(BindingService.SERVICE, "set_route",
        SetRouteRequest.newBuilder().setRule(RouteRule.newBuilder().setService(service).putAllWeights(weights)).build(),
        RouteStatus.class, CallOptions.defaults()));
  }

  static double versionShare(Client client, String service, int calls) {
    int v2 = 0;
    for (int i = 0; i < calls; i++) {
      if (Client.await(client.exchange(service, "echo", StringValue.of(""), StringValue.class, CallOptions.defaults()))
          .serviceVersion().equals("2.0.0")) {
        v2++;
      }
    }
    return v2 / (double) calls;
  }
}
