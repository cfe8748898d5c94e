package dev.skiff.kernel.routing;

import static dev.skiff.kernel.routing.RoutingFixture.HANG;
import static dev.skiff.kernel.routing.RoutingFixture.awaitFullPass;
import static dev.skiff.kernel.routing.RoutingFixture.awaitRegistry;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.StringValue;
import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import dev.skiff.platform.transport.amqp.AmqpNames;
import dev.skiff.kernel.routing.RoutingFixture.KernelCopy;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.client.Reply;
import dev.skiff.platform.client.RetryPolicy;
import dev.skiff.platform.config.QueueType;
import dev.skiff.platform.discovery.Announcer;
import dev.skiff.platform.pubsub.PubSub;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.transport.amqp.AmqpOptions;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import dev.skiff.proto.v1.InstanceAnnouncement;
import dev.skiff.proto.v1.RouteStatus;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

/**
 * What docs/routing.md promises of routing rules and the binding service, each shown on the real
 * broker: a rule applies to the versions that run, a version outside it gets only pinned calls,
 * {@code --force}, a stopped version's queue, a new instance under a rule, a retry's version.
 */
class RoutingRulesTest {
  @AutoClose
  final RoutingFixture f = new RoutingFixture();

  @Test
  void aRuleAppliesToTheVersionsThatRunAndFallsBackToTheServiceQueueWhenNoneRuns() {
    KernelCopy k = f.leader();
    String s = f.name("running");
    List<Server> ab = f.startVersions(k, s, "1.0.0", "1.1.0");
    Server a = ab.get(0);
    Server b = ab.get(1);
    f.applyRoute(k, s, Map.of("1.0.0", 90, "1.1.0", 10));
    assertThat(f.split(s, 1000)).containsOnlyKeys("1.0.0", "1.1.0");

    // 1.1.0 stops: the rule stays as it was set, and 1.0.0 takes every call (none is lost to 1.1.0's share)
    b.close();
    awaitRegistry(k.binding, s, Map.of("1.0.0", 1));
    RouteStatus st = f.route(s);
    assertThat(st.getRule().getWeightsMap()).isEqualTo(Map.of("1.0.0", 90, "1.1.0", 10));
    assertThat(st.getEffectiveMap()).isEqualTo(Map.of("1.0.0", 90));
    f.assertAllReach(k, s, "1.0.0", 1000);

    // a version outside the rule starts, then the rule's last running version stops: none of the rule's
    // versions runs, so the service falls back to its service queue and 2.0.0 serves every call
    f.start(s, "2.0.0", "c");
    awaitRegistry(k.binding, s, Map.of("1.0.0", 1, "2.0.0", 1));
    f.assertAllReach(k, s, "1.0.0", 500);
    a.close();
    awaitRegistry(k.binding, s, Map.of("2.0.0", 1));
    st = f.route(s);
    assertThat(st.getRule().getWeightsMap()).isEqualTo(Map.of("1.0.0", 90, "1.1.0", 10));
    assertThat(st.getEffectiveMap()).isEmpty();
    awaitFullPass(k.binding);
    assertThat(f.serviceTransport.routing().orElseThrow().splitExists(s)).as("route exchange").isFalse();
    assertThat(f.split(s, 1000)).isEqualTo(Map.of("2.0.0", 1000));

    // until one of the rule's versions runs again: the rule applies again, 2.0.0 gets nothing
    f.start(s, "1.0.0", "a2");
    awaitRegistry(k.binding, s, Map.of("1.0.0", 1, "2.0.0", 1));
    f.assertAllReach(k, s, "1.0.0", 1000);
  }

  /**
   * The last instance of a version that has a share stops under load: what it had taken and not started,
   * and what the rule still sent its version's queue until the binding service moved the share, goes back
   * through the rule to the versions that run. Before, those requests waited in a queue no one consumed
   * until their callers timed out (as many as the instance held: 8 of 4,000 at concurrency 8).
   */
  @Test
  void theLastInstanceOfAVersionWithAShareStopsUnderLoadAndNoCallIsLost() throws Exception {
    KernelCopy k = f.leader();
    String s = f.name("last");
    List<Server> ab = f.startVersions(k, s, "1.0.0", "1.1.0");
    f.applyRoute(k, s, Map.of("1.0.0", 90, "1.1.0", 10));
    java.util.concurrent.CompletableFuture<Map<String, Integer>> load = java.util.concurrent.CompletableFuture.supplyAsync(
        () -> f.split(s, 6000, CallOptions.timeout(Duration.ofSeconds(8))));
    await().atMost(HANG).until(() -> ab.get(0).metrics().timer("skiff.server.endpoint.echo").getCount() > 300);
    ab.get(0).close();
    Map<String, Integer> split = load.get(60, java.util.concurrent.TimeUnit.SECONDS); // fails on any failed call
    assertThat(split.get("1.1.0")).as("the running version took over").isGreaterThan(600);
  }

