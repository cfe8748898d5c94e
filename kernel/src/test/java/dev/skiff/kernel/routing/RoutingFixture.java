package dev.skiff.kernel.routing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.StringValue;
import com.rabbitmq.client.Channel;
import dev.skiff.kernel.Kernel;
import dev.skiff.kernel.binding.BindingService;
import dev.skiff.kernel.discovery.DiscoveryService;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.client.Reply;
import dev.skiff.platform.config.Settings;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.server.ServerBuilder;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import dev.skiff.proto.v1.GetRouteRequest;
import dev.skiff.proto.v1.RouteRule;
import dev.skiff.proto.v1.RouteStatus;
import dev.skiff.proto.v1.SetRouteRequest;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;

/**
 * What one routing test works with, made for it alone: kernel copies (discovery and binding), service
 * instances, a client, and service names no other test uses. {@link #close()} removes every rule the
 * test set (so the rule stream {@code skiff.routes} holds no rule in force after it), then stops the
 * instances and the kernel copies.
 *
 * <p>Waiting is on conditions; {@link #HANG} only stops a test that hangs.
 */
final class RoutingFixture implements AutoCloseable {
  /** The heartbeat of the test instances: discovery forgets one 3 heartbeats after its last. */
  static final Duration HEARTBEAT = Duration.ofMillis(500);
  /** How long a new binding copy listens before it acts: longer than {@link #HEARTBEAT}. */
  static final Duration WARM_UP = Duration.ofSeconds(1);
  /** A bound that only stops a hung test: no behaviour under test is expected to take this long. */
  static final Duration HANG = Duration.ofSeconds(30);

  /** One copy of the kernel services: a discovery and a binding service on a connection of their own. */
  static final class KernelCopy implements AutoCloseable {
    final AmqpTransport transport;
    final DiscoveryService discovery;
    final BindingService binding;
    final Kernel kernel;
    private volatile boolean closed;

    KernelCopy(String uri, Duration warmUp) {
      transport = AmqpTransport.connect(uri);
      discovery = new DiscoveryService();
      binding = new BindingService(Clock.systemUTC(), warmUp);
      try {
        kernel = Kernel.start(transport, Settings.fromEnvironment(Map.of()), List.of(discovery, binding), 0);
      } catch (RuntimeException e) {
        transport.close();
        throw e;
      }
    }

    boolean isOpen() {
      return !closed;
    }

    @Override
    public void close() {
      if (!closed) {
        closed = true;
        kernel.close();
        transport.close();
      }
    }
  }

  final String uri;
  final String prefix = "test.routing.r" + Long.toHexString(ThreadLocalRandom.current().nextLong() & 0xffffffL);
  final AmqpTransport serviceTransport;
  final Client client;
  private final List<Server> servers = new CopyOnWriteArrayList<>();
  private final List<KernelCopy> kernels = new CopyOnWriteArrayList<>();
  private final Set<String> routed = ConcurrentHashMap.newKeySet();
  private volatile boolean keepRules;
  private RoutesAdmin admin;

  RoutingFixture() {
    this(TestServices.URI);
  }

  RoutingFixture(String uri) {
    this.uri = uri;
    serviceTransport = AmqpTransport.connect(uri);
    client = Client.builder().transport(serviceTransport).defaultTimeout(Duration.ofSeconds(10)).maxInFlight(2000).build();
  }

  /** @return the fixture's client with a signed-in administrator's session (started at first use) */
  synchronized Client admin() {
    if (admin == null) {
      admin = new RoutesAdmin(uri, client);
    }
    return admin.as(client);
  }

  /** @return a service name of this test's own */
  String name(String what) {
    return prefix + "." + what;
  }

  /** @return a new kernel copy (it leads only if no other copy does) */
  KernelCopy kernel(Duration warmUp) {
    KernelCopy k = new KernelCopy(uri, warmUp);
    kernels.add(k);
    return k;
  }

  /** @return a new kernel copy, once its binding service leads (every other copy must be closed) */
  KernelCopy leader() {
    KernelCopy k = kernel(WARM_UP);
    await().atMost(HANG).until(k.binding::isLeader);
    return k;
  }

  Server start(String service, String version, String instance) {
    return start(TestServices.echo(serviceTransport, service, version, instance, HEARTBEAT, TestServices.Hook.NONE));
  }

  /**
   * Starts one instance of each version given, with instance ids {@code a}, {@code b}, {@code c}, ... in
   * that order, and waits until the binding copy's registry has exactly them.
   *
   * @return the instances, in the order of the versions
   */
  List<Server> startVersions(KernelCopy k, String service, String... versions) {
    List<Server> started = new ArrayList<>();
    Map<String, Integer> running = new TreeMap<>();
    for (String v : versions) {
      started.add(start(service, v, String.valueOf((char) ('a' + started.size()))));
      running.merge(v, 1, Integer::sum);
    }
    awaitRegistry(k.binding, service, running);
    return started;
  }

  Server start(ServerBuilder b) {
    Server s = b.build().start();
    servers.add(s);
    return s;
  }

  RouteStatus setRoute(String service, Map<String, Integer> weights) {
    return setRoute(service, weights, false);
  }

