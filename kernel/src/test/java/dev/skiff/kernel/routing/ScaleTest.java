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
import dev.skiff.proto.v1.ListServicesRequest;
import dev.skiff.proto.v1.ListServicesResponse;
import dev.skiff.proto.v1.RouteRule;
import dev.skiff.proto.v1.RouteStatus;
import dev.skiff.proto.v1.SetRouteRequest;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * Many services with 3 instances each (two of version 1.0.0, one of 2.0.0) in this JVM, with a discovery
 * and a binding service: the registry and the bindings converge, and rules on every service are applied
 * and seen by callers. Asserted as conditions (each wait bounded only to stop a hung test); the times
 * are printed, as the figures of docs/routing.md, section Scale, not asserted.
 *
 * <p>20 services (60 instances) run in every build; the full 200 services (600 instances) on demand:
 * {@code scripts/test.sh -o -pl kernel -am -Dtest=ScaleTest -Dsurefire.failIfNoSpecifiedTests=false -Dskiff.scale=true}
 */
class ScaleTest {
  static final int INSTANCES = 3;

  @Test
  void twentyServicesConverge() {
    run(20, Duration.ofSeconds(60));
  }

  @Test
  @EnabledIfSystemProperty(named = "skiff.scale", matches = "true")
  void sixHundredInstances() {
    run(200, Duration.ofMinutes(3));
  }

