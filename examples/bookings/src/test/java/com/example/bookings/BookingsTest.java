package com.example.bookings;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.health.HealthCheckRegistry;
import com.example.bookings.proto.Booking;
import com.example.bookings.proto.CreateBookingRequest;
import com.example.bookings.proto.CreateBookingResponse;
import com.example.bookings.proto.GetBookingRequest;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.ExitCodes;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.config.Config;
import dev.skiff.platform.config.LayeredConfig;
import dev.skiff.platform.health.Priority;
import dev.skiff.platform.server.Server;
import dev.skiff.proto.v1.CheckResult;
import dev.skiff.proto.v1.HealthReport;
import dev.skiff.service.cassandra.CassandraClient;
import dev.skiff.service.memcached.Memcached;
import dev.skiff.service.zookeeper.ZooKeeperClient;
import dev.skiff.testing.RabbitMqExtension;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bookings service end to end, as it runs in production: over RabbitMQ, on the real Cassandra,
 * memcached and ZooKeeper that scripts/test.sh starts (their hosts come from the SKIFF_* environment
 * variables, as in production). The keyspace is the test run's own.
 */
class BookingsTest {
  @RegisterExtension static final RabbitMqExtension broker = RabbitMqExtension.create();
  static final String KEYSPACE = "bookings_t_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);

  /** A store that is not configured fails the class (never skips it): these tests prove nothing without it. */
  @BeforeAll
  static void storesAreConfigured() {
    for (String v : new String[] {"SKIFF_CASSANDRA_HOSTS", "SKIFF_MEMCACHED_HOSTS", "SKIFF_ZOOKEEPER_HOSTS"}) {
      assertThat(System.getenv(v)).as(v + " is not set: run the tests with scripts/test.sh, which starts the stores and sets it")
          .isNotBlank();
    }
  }

  @AfterAll
  static void dropKeyspaceAndNamespace() throws Exception {
    try (LayeredConfig config = config(); CassandraClient c = CassandraClient.builder().config(config).build().start()) {
      c.session("system").driver().execute("DROP KEYSPACE IF EXISTS " + KEYSPACE);
    }
    try (ZooKeeperClient zk = ZooKeeperClient.builder()
        .config(Config.of(Map.of("zookeeper.hosts", System.getenv("SKIFF_ZOOKEEPER_HOSTS"), "zookeeper.namespace", "skiff-test")))
        .build().start()) {
      zk.curator().delete().quietly().deletingChildrenIfNeeded().forPath("/" + KEYSPACE);
    }
  }

  /** This process's environment (the SKIFF_*_HOSTS) over the test's defaults. */
  static LayeredConfig config() {
    return LayeredConfig.builder().defaults(defaults()).build();
  }

  private static Map<String, String> defaults() {
    return Map.of(
        "cassandra.keyspace", KEYSPACE,
        "cassandra.driver.advanced.metadata.schema.debouncer.window", "0",
        // sessions close at once, not after the driver's 2 s netty quiet period each (service-layer's TestStores)
        "cassandra.driver.advanced.netty.io-group.shutdown.quiet-period", "0",
        "cassandra.driver.advanced.netty.admin-group.shutdown.quiet-period", "0",
        "zookeeper.namespace", "skiff-test/" + KEYSPACE,
        "bookings.summary-interval", "200ms");
  }

  /**
   * Where nothing answers: port 1 (tcpmux, never listened on here). A free port of the ephemeral range
   * would not do: a connection to it can, now and then, connect to itself.
   */
  private static final String NOWHERE = "127.0.0.1:1";

  /**
   * Started while Cassandra does not answer (the hosts of a config file point where nothing listens):
   * the service starts anyway, its cassandra check says so and create answers UNAVAILABLE naming
   * Cassandra. When Cassandra answers (the operator points the file at the live node) the same instance
   * brings the schema up to date and serves: no restart.
   */
  @Test
  void startsWithoutCassandraAndServesOnceItAnswers(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("bookings.properties");
    Files.writeString(file, "cassandra.hosts=" + NOWHERE + "\n");
    Map<String, String> env = new HashMap<>(System.getenv());
    env.remove("SKIFF_CASSANDRA_HOSTS"); // the file says where Cassandra is
    CreateBookingRequest ada = CreateBookingRequest.newBuilder().setCustomer("Ada").setPickup("Euston").build();
    try (LayeredConfig config = LayeredConfig.builder().defaults(defaults()).file(file).environment(env).build();
        Bookings bookings = new Bookings(config, new MetricRegistry(), new HealthCheckRegistry()).open();
        Server server = bookings.start(broker.transport());
        Client client = Client.builder().transport(broker.transport()).build()) {
      var check = server.health().run("cassandra");
      assertThat(check.healthy()).isFalse();
      assertThat(check.message()).contains("not connected to Cassandra");
      assertThatThrownBy(() -> client.call(Bookings.NAME, "create", ada, CreateBookingResponse.class))
          .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE))
          .hasMessageContaining("Cassandra 'cassandra'")
          .hasMessageContaining("is not connected");