  @Test
  void aRunningVersionOutsideTheRuleGetsOnlyPinnedCalls() {
    KernelCopy k = f.leader();
    String s = f.name("outside");
    // c (2.0.0) started before the rule: it bound the service queue, as every instance
    f.startVersions(k, s, "1.0.0", "1.1.0", "2.0.0");
    assertThat(f.split(s, 600)).containsOnlyKeys("1.0.0", "1.1.0", "2.0.0");
    RouteStatus st = f.setRoute(s, Map.of("1.0.0", 50, "1.1.0", 50));
    assertThat(st.getEffectiveMap()).isEqualTo(Map.of("1.0.0", 50, "1.1.0", 50));
    assertThat(st.getInstancesMap()).isEqualTo(Map.of("1.0.0", 1, "1.1.0", 1, "2.0.0", 1));
    awaitFullPass(k.binding);
    Map<String, Integer> split = f.split(s, 2000);
    System.out.printf("[routing] rule 1.0.0=50 1.1.0=50 with 2.0.0 running: %s%n", split);
    assertThat(split).containsOnlyKeys("1.0.0", "1.1.0");
    assertThat(split.get("1.0.0")).isBetween(800, 1200);
    // 2.0.0 still serves calls pinned to it or to its instance
    assertThat(f.calls(s, 100, CallOptions.defaults().withVersion("2.0.0"))).extracting(Reply::instance).containsOnly("c");
    assertThat(f.calls(s, 100, CallOptions.defaults().withInstance("c"))).extracting(Reply::instance).containsOnly("c");
  }