  static void run(int services, Duration hang) {
    String prefix = "test.scale.s" + Long.toHexString(ThreadLocalRandom.current().nextLong() & 0xffffffL);
    String tag = "[scale " + services + "x" + INSTANCES + "]";
    List<AmqpTransport> transports = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      transports.add(AmqpTransport.connect(TestServices.URI));
    }
    AmqpTransport kt = AmqpTransport.connect(TestServices.URI);
    DiscoveryService discovery = new DiscoveryService();
    BindingService binding = new BindingService(Clock.systemUTC(), Duration.ofSeconds(3));
    Kernel kernel = Kernel.start(kt, Settings.fromEnvironment(Map.of()), List.of(discovery, binding), 0);
    Client client = Client.builder().transport(kt).defaultTimeout(Duration.ofSeconds(30)).build();
    RoutesAdmin admin = new RoutesAdmin(TestServices.URI, client);
    List<Server> servers = new ArrayList<>();
    List<String> names = new ArrayList<>();
    try {
      await().atMost(hang).until(binding::isLeader);
      long t0 = System.nanoTime();
      for (int s = 0; s < services; s++) {
        String name = prefix + "." + s;
        names.add(name);
        for (int i = 0; i < INSTANCES; i++) {
          String version = i < 2 ? "1.0.0" : "2.0.0";
          servers.add(Server.builder(name).version(version).instanceId("i" + i)
              .transport(transports.get((s * INSTANCES + i) % transports.size()))
              .concurrency(1)
              .endpoint(Endpoint.of("echo", StringValue.class, StringValue.class, (req, ctx) -> StringValue.of(version)))
              .build().start());
        }
      }
      double startS = (System.nanoTime() - t0) / 1e9;
      int all = services * INSTANCES;
      // every instance in the discovery registry, as its API answers, and in the binding service's
      await().atMost(hang).pollInterval(Duration.ofMillis(20)).until(() -> client.call(DiscoveryService.SERVICE, "list",
              ListServicesRequest.getDefaultInstance(), ListServicesResponse.class).getInstancesList().stream()
          .filter(i -> i.getAnnouncement().getService().startsWith(prefix + ".")).count() == all);
      double registryS = (System.nanoTime() - t0) / 1e9;
      for (String name : names) {
        await().atMost(hang).until(() -> binding.registry().versions(name).equals(Map.of("1.0.0", 2, "2.0.0", 1)));
      }
      // bindings converged: a full pass of the leader that began after every instance was registered
      RoutingFixture.awaitFullPass(binding, hang);
      double bindingsS = (System.nanoTime() - t0) / 1e9;
      long unroutedPassMs = binding.lastFullPassNanos() / 1_000_000;
      System.out.printf("%s %d instances started in %.2f s; all in the discovery registry after %.2f s; "
              + "bindings converged (a full pass of the leader after all registered) after %.2f s; full pass %d ms%n",
          tag, all, startS, registryS, bindingsS, unroutedPassMs);
      // every service answers, and each of its versions answers the calls pinned to it
      for (String name : names) {
        assertThat(version(client, name, CallOptions.defaults().withVersion("1.0.0"))).isEqualTo("1.0.0");
        assertThat(version(client, name, CallOptions.defaults().withVersion("2.0.0"))).isEqualTo("2.0.0");
        assertThat(version(client, name, CallOptions.defaults())).isIn("1.0.0", "2.0.0");
      }

      // one rule: set, in place, then changed and seen by callers
      String one = names.get(names.size() / 2);
      long c0 = System.nanoTime();
      set(admin.as(client), one, Map.of("1.0.0", 90, "2.0.0", 10));
      double setMs = (System.nanoTime() - c0) / 1e6;
      await().atMost(hang).pollInterval(Duration.ofMillis(5)).until(() -> kt.routing().orElseThrow().splitExists(one));
      double appliedMs = (System.nanoTime() - c0) / 1e6;
      long c1 = System.nanoTime();
      set(admin.as(client), one, Map.of("1.0.0", 10, "2.0.0", 90));
      await().atMost(hang).pollInterval(Duration.ofMillis(20)).until(() -> versionShare(client, one, "2.0.0", 200) > 0.7);
      double changeMs = (System.nanoTime() - c1) / 1e6;
      System.out.printf("%s one rule: set_route answered in %.0f ms, route exchange in place after %.0f ms; "
          + "a change 90/10 -> 10/90 seen by callers after %.0f ms%n", tag, setMs, appliedMs, changeMs);

      // a rule on every service, one after another: 2.0.0 takes all of every service's traffic
      long r0 = System.nanoTime();
      for (String name : names) {
        set(admin.as(client), name, Map.of("1.0.0", 0, "2.0.0", 100));
      }
      double allSetS = (System.nanoTime() - r0) / 1e9;
      for (String name : names) {
        await().atMost(hang).pollInterval(Duration.ofMillis(20)).until(() -> kt.routing().orElseThrow().splitExists(name));
      }
      double allAppliedS = (System.nanoTime() - r0) / 1e9;
      RoutingFixture.awaitFullPass(binding, hang);
      for (String name : names) {
        assertThat(versionShare(client, name, "2.0.0", 20)).as(name).isEqualTo(1.0);
      }
      System.out.printf("%s rules on all %d services: set in %.2f s, route exchanges in place after %.2f s; "
          + "all callers see them%n", tag, services, allSetS, allAppliedS);

      // then 50/50 on every service (two weights each): the steady cost of a full pass, and the split
      for (String name : names) {
        set(admin.as(client), name, Map.of("1.0.0", 50, "2.0.0", 50));
      }
      RoutingFixture.awaitFullPass(binding, hang);
      Map<String, Integer> pooled = new TreeMap<>();
      for (String name : names) {
        for (int i = 0; i < 20; i++) {
          pooled.merge(version(client, name, CallOptions.defaults()), 1, Integer::sum);
        }
      }
      System.out.printf("%s full repair pass with every service routed 50/50: %d ms; 20 calls to each: %s%n",
          tag, binding.lastFullPassNanos() / 1_000_000, pooled);
      int calls = services * 20;
      assertThat(pooled.keySet()).containsExactlyInAnyOrder("1.0.0", "2.0.0");
      assertThat(pooled.get("2.0.0")).isBetween((int) (calls * 0.4), (int) (calls * 0.6));
    } finally {
      for (String name : names) {
        set(admin.as(client), name, Map.of());
      }
      servers.forEach(Server::close);
      admin.close();
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

  static String version(Client client, String service, CallOptions o) {
    return Client.await(client.exchange(service, "echo", StringValue.of(""), StringValue.class, o)).serviceVersion();
  }

  static double versionShare(Client client, String service, String version, int calls) {
    int n = 0;
    for (int i = 0; i < calls; i++) {
      if (version(client, service, CallOptions.defaults()).equals(version)) {
        n++;
      }
    }
    return n / (double) calls;
  }
}
