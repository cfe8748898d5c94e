package com.example.bookings;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.health.HealthCheckRegistry;
import com.example.bookings.proto.Booking;
import com.example.bookings.proto.CreateBookingRequest;
import com.example.bookings.proto.CreateBookingResponse;
import com.example.bookings.proto.GetBookingRequest;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.config.LayeredConfig;
import dev.skiff.platform.health.HealthChecks;
import dev.skiff.platform.health.Priority;
import dev.skiff.platform.server.Server;
import dev.skiff.service.TestStores;
import dev.skiff.service.cassandra.CassandraClient;
import dev.skiff.service.cassandra.CassandraRing;
import dev.skiff.service.cassandra.CassandraSession;
import dev.skiff.service.cassandra.Query;
import dev.skiff.testing.RabbitMqExtension;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bookings service under load on a 3-node Cassandra ring (service-layer's {@link CassandraRing},
 * scripts/cassandra/ring.sh) with replication factor 3 and LOCAL_QUORUM, the recommended set-up
 * (docs/operations.md): clients create bookings and read each back through the service's RPC over
 * RabbitMQ while node 1 (the first contact point) is stopped. No acknowledged booking is lost (each is
 * read back afterwards, at LOCAL_QUORUM, with node 1 still down), the calls that fail do so with a clear
 * code (UNAVAILABLE or TIMEOUT), and the service's health says degraded (a NOTIFY check fails), never
 * down (a PAGE check), while the node is down. memcached and ZooKeeper are scripts/test.sh's. The
 * figures are printed in a {@code [bookings-ring]} line for docs/operations.md.
 */
// A 3-node ring started for the test (~1 min on a busy 2-core machine) and a node's drain (~10 s): on
// demand like every cluster test (-Dskiff.cluster.stores=true, listed in .ci/allowed-skips).
class BookingsRingTest {
  @RegisterExtension static final RabbitMqExtension broker = RabbitMqExtension.create();
  private static final String KEYSPACE = "bookings_ring";
  private static final int CLIENTS = 4;
  private static final Duration OUTAGE = Duration.ofSeconds(6);
  private static final Query READ_BACK = Query.of("read-back", "SELECT customer, pickup FROM bookings WHERE id = ?").idempotent();

  private final String namespace = TestStores.ZOOKEEPER_TEST_ROOT + "/bookings-ring-" + UUID.randomUUID();

  @TempDir Path dir;

  @AfterEach
  void deleteNamespace() {
    TestStores.deleteZooKeeperNamespace(namespace);
  }

