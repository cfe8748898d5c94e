package dev.skiff.kernel.routing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.StringValue;
import dev.skiff.platform.transport.amqp.AmqpNames;
import dev.skiff.kernel.Kernel;
import dev.skiff.kernel.binding.BindingService;
import dev.skiff.kernel.discovery.DiscoveryService;
import dev.skiff.kernel.discovery.Registry;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.client.Reply;
import dev.skiff.platform.config.Settings;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import dev.skiff.proto.v1.GetRouteRequest;
import dev.skiff.proto.v1.InstanceInfo;
import dev.skiff.proto.v1.ListServicesRequest;
import dev.skiff.proto.v1.ListServicesResponse;
import dev.skiff.proto.v1.RouteRule;
import dev.skiff.proto.v1.RouteStatus;
import dev.skiff.proto.v1.SetRouteRequest;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Discovery and routing against the real RabbitMQ (needs the rabbitmq_consistent_hash_exchange plugin,
 * which scripts/services.sh enables): a kernel with discovery and binding, two versions of a service.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RoutingTest {
  static final Duration HEARTBEAT = Duration.ofMillis(500);
  static AmqpTransport kernelTransport;
  static AmqpTransport serviceTransport;
  static Kernel kernel;
  static DiscoveryService discovery;
  static BindingService binding;
  static AmqpTransport kernelTransport2;
  static Kernel kernel2;
  static DiscoveryService discovery2;
  static BindingService binding2;
  static Client client;
  static String svc;
  final List<Server> servers = new ArrayList<>();
  final List<Process> children = new ArrayList<>();

  @BeforeAll
  static void startKernel() {
    kernelTransport = AmqpTransport.connect(TestServices.URI);
    serviceTransport = AmqpTransport.connect(TestServices.URI);
    discovery = new DiscoveryService();
    binding = new BindingService(Clock.systemUTC(), Duration.ofSeconds(1));
    kernel = Kernel.start(kernelTransport, Settings.fromEnvironment(Map.of()), List.of(discovery, binding), 0);
    client = Client.builder().transport(serviceTransport).defaultTimeout(Duration.ofSeconds(5)).maxInFlight(2000).build();
    svc = "test.routing.r" + Long.toHexString(ThreadLocalRandom.current().nextLong() & 0xffffffL);
  }

  @AfterAll
  static void stopKernel() {
    client.close();
    if (kernel2 != null) {
      kernel2.close();
      kernelTransport2.close();
    }
    kernel.close();
    kernelTransport.close();
    serviceTransport.close();
  }

  @AfterEach
  void stopServers() {
    servers.forEach(Server::close);
    children.forEach(Process::destroyForcibly);
  }

  Server start(String service, String version, String instance) {
    Server s = TestServices.echo(serviceTransport, service, version, instance, HEARTBEAT).start();
    servers.add(s);
    return s;
  }

  static Reply<StringValue> call(String service, CallOptions o) {
    return Client.await(client.exchange(service, "echo", StringValue.of("x"), StringValue.class, o));
  }

  static RouteStatus setRoute(String service, Map<String, Integer> weights) {
    return Client.await(client.exchange(BindingService.SERVICE, "set_route",
        SetRouteRequest.newBuilder().setRule(RouteRule.newBuilder().setService(service).putAllWeights(weights)).build(),
        RouteStatus.class, CallOptions.defaults())).value();
  }

  static Map<String, Integer> split(String service, int calls, CallOptions o) {
    Map<String, Integer> byVersion = new ConcurrentHashMap<>();
    Semaphore inFlight = new Semaphore(200);
    AtomicInteger failed = new AtomicInteger();
    Map<String, Integer> errors = new ConcurrentHashMap<>();
    List<CompletableFuture<?>> all = new ArrayList<>();
    for (int i = 0; i < calls; i++) {
      inFlight.acquireUninterruptibly();
      all.add(client.exchange(service, "echo", StringValue.of("x"), StringValue.class, o)
          .whenComplete((r, e) -> {
            inFlight.release();
            if (e == null) {
              byVersion.merge(r.serviceVersion(), 1, Integer::sum);
            } else {
              failed.incrementAndGet();
              errors.merge(SkiffException.of(e).code() + ": " + SkiffException.of(e).description(), 1, Integer::sum);
            }
          }));
    }
    CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).handle((a, b) -> null).join();
    assertThat(failed.get()).as("failed calls: " + errors).isZero();
    return new TreeMap<>(byVersion);
  }

  @Test
  @Order(1)
  void instancesAnnounceThemselvesAndCleanStopsLeaveAtOnce() {
    String name = svc + ".disc";
    Server a = start(name, "1.0.0", "disc-a");
    start(name, "1.1.0", "disc-b");
    await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
      ListServicesResponse r = client.call(DiscoveryService.SERVICE, "list",
          ListServicesRequest.newBuilder().setService(name).build(), ListServicesResponse.class);
      assertThat(r.getInstancesList()).extracting(i -> i.getAnnouncement().getInstance()).containsExactly("disc-a", "disc-b");
      InstanceInfo first = r.getInstances(0);
      assertThat(first.getAnnouncement().getVersion()).isEqualTo("1.0.0");
      assertThat(first.getAnnouncement().getEndpoints(0).getName()).isEqualTo("echo");
      assertThat(first.getAnnouncement().getEndpoints(0).getRequestType()).isEqualTo("google.protobuf.StringValue");
      assertThat(first.getAnnouncement().getEndpoints(0).getTimeoutMs()).isPositive();
      assertThat(first.getAnnouncement().getHost()).isNotEmpty();
      assertThat(first.getAnnouncement().getStartedMs()).isPositive();
    });
    long t0 = System.nanoTime();
    a.close();
    await().atMost(Duration.ofSeconds(1)).pollInterval(Duration.ofMillis(10))
        .until(() -> discovery.registry().list(name).size() == 1);
    System.out.printf("[routing] clean stop deregistered in %.0f ms%n", (System.nanoTime() - t0) / 1e6);
  }

  @Test
  @Order(2)
  void ninetyTenRuleSplitsTrafficAndPinsReachOneVersionOrInstance() {
    start(svc, "1.0.0", "v1-a");
    start(svc, "1.0.0", "v1-b");
    start(svc, "2.0.0", "v2-a");
    await().atMost(Duration.ofSeconds(5)).until(() -> binding.registry().list(svc).size() == 3);
    // no rule: every instance shares the service queue
    assertThat(split(svc, 300, CallOptions.defaults())).containsOnlyKeys("1.0.0", "2.0.0");

    long t0 = System.nanoTime();
    RouteStatus st = setRoute(svc, Map.of("1.0.0", 90, "2.0.0", 10));
    assertThat(st.getEffectiveMap()).isEqualTo(Map.of("1.0.0", 90, "2.0.0", 10));
    assertThat(st.getInstancesMap()).isEqualTo(Map.of("1.0.0", 2, "2.0.0", 1));
    await().atMost(Duration.ofSeconds(3)).pollInterval(Duration.ofMillis(20))
        .until(() -> serviceTransport.routing().orElseThrow().splitExists(svc));
    System.out.printf("[routing] rule applied %.0f ms after set_route was sent%n", (System.nanoTime() - t0) / 1e6);
    // The route exchange is the first thing the leader's reconciliation makes; it then binds the weights,
    // routes the service through it and unbinds the service queue, which every version shares: calls made
    // before that end reach versions 2:1 instead of 90:10 (one run measured 87.65 %). The leader
    // reconciles one service at a time, so the next reconciliation to start means that one has ended.
    long reconciles = binding.reconciles();
    await().atMost(Duration.ofSeconds(3)).pollInterval(Duration.ofMillis(10)).until(() -> binding.reconciles() > reconciles);

    long t1 = System.nanoTime();
    Map<String, Integer> split = split(svc, 20_000, CallOptions.defaults());
    double v1 = split.getOrDefault("1.0.0", 0) / 200.0;
    System.out.printf("[routing] 90/10 rule over 20000 calls: %s = %.2f%% to 1.0.0 (%.1f s)%n",
        split, v1, (System.nanoTime() - t1) / 1e9);
    assertThat(v1).isBetween(88.0, 92.0);

    // pins
    assertThat(split(svc, 200, CallOptions.defaults().withVersion("2.0.0"))).containsOnlyKeys("2.0.0");
    assertThat(call(svc, CallOptions.defaults().withInstance("v1-b")).instance()).isEqualTo("v1-b");
    long t2 = System.nanoTime();
    assertThatThrownBy(() -> call(svc, CallOptions.timeout(Duration.ofSeconds(5)).withVersion("9.9.9")))
        .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NOT_FOUND))
        .hasMessageContaining("version 9.9.9 of service " + svc + " is not running");
    assertThat(Duration.ofNanos(System.nanoTime() - t2)).isLessThan(Duration.ofSeconds(1));

    // a change of rule takes effect within a second or two, no restart
    setRoute(svc, Map.of("1.0.0", 0, "2.0.0", 100));
    long t3 = System.nanoTime();
    await().atMost(Duration.ofSeconds(2)).pollInterval(Duration.ofMillis(50)).ignoreExceptions()
        .until(() -> split(svc, 50, CallOptions.defaults()).keySet().equals(java.util.Set.of("2.0.0")));
    System.out.printf("[routing] rule changed to 0/100: all traffic on 2.0.0 within %.0f ms%n", (System.nanoTime() - t3) / 1e6);
    // and no call fails while the weights change
    CompletableFuture<Map<String, Integer>> during = CompletableFuture.supplyAsync(() -> split(svc, 3000, CallOptions.defaults()));
    setRoute(svc, Map.of("1.0.0", 50, "2.0.0", 50));
    setRoute(svc, Map.of("1.0.0", 90, "2.0.0", 10));
    assertThat(during.join().values().stream().mapToInt(Integer::intValue).sum()).isEqualTo(3000);
  }

  @Test
  @Order(5)
  void noCallIsLostWhileWeightsChangeBackAndForthUnderLoad() {
    // A change of weights adds the new weight exchanges to the hash ring before it takes the old ones
    // out, and deletes an old one only once no routing that picked it can still be under way: a request
    // routed through the ring as it changes must always reach a queue. Deleting a weight exchange at once
    // lost about one request in 90,000 here (picked by the ring just before it went); -Dflips.rounds=N
    // runs more rounds of 3,000 calls.
    String name = svc + ".flips";
    start(name, "1.0.0", "fl-a");
    start(name, "2.0.0", "fl-b");
    await().atMost(Duration.ofSeconds(5)).until(() -> binding.registry().list(name).size() == 2);
    setRoute(name, Map.of("1.0.0", 90, "2.0.0", 10));
    await().atMost(Duration.ofSeconds(3)).ignoreExceptions()
        .until(() -> split(name, 50, CallOptions.defaults()).keySet().equals(java.util.Set.of("1.0.0", "2.0.0")));
    int rounds = Integer.getInteger("flips.rounds", 5);
    int changes = 0;
    long lost = 0;
    for (int r = 0; r < rounds; r++) {
      setRoute(name, Map.of("1.0.0", 0, "2.0.0", 100));
      changes++;
      await().atMost(Duration.ofSeconds(2)).pollInterval(Duration.ofMillis(50)).ignoreExceptions()
          .until(() -> split(name, 50, CallOptions.defaults()).keySet().equals(java.util.Set.of("2.0.0")));
      CompletableFuture<Map<String, Integer>> during = CompletableFuture.supplyAsync(() -> split(name, 3000, CallOptions.defaults()));
      setRoute(name, Map.of("1.0.0", 50, "2.0.0", 50));
      setRoute(name, Map.of("1.0.0", 90, "2.0.0", 10));
      changes += 2;
      Map<String, Integer> split = during.join();
      lost += 3000 - split.values().stream().mapToInt(Integer::intValue).sum();
    }
    System.out.printf("[routing] %d rule changes under load, %d calls lost%n", changes, lost);
    assertThat(lost).isZero();
    // and the weight exchanges that left the ring are deleted soon after, the current ones kept
    String ex = AmqpNames.routeExchange(name);
    await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(100)).untilAsserted(() -> {
      assertThat(RawBroker.exchangeExists(ex + "#1.0.0=50")).as("retired").isFalse();
      assertThat(RawBroker.exchangeExists(ex + "#2.0.0=100")).as("retired").isFalse();
    });
    assertThat(RawBroker.exchangeExists(ex + "#1.0.0=90")).as("in use").isTrue();
    assertThat(RawBroker.exchangeExists(ex + "#2.0.0=10")).as("in use").isTrue();
    setRoute(name, Map.of());
  }

  @Test
  @Order(7)
  void copiesOfEachKernelServiceAgreeAndAnotherBindingCopyTakesOver() {
    String name = svc + ".ha";
    start(name, "1.0.0", "ha-a");
    start(name, "2.0.0", "ha-b");
    kernelTransport2 = AmqpTransport.connect(TestServices.URI);
    discovery2 = new DiscoveryService();
    binding2 = new BindingService(Clock.systemUTC(), Duration.ofSeconds(1));
    kernel2 = Kernel.start(kernelTransport2, Settings.fromEnvironment(Map.of()), List.of(discovery2, binding2), 0);
    // a copy started later knows every instance after one heartbeat, and the copies agree
    await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
      assertThat(discovery2.registry().list(name)).hasSize(2);
      assertThat(discovery2.registry().list("").stream().map(i -> i.getAnnouncement().getInstance()).toList())
          .containsAll(discovery.registry().list(name).stream().map(i -> i.getAnnouncement().getInstance()).toList());
    });
    assertThat(binding.isLeader()).isTrue();
    assertThat(binding2.isLeader()).isFalse();
    setRoute(name, Map.of("1.0.0", 100, "2.0.0", 0));
    await().atMost(Duration.ofSeconds(3)).ignoreExceptions()
        .until(() -> split(name, 50, CallOptions.defaults()).keySet().equals(java.util.Set.of("1.0.0")));

    long t0 = System.nanoTime();
    binding.close();
    await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(20)).until(binding2::isLeader);
    System.out.printf("[routing] second binding copy leader %.0f ms after the first stopped%n", (System.nanoTime() - t0) / 1e6);
    setRoute(name, Map.of("1.0.0", 0, "2.0.0", 100));
    await().atMost(Duration.ofSeconds(5)).ignoreExceptions()
        .until(() -> split(name, 50, CallOptions.defaults()).keySet().equals(java.util.Set.of("2.0.0")));
    System.out.printf("[routing] the new leader applied a change %.0f ms after the first copy stopped%n", (System.nanoTime() - t0) / 1e6);
    setRoute(name, Map.of());
  }

  @Test
  @Order(9)
  void aBindingDeletedByHandIsRepairedAndTrafficFlowsWithTheBindingServiceDown() throws Exception {
    String name = svc + ".repair";
    start(name, "1.0.0", "rp-a");
    start(name, "2.0.0", "rp-b");
    await().atMost(Duration.ofSeconds(5)).until(() -> binding2.registry().list(name).size() == 2);
    setRoute(name, Map.of("1.0.0", 50, "2.0.0", 50));
    await().atMost(Duration.ofSeconds(3)).until(() -> serviceTransport.routing().orElseThrow().splitExists(name));
    await().atMost(Duration.ofSeconds(3)).untilAsserted(() ->
        assertThat(split(name, 200, CallOptions.defaults())).containsOnlyKeys("1.0.0", "2.0.0"));

    // delete the binding skiff.rpc -> skiff.route.NAME by hand: calls fail NOT_FOUND until it is repaired
    RawBroker.unbindExchange(AmqpNames.routeExchange(name), AmqpNames.RPC_EXCHANGE, name);
    assertThatThrownBy(() -> call(name, CallOptions.defaults()))
        .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NOT_FOUND));
    long t0 = System.nanoTime();
    await().atMost(Duration.ofSeconds(3)).pollInterval(Duration.ofMillis(20)).ignoreExceptions()
        .until(() -> call(name, CallOptions.defaults()) != null);
    System.out.printf("[routing] binding deleted by hand repaired in %.0f ms%n", (System.nanoTime() - t0) / 1e6);

    // the binding service stops: traffic keeps flowing on the bindings as they are, split as before
    binding2.close();
    Map<String, Integer> s = split(name, 2000, CallOptions.defaults());
    System.out.printf("[routing] binding service down, 2000 calls on a 50/50 rule: %s%n", s);
    assertThat(s.values().stream().mapToInt(Integer::intValue).sum()).isEqualTo(2000);
    assertThat(s.get("1.0.0")).isBetween(800, 1200);
    // and a new instance of a routed version still gets its share
    start(name, "2.0.0", "rp-c");
    assertThat(split(name, 200, CallOptions.defaults().withVersion("2.0.0"))).containsOnlyKeys("2.0.0");
  }

  @Test
  @Order(4)
  void aKilledInstanceLeavesTheRegistryInTime() throws Exception {
    String name = svc + ".kill";
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process p = new ProcessBuilder(java, "-Xmx96m", "-cp", System.getProperty("java.class.path"),
        TestServices.class.getName(), name, "1.0.0", "victim", Long.toString(Duration.ofSeconds(2).toMillis()))
        .redirectErrorStream(true).start();
    children.add(p);
    BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    String line;
    while ((line = out.readLine()) != null && !line.startsWith("READY")) {
      // wait for it to serve
    }
    Registry reg = discovery.registry();
    await().atMost(Duration.ofSeconds(5)).until(() -> reg.list(name).size() == 1);
    long t0 = System.nanoTime();
    p.destroyForcibly(); // SIGKILL
    p.waitFor();
    await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50)).until(() -> reg.list(name).isEmpty());
    double s = (System.nanoTime() - t0) / 1e9;
    System.out.printf("[routing] kill -9 removed from the registry after %.2f s (heartbeat 2 s, expiry 6 s)%n", s);
    assertThat(s).isLessThan(10);
  }

  @Test
  @Order(3)
  void badRulesAreRefusedWithAClearError() {
    String name = svc + ".bad";
    start(name, "1.0.0", "bad-a");
    await().atMost(Duration.ofSeconds(5)).until(() -> binding.registry().list(name).size() == 1);
    assertThatThrownBy(() -> setRoute(svc + ".nosuch", Map.of("1.0.0", 100)))
        .hasMessageContaining("has no running instance");
    assertThatThrownBy(() -> setRoute(name, Map.of("1.0.0", 90)))
        .hasMessageContaining("must add up to 100").hasMessageContaining("90");
    assertThatThrownBy(() -> setRoute(name, Map.of("1.0.0", 90, "3.0.0", 10)))
        .hasMessageContaining("version 3.0.0 of " + name + " is not running");
    assertThatThrownBy(() -> setRoute(name, Map.of("1.0.0", 150)))
        .hasMessageContaining("percentage from 0 to 100");
    RouteStatus none = Client.await(client.exchange(BindingService.SERVICE, "get_route",
        GetRouteRequest.newBuilder().setService(name).build(), RouteStatus.class, CallOptions.defaults())).value();
    assertThat(none.getRule().getWeightsMap()).isEmpty();
  }
}