  @Test
  void forceAcceptsARuleForVersionsThatDoNotRunYetAndItAppliesWhenTheyStart() {
    KernelCopy k = f.leader();
    String s = f.name("force");
    // refused without --force: the service does not run
    assertThatThrownBy(() -> f.setRoute(s, Map.of("1.0.0", 0, "2.0.0", 100)))
        .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NOT_FOUND))
        .hasMessageContaining("has no running instance");
    RouteStatus st = f.setRoute(s, Map.of("1.0.0", 0, "2.0.0", 100), true);
    assertThat(st.getRule().getWeightsMap()).isEqualTo(Map.of("1.0.0", 0, "2.0.0", 100));
    assertThat(st.getEffectiveMap()).isEmpty();
    assertThat(st.getInstancesMap()).isEmpty();

    // 1.0.0 starts: the rule gives it no share, but no version with a share runs, so it serves everything
    f.start(s, "1.0.0", "a");
    awaitRegistry(k.binding, s, Map.of("1.0.0", 1));
    f.assertAllReach(k, s, "1.0.0", 300);
    // refused without --force: a version of a running service that does not run
    assertThatThrownBy(() -> f.setRoute(s, Map.of("1.0.0", 0, "3.0.0", 100)))
        .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.BAD_REQUEST))
        .hasMessageContaining("version 3.0.0 of " + s + " is not running");

    // 2.0.0 starts: the rule prepared before takes effect, every call goes to 2.0.0
    f.start(s, "2.0.0", "b");
    awaitRegistry(k.binding, s, Map.of("1.0.0", 1, "2.0.0", 1));
    assertThat(f.route(s).getEffectiveMap()).isEqualTo(Map.of("2.0.0", 100));
    f.assertAllReach(k, s, "2.0.0", 1000);
  }

  @Test
  void aStoppedVersionsQueueIsDeletedOnceEmptyAndUnconsumed() throws Exception {
    KernelCopy k = f.leader();
    String s = f.name("gone");
    Server b = f.startVersions(k, s, "1.0.0", "2.0.0").get(1);
    awaitFullPass(k.binding);
    String v2 = AmqpNames.versionQueue(s, "2.0.0");
    assertThat(f.queueExists(v2)).isTrue();

    // its last instance stops: the leader deletes the queue (which would otherwise expire only after an
    // hour without consumers, AmqpOptions.serviceQueueExpiry); 1.0.0's stays. (A clean stop announces
    // itself before the instance stops consuming: the leader's first try may find the queue in use.)
    b.close();
    await().atMost(HANG).until(() -> !f.queueExists(v2));
    assertThat(f.queueExists(AmqpNames.versionQueue(s, "1.0.0"))).isTrue();
    assertThatThrownBy(() -> Client.await(f.client.exchange(s, "echo", StringValue.of("x"), StringValue.class,
            CallOptions.timeout(Duration.ofMinutes(1)).withVersion("2.0.0"))))
        .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NOT_FOUND));

    // a version that left the registry while something still consumes its queue keeps it: here an
    // instance that does not announce itself
    Server quiet = f.start(TestServices.echo(f.serviceTransport, s, "3.0.0", "quiet", null, TestServices.Hook.NONE));
    Server loud = f.start(s, "3.0.0", "loud");
    awaitRegistry(k.binding, s, Map.of("1.0.0", 1, "3.0.0", 1));
    awaitFullPass(k.binding);
    loud.close();
    awaitRegistry(k.binding, s, Map.of("1.0.0", 1));
    awaitFullPass(k.binding);
    assertThat(f.queueExists(AmqpNames.versionQueue(s, "3.0.0"))).isTrue();
    assertThat(f.calls(s, 50, CallOptions.defaults().withVersion("3.0.0"))).extracting(Reply::instance).containsOnly("quiet");
    // until nothing consumes it
    quiet.close();
    await().atMost(HANG).until(() -> !f.queueExists(AmqpNames.versionQueue(s, "3.0.0")));

    // and one that still holds requests keeps it: an instance of 4.0.0 announces itself and stops (its
    // announcements sent by hand), with a request waiting in its queue and nobody consuming it
    String v4 = AmqpNames.versionQueue(s, "4.0.0");
    Channel ch = RawBroker.channel();
    ch.queueDeclare(v4, true, false, false, Map.of("x-expires", Duration.ofMinutes(5).toMillis()));
    ch.basicPublish("", v4, new AMQP.BasicProperties.Builder().messageId("waiting").build(), new byte[0]);
    PubSub events = new PubSub(f.serviceTransport);
    InstanceAnnouncement ghost = InstanceAnnouncement.newBuilder().setService(s).setVersion("4.0.0").setInstance("ghost")
        .setState(InstanceAnnouncement.State.RUNNING).setHeartbeatMs(60_000).setExpireAfterMs(180_000).build();
    events.publish(Announcer.TOPIC_PREFIX + s, ghost);
    awaitRegistry(k.binding, s, Map.of("1.0.0", 1, "4.0.0", 1));
    awaitFullPass(k.binding);
    events.publish(Announcer.TOPIC_PREFIX + s, ghost.toBuilder().setState(InstanceAnnouncement.State.STOPPING).build());
    awaitRegistry(k.binding, s, Map.of("1.0.0", 1));
    awaitFullPass(k.binding);
    assertThat(f.messageCount(v4)).as("requests waiting in " + v4).isEqualTo(1);
    // until it is empty
    ch.queuePurge(v4);
    ch.close();
    await().atMost(HANG).until(() -> !f.queueExists(v4));
  }

  @Test
  void aStoppedVersionsQuorumQueueIsDeletedOnceUnconsumedWithoutCostingTheLeaderItsConnection() {
    // On a cluster the version queues are quorum queues (docs/operations.md), and RabbitMQ refuses
    // queue.delete with if-unused or if-empty on a quorum queue with NOT_IMPLEMENTED, an error that closes
    // the whole connection: the leader lost its connection, its lease and the rule stream's consumer at
    // each try, and the queue stayed. A single broker has quorum queues too.
    KernelCopy k = f.leader();
    String s = f.name("quorumgone");
    AmqpTransport quorum = AmqpTransport.connect(AmqpOptions.of(f.uri).withQueueType(QueueType.QUORUM));
    Server a = null;
    try {
      a = TestServices.echo(quorum, s, "1.0.0", "a", RoutingFixture.HEARTBEAT, TestServices.Hook.NONE).build().start();
      Server quiet = TestServices.echo(quorum, s, "2.0.0", "quiet", null, TestServices.Hook.NONE).build().start();
      Server loud = TestServices.echo(quorum, s, "2.0.0", "loud", RoutingFixture.HEARTBEAT, TestServices.Hook.NONE).build().start();
      awaitRegistry(k.binding, s, Map.of("1.0.0", 1, "2.0.0", 1));
      awaitFullPass(k.binding);
      long losses = k.transport.stats().connectionLosses();
      String v2 = AmqpNames.versionQueue(s, "2.0.0");

      // 2.0.0 leaves the registry while an instance that does not announce itself still consumes its queue: kept
      loud.close();
      awaitRegistry(k.binding, s, Map.of("1.0.0", 1));
      awaitFullPass(k.binding);
      assertThat(f.queueExists(v2)).isTrue();
      assertThat(f.calls(s, 20, CallOptions.defaults().withVersion("2.0.0"))).extracting(Reply::instance).containsOnly("quiet");
      // until nothing consumes it
      quiet.close();
      await().atMost(HANG).until(() -> !f.queueExists(v2));
      awaitFullPass(k.binding);
      assertThat(f.queueExists(AmqpNames.versionQueue(s, "1.0.0"))).isTrue();
      assertThat(k.transport.stats().connectionLosses()).as("the leader's connection losses").isEqualTo(losses);
      assertThat(k.binding.isLeader()).isTrue();
    } finally {
      if (a != null) {
        a.close();
      }
      quorum.close();
    }
  }

  @Test
  void aNewInstanceDoesNotBindTheServiceQueueWhileARuleIsInForce() {
    // Every instance consumes the service queue; were it bound again under a rule, each request would
    // reach two queues and run twice. The binding service is stopped before the new instance starts, so
    // no leader would take such a binding away again.
    Map<String, Integer> runs = new ConcurrentHashMap<>();
    TestServices.Hook count = (ctx, version, instance) -> runs.merge(ctx.requestId(), 1, Integer::sum);
    KernelCopy k = f.leader();
    String s = f.name("nodup");
    f.start(TestServices.echo(f.serviceTransport, s, "1.0.0", "a", RoutingFixture.HEARTBEAT, count));
    f.start(TestServices.echo(f.serviceTransport, s, "2.0.0", "b", RoutingFixture.HEARTBEAT, count));
    awaitRegistry(k.binding, s, Map.of("1.0.0", 1, "2.0.0", 1));
    f.applyRoute(k, s, Map.of("1.0.0", 50, "2.0.0", 50));
    k.close();

    f.start(TestServices.echo(f.serviceTransport, s, "1.0.0", "new", RoutingFixture.HEARTBEAT, count));
    runs.clear();
    List<Reply<StringValue>> replies = f.calls(s, 2000, CallOptions.defaults());
    Map<String, Integer> byInstance = RoutingFixture.count(replies, Reply::instance);
    System.out.printf("[routing] a new 1.0.0 instance under a 50/50 rule: %s%n", byInstance);
    assertThat(byInstance).containsKey("new"); // it serves, through its version's queue
    await().atMost(HANG).until(() -> runs.size() == 2000); // a second delivery of any would be counted too
    Map<String, Integer> twice = new java.util.TreeMap<>();
    runs.forEach((id, n) -> {
      if (n != 1) {
        twice.put(id, n);
      }
    });
    assertThat(twice).as("requests run more than once").isEmpty();
  }

  @Test
  void aRetryStaysOnTheVersionItsRequestIdHashesTo() {
    // the first attempt of every call fails UNAVAILABLE (retryable); the client retries with the same
    // request id, which the route exchange hashes to the same version
    Map<String, List<String>> attempts = new ConcurrentHashMap<>();
    TestServices.Hook flaky = (ctx, version, instance) -> {
      List<String> seen = attempts.computeIfAbsent(ctx.requestId(), id -> new CopyOnWriteArrayList<>());
      seen.add(version);
      if (seen.size() == 1) {
        throw new SkiffException(ErrorCode.UNAVAILABLE, "first attempt of " + ctx.requestId() + " fails");
      }
    };
    KernelCopy k = f.leader();
    String s = f.name("retry");
    for (String[] vi : new String[][] {{"1.0.0", "a1"}, {"1.0.0", "a2"}, {"2.0.0", "b1"}, {"2.0.0", "b2"}}) {
      f.start(TestServices.echo(f.serviceTransport, s, vi[0], vi[1], RoutingFixture.HEARTBEAT, flaky));
    }
    awaitRegistry(k.binding, s, Map.of("1.0.0", 2, "2.0.0", 2));
    f.applyRoute(k, s, Map.of("1.0.0", 50, "2.0.0", 50));

    // no circuit breaker: half the attempts fail on purpose
    try (Client retrying = Client.builder().transport(f.serviceTransport).defaultTimeout(Duration.ofSeconds(30))
        .retryPolicy(RetryPolicy.defaults()).circuitBreaker(null).build()) {
      List<Reply<StringValue>> replies = RoutingFixture.calls(retrying, s, 400, CallOptions.defaults().withIdempotent(true));
      Map<String, Integer> split = RoutingFixture.count(replies, Reply::serviceVersion);
      System.out.printf("[routing] 400 calls retried once each under a 50/50 rule: %s%n", split);
      assertThat(split).containsOnlyKeys("1.0.0", "2.0.0");
      for (Reply<StringValue> r : replies) {
        List<String> versions = attempts.get(r.requestId());
        assertThat(versions).as("attempts of " + r.requestId()).hasSize(2).containsOnly(r.serviceVersion());
      }
    }
  }
}