  @Test
  @EnabledIfSystemProperty(named = "skiff.cluster.stores", matches = "true")
  void aNodeStoppedUnderLoadLosesNoBookingAndLeavesTheServiceDegradedNotDown() throws Exception {
    try (CassandraRing ring = new CassandraRing(dir, 3)) {
      Map<String, String> env = new HashMap<>(System.getenv());
      env.remove("SKIFF_CASSANDRA_HOSTS"); // the ring's, not scripts/test.sh's single node
      Map<String, String> defaults = new HashMap<>();
      defaults.put("cassandra.hosts", ring.hosts());
      defaults.put("cassandra.keyspace", KEYSPACE);
      defaults.put("cassandra.replication-factor", "3");
      defaults.put("cassandra.consistency", "LOCAL_QUORUM");
      defaults.put("cassandra.request-timeout", "2s");
      defaults.put("cassandra.driver.advanced.metadata.schema.debouncer.window", "0");
      defaults.put("zookeeper.namespace", namespace);
      defaults.put("bookings.summary-interval", "1h"); // a COUNT(*) over the ring is not this test's load
      MetricRegistry metrics = new MetricRegistry();
      HealthCheckRegistry registry = new HealthCheckRegistry();
      try (LayeredConfig config = LayeredConfig.builder().defaults(defaults).environment(env).build();
          Bookings bookings = new Bookings(config, metrics, registry).open();
          Server server = bookings.start(broker.transport());
          Client client = Client.builder().transport(broker.transport()).build();
          CassandraClient reader = CassandraClient.builder().name("reader").config(config).build().start()) {
        HealthChecks health = server.health();
        await("the service serves on the ring, every node seen up").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200))
            .ignoreExceptions()
            .until(() -> !create(client, "probe").isEmpty() && health.run("cassandra.replicas").healthy());

        Load load = new Load(client);
        List<Thread> workers = new ArrayList<>();
        for (int i = 0; i < CLIENTS; i++) {
          Thread t = new Thread(load::run, "bookings-load-" + i);
          t.start();
          workers.add(t);
        }
        await("the load runs").atMost(Duration.ofSeconds(30)).until(() -> load.created.size() >= 100);

        long stoppedAt = System.nanoTime();
        ring.stop(1);
        long stopTook = Duration.ofNanos(System.nanoTime() - stoppedAt).toMillis();
        await("the service sees node 1 gone").atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100))
            .until(() -> !health.run("cassandra.replicas").healthy());
        long seenAfter = Duration.ofNanos(System.nanoTime() - stoppedAt).toMillis();
        String replicas = health.run("cassandra.replicas").message();

        // the outage: load without node 1, the service's health sampled every 100 ms
        long createdBefore = load.created.size();
        long failedBefore = load.failed();
        int degraded = 0;
        int down = 0;
        int samples = 0;
        List<String> downBecause = new ArrayList<>();
        long outageEnd = System.nanoTime() + OUTAGE.toNanos();
        while (System.nanoTime() < outageEnd) {
          health.runAll();
          samples++;
          List<String> page = failing(health, Priority.PAGE);
          if (!page.isEmpty()) {
            down++;
            downBecause.addAll(page);
          } else if (!failing(health, Priority.NOTIFY).isEmpty()) {
            degraded++;
          }
          Thread.sleep(100); // the sampling period, not a wait for a condition
        }
        long createdDuring = load.created.size() - createdBefore;
        long failedDuring = load.failed() - failedBefore;
        load.stop.set(true);
        for (Thread t : workers) {
          t.join(60_000);
        }

        // every acknowledged booking, read from Cassandra (not the cache) at LOCAL_QUORUM, node 1 still down
        CassandraSession s = reader.session(KEYSPACE);
        int lost = 0;
        for (Map.Entry<String, String> e : load.created.entrySet()) {
          String stored = s.one(READ_BACK, UUID.fromString(e.getKey())).map(r -> r.getString("customer")).orElse(null);
          if (!e.getValue().equals(stored)) {
            lost++;
          }
        }
        System.out.printf("[bookings-ring] 3 nodes, RF 3, LOCAL_QUORUM, %d clients over RabbitMQ: stop of node 1 took %d ms, seen down after %d ms (%s); "
                + "creates acknowledged %d, reads %d (not found %d), failed %s (e.g. %s); during the %d s outage: created %d, failed %d; "
                + "health samples: degraded %d of %d, down %d %s; acknowledged bookings read back at LOCAL_QUORUM %d, lost %d%n",
            CLIENTS, stopTook, seenAfter, replicas, load.created.size(), load.reads.get(), load.notFound.get(), load.failures,
            load.examples.values(), OUTAGE.toSeconds(), createdDuring, failedDuring, degraded, samples, down, downBecause, load.created.size(), lost);
        assertThat(lost).as("no acknowledged booking is lost").isZero();
        assertThat(load.notFound.get()).as("a quorum read sees the quorum write before it").isZero();
        assertThat(load.failures.keySet()).as("failures only with clear codes").isSubsetOf(ErrorCode.UNAVAILABLE, ErrorCode.TIMEOUT);
        assertThat(createdDuring).as("bookings are created on the remaining nodes").isGreaterThan(20);
        assertThat(down).as("the service never says down while it serves").isZero();
        assertThat(degraded).as("it says degraded throughout the outage").isEqualTo(samples);
      }
    }
  }

  /** @return the names of the checks of {@code priority} failing at their last run */
  private static List<String> failing(HealthChecks health, Priority priority) {
    return health.results().stream()
        .filter(st -> st.priority() == priority && st.result() != null && !st.result().healthy())
        .map(st -> st.name() + ": " + st.result().message())
        .toList();
  }

  private static String create(Client client, String customer) {
    return client.call(Bookings.NAME, "create", CreateBookingRequest.newBuilder().setCustomer(customer).setPickup("Euston").build(),
        CreateBookingResponse.class).getId();
  }

  /** Clients creating a booking and reading it back through the service, counting outcomes by code. */
  private static final class Load {
    final Client client;
    final AtomicBoolean stop = new AtomicBoolean();
    /** Acknowledged bookings: id to customer. */
    final ConcurrentMap<String, String> created = new ConcurrentHashMap<>();
    final AtomicLong reads = new AtomicLong();
    final AtomicLong notFound = new AtomicLong();
    final ConcurrentMap<ErrorCode, AtomicLong> failures = new ConcurrentHashMap<>();
    final ConcurrentMap<ErrorCode, String> examples = new ConcurrentHashMap<>();

    Load(Client client) {
      this.client = client;
    }

    long failed() {
      return failures.values().stream().mapToLong(AtomicLong::get).sum();
    }

    void run() {
      while (!stop.get()) {
        String customer = "c-" + UUID.randomUUID();
        try {
          String id = create(client, customer);
          created.put(id, customer);
          Booking b = client.call(Bookings.NAME, "get", GetBookingRequest.newBuilder().setId(id).build(), Booking.class);
          reads.incrementAndGet();
          if (!b.getCustomer().equals(customer)) {
            notFound.incrementAndGet();
          }
        } catch (SkiffException e) {
          if (e.code() == ErrorCode.NOT_FOUND) {
            notFound.incrementAndGet();
          } else {
            failures.computeIfAbsent(e.code(), k -> new AtomicLong()).incrementAndGet();
            examples.putIfAbsent(e.code(), e.getMessage());
          }
        }
      }
    }
  }
}