      Files.writeString(file, "cassandra.hosts=" + System.getenv("SKIFF_CASSANDRA_HOSTS") + "\n");
      config.reload();
      await("the same instance serves").atMost(Duration.ofSeconds(30)).ignoreExceptions()
          .until(() -> !client.call(Bookings.NAME, "create", ada, CreateBookingResponse.class).getId().isEmpty());
      assertThat(server.health().run("cassandra").healthy()).isTrue();
    }
  }

  /**
   * The service as main makes it ({@link Bookings#Bookings()}: its stores are opened in {@code prepare}, as
   * the server starts, after {@code register} put the stores' registry among its checks): the stores' checks
   * are run and published with the service's own, each with its priority, and a store that is down makes
   * the published health say so. Here memcached's hosts (a system property, the top layer) point where
   * nothing answers.
   */
  @Test
  void theProductionServicePublishesItsStoresChecksAndADownStoreMakesItUnhealthy() {
    Map<String, String> props = new HashMap<>();
    defaults().forEach((k, v) -> props.put("skiff." + k, v));
    props.put("skiff.memcached.hosts", NOWHERE);
    props.forEach(System::setProperty);
    Bookings bookings = new Bookings();
    Server server;
    try {
      server = bookings.start(broker.transport());
    } finally {
      props.keySet().forEach(System::clearProperty);
    }
    try (bookings; server) {
      assertThat(server.health().names()).as("the stores' checks are the service's")
          .contains("cassandra", "cassandra.replicas", "memcached", "zookeeper");
      await("memcached's check, run and published, says it is down").atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
        server.health().runAll();
        HealthReport report = server.monitor().report();
        assertThat(report.getHealthy()).as("the instance's published health").isFalse();
        assertThat(check(report, "memcached").getHealthy()).isFalse();
      });
      HealthReport report = server.monitor().report();
      assertThat(check(report, "memcached").getPriority()).isEqualTo(Priority.PAGE.toProto());
      assertThat(check(report, "cassandra").getPriority()).isEqualTo(Priority.PAGE.toProto());
      assertThat(check(report, "cassandra.replicas").getPriority()).isEqualTo(Priority.NOTIFY.toProto());
      assertThat(check(report, "zookeeper").getPriority()).isEqualTo(Priority.PAGE.toProto());
      await("Cassandra and ZooKeeper, which answer, are healthy").atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
        server.health().runAll();
        HealthReport r = server.monitor().report();
        assertThat(check(r, "cassandra").getHealthy()).as(check(r, "cassandra").getMessage()).isTrue();
        assertThat(check(r, "zookeeper").getHealthy()).as(check(r, "zookeeper").getMessage()).isTrue();
      });
    }
  }

  private static CheckResult check(HealthReport report, String name) {
    return report.getChecksList().stream().filter(c -> c.getName().equals(name)).findFirst()
        .orElseThrow(() -> new AssertionError("no check '" + name + "' in " + report.getChecksList()));
  }

  /**
   * Cassandra required at start ({@code SKIFF_CASSANDRA_REQUIRED_AT_START}) and absent: main prints one
   * line naming it to stderr and exits with 75, no stack trace.
   */
  @Test
  void mainExitsWithOneLineAnd75WhenCassandraIsRequiredAndAbsent() throws Exception {
    ProcessBuilder pb =
        new ProcessBuilder(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp", System.getProperty("java.class.path"),
            Bookings.class.getName());
    pb.environment().put("SKIFF_CASSANDRA_HOSTS", NOWHERE);
    pb.environment().put("SKIFF_CASSANDRA_REQUIRED_AT_START", "1s");
    pb.redirectOutput(ProcessBuilder.Redirect.DISCARD);
    Process p = pb.start();
    String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(2, TimeUnit.MINUTES)).as("main ended").isTrue();
    assertThat(p.exitValue()).as("exit code; stderr: " + err).isEqualTo(ExitCodes.DEPENDENCY_UNAVAILABLE);
    // the driver may log a warning first (simplelogger lines start with the time); no stack trace, and one line of main's
    assertThat(err).as("stderr").doesNotContain("\tat ").doesNotContain("Exception in thread");
    assertThat(err.lines().filter(l -> !l.matches("\\d\\d:\\d\\d:\\d\\d\\.\\d{3} \\[.*")).toList()).as("stderr: " + err).singleElement().asString()
        .startsWith(Bookings.NAME + ": Cassandra 'cassandra' at [/" + NOWHERE + "] (cassandra.hosts) is required at start and did not answer within 1 s: ")
        .contains("Connection refused");
  }

  /**
   * create stores the row in Cassandra; get reads it through memcached: the first get loads it from
   * Cassandra and caches it, the next is answered from the cache (a change made behind the service's back
   * in Cassandra is not seen), and once the cached copy is gone the next get loads the row again. What is
   * stored and cached is read with clients of the test's own.
   */
  @Test
  void createThenGetOverTheBrokerReadsThroughTheCache() {
    MetricRegistry metrics = new MetricRegistry();
    HealthCheckRegistry health = new HealthCheckRegistry();
    try (LayeredConfig config = config();
        Bookings bookings = new Bookings(config, metrics, health).open();
        Server server = bookings.start(broker.transport());
        Client client = Client.builder().transport(broker.transport()).build();
        CassandraClient reader = CassandraClient.builder().name("reader").config(config).build().start();
        Memcached cache = Memcached.builder().name("test-cache").config(config).build().start()) {
      String id = client.call(Bookings.NAME, "create",
          CreateBookingRequest.newBuilder().setCustomer("Ada").setPickup("King's Cross").build(), CreateBookingResponse.class).getId();
      assertThat(stored(reader, id)).as("create stored the row in Cassandra").isEqualTo("Ada@King's Cross");
      String key = "booking:" + id;
      assertThat(cache.get(key)).as("nothing cached before the first get").isEmpty();
      assertThat(server.health().names()).as("the stores' checks are the service's").contains("cassandra", "memcached", "zookeeper");
      assertThat(server.health().run("cassandra").healthy()).isTrue();

      Booking first = get(client, id);
      assertThat(first.getId()).isEqualTo(id);
      assertThat(first.getCustomer()).isEqualTo("Ada");
      assertThat(first.getPickup()).isEqualTo("King's Cross");
      assertThat(cache.get(key).map(BookingsTest::parse)).as("the first get cached what it loaded").contains(first);

      reader.session(KEYSPACE).driver().execute("UPDATE bookings SET customer = 'Changed' WHERE id = ?", UUID.fromString(id));
      assertThat(stored(reader, id)).isEqualTo("Changed@King's Cross");
      Booking second = get(client, id);
      assertThat(second).as("the second get came from memcached: Cassandra's row changed, the answer did not").isEqualTo(first);
      assertThat(metrics.timer("cassandra." + KEYSPACE + ".get-booking").getCount()).as("Cassandra was read once").isEqualTo(1);
      assertThat(metrics.counter("memcached.hits").getCount()).isEqualTo(1);

      assertThat(cache.delete(key)).isTrue();
      assertThat(get(client, id).getCustomer()).as("a miss reads Cassandra again").isEqualTo("Changed");
      assertThat(metrics.timer("cassandra." + KEYSPACE + ".get-booking").getCount()).isEqualTo(2);
      assertThat(cache.get(key).map(BookingsTest::parse).map(Booking::getCustomer)).as("and caches the row it read").contains("Changed");

      String json = Client.await(client.callJson(Bookings.NAME, "create", "{\"customer\": \"Grace\", \"pickup\": \"Paddington\"}", CallOptions.defaults())).value();
      assertThat(json).contains("\"id\"");
      String jsonId = json.replaceAll("(?s).*\"id\"\\s*:\\s*\"([^\"]+)\".*", "$1");
      assertThat(stored(reader, jsonId)).isEqualTo("Grace@Paddington");
      assertThat(Client.await(client.callJson(Bookings.NAME, "get", "{\"id\": \"" + jsonId + "\"}", CallOptions.defaults())).value())
          .contains("Grace").contains("Paddington");

      assertThat(health.getNames()).containsExactlyInAnyOrder("cassandra", "cassandra.replicas", "memcached", "zookeeper");
      health.runHealthChecks().forEach((n, r) -> assertThat(r.isHealthy()).as(n + ": " + r.getMessage()).isTrue());
      assertThat(server.isClosed()).isFalse();
    }
  }

  private static Booking get(Client client, String id) {
    return client.call(Bookings.NAME, "get", GetBookingRequest.newBuilder().setId(id).build(), Booking.class);
  }

  /** @return customer@pickup of the row stored for {@code id}, read from Cassandra directly, or "absent" */
  private static String stored(CassandraClient reader, String id) {
    var row = reader.session(KEYSPACE).driver().execute("SELECT customer, pickup FROM bookings WHERE id = ?", UUID.fromString(id)).one();
    return row == null ? "absent" : row.getString("customer") + "@" + row.getString("pickup");
  }

  private static Booking parse(byte[] cached) {
    try {
      return Booking.parseFrom(cached);
    } catch (InvalidProtocolBufferException e) {
      throw new AssertionError("the cached value is not a Booking", e);
    }
  }

  @Test
  void badAndUnknownIdsGetClearErrors() {
    try (LayeredConfig config = config();
        Bookings bookings = new Bookings(config, new MetricRegistry(), new HealthCheckRegistry()).open();
        Server server = bookings.start(broker.transport());
        Client client = Client.builder().transport(broker.transport()).build()) {
      String unknown = UUID.randomUUID().toString();
      assertThatThrownBy(() -> client.call(Bookings.NAME, "get", GetBookingRequest.newBuilder().setId(unknown).build(), Booking.class))
          .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NOT_FOUND))
          .hasMessageContaining(unknown);
      assertThatThrownBy(() -> client.call(Bookings.NAME, "get", GetBookingRequest.newBuilder().setId("42").build(), Booking.class))
          .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.BAD_REQUEST));
      assertThatThrownBy(() -> client.call(Bookings.NAME, "create", CreateBookingRequest.newBuilder().setCustomer("x").build(), CreateBookingResponse.class))
          .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.BAD_REQUEST));
      assertThat(server.isClosed()).isFalse();
    }
  }

  /**
   * A bad live edit of the service's own keys ({@code bookings.cache-ttl = soon}, {@code = 1000h}) is
   * refused and the last good value stays: get keeps answering. A bad value at start stops the start,
   * naming the key.
   */
  @Test
  void aBadEditOfItsOwnKeysIsRefusedAndGetKeepsAnswering(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("bookings.conf");
    Files.writeString(file, "bookings.cache-ttl = 1000h\n");
    try (LayeredConfig bad = LayeredConfig.builder().defaults(defaults()).watchedFile(file, Duration.ofMillis(50)).build()) {
      assertThatThrownBy(() -> new Bookings(bad, new MetricRegistry(), new HealthCheckRegistry()))
          .hasMessageContaining("bookings.cache-ttl = '1000h'").hasMessageContaining("30 days");
    }
    Files.writeString(file, "bookings.cache-ttl = 2m\n");
    try (LayeredConfig config = LayeredConfig.builder().defaults(defaults()).watchedFile(file, Duration.ofMillis(50)).build();
        Bookings bookings = new Bookings(config, new MetricRegistry(), new HealthCheckRegistry()).open();
        Server server = bookings.start(broker.transport());
        Client client = Client.builder().transport(broker.transport()).build()) {
      String id = client.call(Bookings.NAME, "create",
          CreateBookingRequest.newBuilder().setCustomer("Ada").setPickup("Euston").build(), CreateBookingResponse.class).getId();
      replaceWhole(file, "bookings.cache-ttl = soon\n");
      await().atMost(Duration.ofSeconds(5)).until(() -> config.rejectedChanges() == 1);
      assertThat(get(client, id).getCustomer()).isEqualTo("Ada");
      replaceWhole(file, "bookings.cache-ttl = 1000h\n");
      await().atMost(Duration.ofSeconds(5)).until(() -> config.rejectedChanges() == 2);
      assertThat(config.lastError()).hasMessageContaining("bookings.cache-ttl = '1000h'");
      assertThat(get(client, id).getCustomer()).as("the last good TTL stays").isEqualTo("Ada");
      assertThat(config.current().getDuration("bookings.cache-ttl")).hasMinutes(2);
      assertThat(server.isClosed()).isFalse();
    }
  }

  /** The service as main makes it refuses a bad value of its own keys at start, naming it. */
  @Test
  void theProductionServiceRefusesABadValueOfItsOwnKeysAtStart() {
    System.setProperty("skiff.bookings.summary-interval", "0s");
    Bookings bookings = new Bookings();
    try (bookings) {
      assertThatThrownBy(() -> bookings.start(broker.transport()).close())
          .hasMessageContaining("bookings.summary-interval = '0s' (from system property skiff.bookings.summary-interval): must be at least 100ms");
    } finally {
      System.clearProperty("skiff.bookings.summary-interval");
    }
  }

  /**
   * What a caller sends that the store or the cache should not take is the caller's fault, BAD_REQUEST:
   * a lone surrogate (Cassandra's codec cannot write it: it was INTERNAL), control characters, no visible
   * character, fields over their bound; get takes only an id in create's form, and a huge one is not
   * echoed whole.
   */
  @Test
  void hostileInputIsRefusedAsTheCallersFault() {
    try (LayeredConfig config = config();
        Bookings bookings = new Bookings(config, new MetricRegistry(), new HealthCheckRegistry()).open();
        Server server = bookings.start(broker.transport());
        Client client = Client.builder().transport(broker.transport()).build()) {
      for (String body : new String[] {
          "{\"customer\": \"Ada \\ud800\", \"pickup\": \"x\"}",
          "{\"customer\": \"Ada\", \"pickup\": \"\\udc00x\"}",
          "{\"customer\": \"\\u00a0\\u2028\", \"pickup\": \"x\"}",
          "{\"customer\": \"\\u200b\", \"pickup\": \"x\"}",
          "{\"customer\": \"Ada\\u001b[31m\", \"pickup\": \"x\"}",
          "{\"customer\": \"" + "a".repeat(Bookings.MAX_CUSTOMER + 1) + "\", \"pickup\": \"x\"}",
          "{\"customer\": \"Ada\", \"pickup\": \"" + "p".repeat(Bookings.MAX_PICKUP + 1) + "\"}"}) {
        assertThatThrownBy(() -> Client.await(client.callJson(Bookings.NAME, "create", body, CallOptions.defaults())))
            .as(body.length() > 80 ? body.substring(0, 80) : body)
            .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.BAD_REQUEST));
      }
      String longest = client.call(Bookings.NAME, "create", CreateBookingRequest.newBuilder()
          .setCustomer("é".repeat(Bookings.MAX_CUSTOMER)).setPickup("😀".repeat(Bookings.MAX_PICKUP)).build(), CreateBookingResponse.class).getId();
      assertThat(get(client, longest).getPickup()).as("the longest booking taken is stored and read back").hasSize(2 * Bookings.MAX_PICKUP);

      assertThatThrownBy(() -> get(client, "1-1-1-1-1")).as("not create's form")
          .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.BAD_REQUEST));
      String huge = "x".repeat(100_000);
      assertThatThrownBy(() -> get(client, huge))
          .isInstanceOfSatisfying(SkiffException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.BAD_REQUEST);
            assertThat(e.getMessage()).as("not echoed whole").hasSizeLessThan(400).contains("100000 characters");
          });
      assertThat(get(client, longest.toUpperCase(java.util.Locale.ROOT)).getId()).as("either case").isEqualTo(longest);
      assertThat(server.isClosed()).isFalse();
    }
  }

  @Test
  void onlyTheElectedLeaderRunsTheSummaryJobAndAnotherTakesOver() {
    try (LayeredConfig config = config();
        Bookings a = new Bookings(config, new MetricRegistry(), new HealthCheckRegistry()).open();
        Bookings b = new Bookings(config, new MetricRegistry(), new HealthCheckRegistry()).open();
        CassandraClient reader = CassandraClient.builder().name("reader").config(config).build().start()) {
      await().atMost(Duration.ofSeconds(10)).until(() -> a.isLeader() || b.isLeader());
      assertThat(a.isLeader() && b.isLeader()).as("one leader").isFalse();
      Bookings leader = a.isLeader() ? a : b;
      Bookings other = leader == a ? b : a;
      await("the leader's job ran").atMost(Duration.ofSeconds(10)).until(() -> lastSummaryBy(reader).equals(leader.instance()));

      leader.close();
      await("the other instance takes over").atMost(Duration.ofSeconds(15)).until(other::isLeader);
      await("and runs the job").atMost(Duration.ofSeconds(10)).until(() -> lastSummaryBy(reader).equals(other.instance()));
    }
  }

  private static String lastSummaryBy(CassandraClient reader) {
    var row = reader.session(KEYSPACE).driver().execute("SELECT updated_by FROM booking_stats WHERE name = 'total'").one();
    return row == null ? "" : row.getString(0);
  }

  /**
   * Writes a watched file as a config tool does, whole at once (write, then rename): written in place, the
   * watcher may read it empty between the truncation and the write, and refuse that as a change too.
   */
  private static void replaceWhole(Path file, String text) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.writeString(tmp, text);
    Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
  }
}