  RouteStatus setRoute(String service, Map<String, Integer> weights, boolean force) {
    routed.add(service);
    return Client.await(admin().exchange(BindingService.SERVICE, "set_route",
        SetRouteRequest.newBuilder().setRule(RouteRule.newBuilder().setService(service).putAllWeights(weights)).setForce(force).build(),
        RouteStatus.class, CallOptions.defaults())).value();
  }

  /**
   * Sets the rule and waits until the leader has made a full pass after it ({@link #awaitFullPass}): the
   * service's bindings then match the rule.
   */
  RouteStatus applyRoute(KernelCopy leader, String service, Map<String, Integer> weights) {
    RouteStatus st = setRoute(service, weights);
    awaitFullPass(leader.binding);
    return st;
  }

  RouteStatus route(String service) {
    return Client.await(client.exchange(BindingService.SERVICE, "get_route",
        GetRouteRequest.newBuilder().setService(service).build(), RouteStatus.class, CallOptions.defaults())).value();
  }

  /** Leaves this test's rules in the stream when it closes (a test that reads them in another fixture). */
  void keepRules() {
    keepRules = true;
  }

  /** Removes the service's rule when this fixture closes, although this fixture did not set it. */
  void clearOnClose(String service) {
    routed.add(service);
  }

  /**
   * Makes calls, at most 200 at a time, and fails if any fails.
   *
   * @return every reply
   */
  List<Reply<StringValue>> calls(String service, int n, CallOptions o) {
    return calls(client, service, n, o);
  }

  static List<Reply<StringValue>> calls(Client client, String service, int n, CallOptions o) {
    List<Reply<StringValue>> replies = new CopyOnWriteArrayList<>();
    Map<String, Integer> errors = new ConcurrentHashMap<>();
    Semaphore inFlight = new Semaphore(200);
    List<CompletableFuture<?>> all = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      inFlight.acquireUninterruptibly();
      all.add(client.exchange(service, "echo", StringValue.of("x"), StringValue.class, o)
          .whenComplete((r, e) -> {
            inFlight.release();
            if (e == null) {
              replies.add(r);
            } else {
              SkiffException s = SkiffException.of(e);
              errors.merge(s.code() + ": " + s.description(), 1, Integer::sum);
            }
          }));
    }
    CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).handle((a, b) -> null).join();
    assertThat(errors).as("failed calls to " + service + " (of " + n + ")").isEmpty();
    return replies;
  }

  /** @return how many of the calls each version answered; fails if any call fails */
  Map<String, Integer> split(String service, int n, CallOptions o) {
    return count(calls(service, n, o), Reply::serviceVersion);
  }

  /** @return how many of the calls each version answered; fails if any call fails */
  Map<String, Integer> split(String service, int n) {
    return split(service, n, CallOptions.defaults());
  }

  /**
   * Waits for the leader's next full pass ({@link #awaitFullPass}), then makes calls and fails unless
   * every one of them is answered by the version.
   */
  void assertAllReach(KernelCopy leader, String service, String version, int calls) {
    awaitFullPass(leader.binding);
    assertThat(split(service, calls)).isEqualTo(Map.of(version, calls));
  }

  static <T> Map<String, Integer> count(Collection<T> items, Function<T, String> key) {
    Map<String, Integer> m = new TreeMap<>();
    items.forEach(i -> m.merge(key.apply(i), 1, Integer::sum));
    return m;
  }

  /** Waits until the binding copy's registry has exactly these running versions (version → instances). */
  static void awaitRegistry(BindingService b, String service, Map<String, Integer> versions) {
    await().atMost(HANG).until(() -> b.registry().versions(service).equals(versions));
  }

  /**
   * Waits until the leader has made a full pass over every service that started after this call: every
   * service's bindings then match the rules and the registry the leader had when this was called. (A
   * pass under way now may have started before; the one after it has not.)
   */
  static void awaitFullPass(BindingService leader) {
    awaitFullPass(leader, HANG);
  }

  /** {@link #awaitFullPass(BindingService)}, failing only after {@code hang} (passes over hundreds of services). */
  static void awaitFullPass(BindingService leader, Duration hang) {
    assertThat(leader.isLeader()).as("the binding copy waited on leads").isTrue();
    long passes = leader.fullPasses();
    await().atMost(hang).until(() -> leader.fullPasses() >= passes + 2);
  }

  /** @return whether the queue exists, asked with a passive declare on a channel of its own */
  boolean queueExists(String queue) {
    return messageCount(queue) >= 0;
  }

  /** @return the queue's ready messages, or -1 when it does not exist */
  int messageCount(String queue) {
    Channel ch = RawBroker.channel();
    try {
      return ch.queueDeclarePassive(queue).getMessageCount();
    } catch (IOException e) {
      return -1; // NOT_FOUND closes the channel
    } finally {
      if (ch.isOpen()) {
        try {
          ch.close();
        } catch (IOException | TimeoutException e) {
          // closing anyway
        }
      }
    }
  }

  @Override
  public void close() {
    try {
      if (!keepRules && !routed.isEmpty()) {
        // set_route needs a binding copy: use one of the test's, or start one for this
        if (kernels.stream().noneMatch(KernelCopy::isOpen)) {
          kernel(WARM_UP);
        }
        for (String s : routed) {
          setRoute(s, Map.of());
        }
      }
    } finally {
      servers.forEach(Server::close);
      client.close();
      kernels.forEach(KernelCopy::close);
      if (admin != null) {
        admin.close();
      }
      serviceTransport.close();
    }
  }
}
