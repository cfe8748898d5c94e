package dev.skiff.platform.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.codahale.metrics.MetricRegistry;
import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.config.LayeredConfig;
import dev.skiff.platform.internal.Closer;
import dev.skiff.platform.liveconfig.ConfigServiceLayer;
import dev.skiff.platform.liveconfig.LiveConfig;
import dev.skiff.platform.liveconfig.LiveConfigOptions;
import dev.skiff.platform.pubsub.PubSub;
import dev.skiff.platform.security.ServiceIdentities;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.transport.amqp.AmqpNames;
import dev.skiff.platform.transport.amqp.AmqpOptions;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import dev.skiff.proto.v1.ConfigChanged;
import dev.skiff.proto.v1.ConfigView;
import dev.skiff.proto.v1.GetConfigRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Attacks on a service's live configuration (docs/configuration.md, "Delivery"): change events forged by
 * a broker user that is not the config service, views that are not JSON objects or too big, and a last
 * good copy that was tampered with. The config service here is a real server on the real broker that
 * answers {@code get} with whatever view the test sets.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LiveConfigHostileTest {
  private final String tag = HexFormat.of().formatHex(new java.security.SecureRandom().generateSeed(4));
  private final String service = "test.liveconfig." + tag;
  private final String mallory = "test.liveconfig." + tag + ".mallory";
  private final AtomicReference<ConfigView> view = new AtomicReference<>(view(1, "{\"greeting\":\"hello\"}"));
  private final AtomicInteger reads = new AtomicInteger();
  private final AtomicBoolean down = new AtomicBoolean();
  private final Closer open = new Closer();
  private AmqpTransport transport;
  private Client client;
  private BrokerUsers.User malloryUser;
  private Connection malloryRaw;

  @TempDir Path cache;

  private static ConfigView view(long version, String json) {
    return ConfigView.newBuilder().setVersion(version).setJson(json).build();
  }

  @BeforeAll
  void setUp() throws Exception {
    ConnectionFactory cf = new ConnectionFactory();
    cf.setUri(PoisonMessageTest.brokerUri());
    malloryUser = open.register(BrokerUsers.create(mallory, cf.getVirtualHost()));
    transport = AmqpTransport.connect(AmqpOptions.of(PoisonMessageTest.brokerUri()).withServiceQueueExpiry(Duration.ofMinutes(2)));
    open.register(transport);
    open.register(Server.builder(ConfigServiceLayer.SERVICE).transport(transport).announce(false)
        .endpoint(Endpoint.of("get", GetConfigRequest.class, ConfigView.class, (req, ctx) -> {
          if (down.get()) {
            throw new SkiffException(ErrorCode.UNAVAILABLE, "down for the test");
          }
          reads.incrementAndGet();
          return view.get();
        })).build().start());
    client = Client.builder().transport(transport).name(service).build();
    open.register(client);
    malloryRaw = open.register(malloryUser.connect("liveconfig-mallory"));
  }

  @AfterAll
  void tearDown() {
    open.close();
  }

  private LiveConfig start(MetricRegistry metrics, Path dir) {
    LiveConfig live = LiveConfig.start(LayeredConfig.builder().environment(Map.of()).systemProperties(Map.of()), client, transport,
        ServiceIdentities.defaults(), metrics, service, LiveConfigOptions.defaults().withCacheDir(dir).withFirstRead(Duration.ofSeconds(2)));
    open.register(live);
    return live;
  }

  private LiveConfig startDown(Path dir) {
    return LiveConfig.start(LayeredConfig.builder().environment(Map.of()).systemProperties(Map.of())
            .defaults(Map.of("greeting", "default")), client, transport, ServiceIdentities.defaults(), new MetricRegistry(), service,
        LiveConfigOptions.defaults().withCacheDir(dir));
  }

  @Test
  void aChangeEventFromABrokerUserThatIsNotTheConfigServiceIsIgnoredAndAGenuineOneIsFollowed() throws Exception {
    view.set(view(1, "{\"greeting\":\"hello\"}"));
    MetricRegistry metrics = new MetricRegistry();
    int readsBefore = reads.get(); // the class's tests share the config service: count this test's reads only
    LiveConfig live = start(metrics, cache.resolve("events"));
    await().atMost(Duration.ofSeconds(5)).until(() -> reads.get() >= readsBefore + 2); // the start, and the catch-up after subscribing
    // and the view is in force here (a first read slower than the start's wait is applied by the catch-up)
    await().atMost(Duration.ofSeconds(5)).until(() -> "hello".equals(live.config().current().getString("greeting", "")));
    int before = reads.get();
    view.set(view(2, "{\"greeting\":\"forged\"}"));
    byte[] forged = ConfigChanged.newBuilder().setVersion(99).addLayers("service/" + service).build().toByteArray();
    try (Channel ch = malloryRaw.createChannel()) {
      // as itself, and with no user id at all: neither is the config service's broker user
      ch.basicPublish(AmqpNames.EVENTS_EXCHANGE, ConfigServiceLayer.CHANGED_TOPIC,
          new AMQP.BasicProperties.Builder().userId(mallory).contentType("application/x-protobuf").build(), forged);
      ch.basicPublish(AmqpNames.EVENTS_EXCHANGE, ConfigServiceLayer.CHANGED_TOPIC,
          new AMQP.BasicProperties.Builder().contentType("application/x-protobuf").build(), forged);
    }
    await().atMost(Duration.ofSeconds(5)).until(() -> metrics.counter("skiff.config.refused-events").getCount() == 2);
    assertThat(reads.get()).isEqualTo(before);
    assertThat(live.config().current().getString("greeting")).isEqualTo("hello");

    // the config service's own event about a layer it sees is followed; one about another service's layer is not
    new PubSub(transport).publish(ConfigServiceLayer.CHANGED_TOPIC, ConfigChanged.newBuilder().setVersion(3).addLayers("service/other").build());
    new PubSub(transport).publish(ConfigServiceLayer.CHANGED_TOPIC,
        ConfigChanged.newBuilder().setVersion(2).addLayers("service/" + service).build());
    await().atMost(Duration.ofSeconds(1)).until(() -> "forged".equals(live.config().current().getString("greeting", "")));
    assertThat(reads.get()).isEqualTo(before + 1);
  }

  @Test
  void aViewThatIsNotAJsonObjectOrTooBigIsRefusedAndTheLastGoodOneStays() {
    view.set(view(1, "{\"greeting\":\"hello\"}"));
    MetricRegistry metrics = new MetricRegistry();
    LiveConfig live = start(metrics, cache.resolve("views"));
    long version = 1;
    for (String bad : List.of("[1,2,3]", "\"text\"", "{\"greeting\":", "{\"a\":1,\"a\":2", "{\"big\":\"" + "x".repeat(1 << 20) + "\"}")) {
      view.set(view(++version, bad));
      long refused = metrics.counter("skiff.config.refused").getCount();
      new PubSub(transport).publish(ConfigServiceLayer.CHANGED_TOPIC,
          ConfigChanged.newBuilder().setVersion(version).addLayers("global").build());
      await().atMost(Duration.ofSeconds(2)).until(() -> metrics.counter("skiff.config.refused").getCount() > refused);
      assertThat(live.config().current().getString("greeting")).isEqualTo("hello");
      assertThat(live.layer().version()).isEqualTo(1);
    }
    // each bad version was refused once, not again at every event or resync
    assertThat(metrics.counter("skiff.config.refused").getCount()).isEqualTo(version - 1);
    live.close();
  }

  /** @return the one last good copy in a directory, named for the service, then its broker's key */
  private Path onlyCopy(Path dir) throws java.io.IOException {
    try (var files = Files.list(dir)) {
      List<Path> all = files.toList();
      assertThat(all).hasSize(1);
      assertThat(all.get(0).getFileName().toString()).matches(java.util.regex.Pattern.quote("config-" + service) + "~broker-[0-9a-f]{16}\\.json");
      return all.get(0);
    }
  }

  @Test
  void aLastGoodCopyWrittenOnAnotherBrokerOrVirtualHostIsNotUsed() throws Exception {
    view.set(view(7, "{\"greeting\":\"this broker's\"}"));
    Path dir = cache.resolve("brokers");
    start(new MetricRegistry(), dir).close();
    Path ours = onlyCopy(dir);
    // the same service, region and environment, as a process on another broker or virtual host keeps it
    Path theirs = dir.resolve("config-" + service + "~broker-0123456789abcdef.json");
    Files.move(ours, theirs);
    down.set(true);
    try {
      try (LiveConfig live = startDown(dir)) {
        assertThat(live.config().current().getString("greeting")).as("another environment's copy").isEqualTo("default");
        assertThat(live.layer().version()).isZero();
      }
      Files.move(theirs, ours);
      try (LiveConfig live = startDown(dir)) {
        assertThat(live.config().current().getString("greeting")).isEqualTo("this broker's");
      }
    } finally {
      down.set(false);
    }
  }

  @Test
  void aTamperedLastGoodCopyIsNotUsedAndTheCopyIsReadableByItsOwnerOnly() throws Exception {
    view.set(view(7, "{\"greeting\":\"kept\"}"));
    Path dir = cache.resolve("copies");
    start(new MetricRegistry(), dir).close();
    Path copy = onlyCopy(dir);
    assertThat(Files.readString(copy)).contains("version 7").contains("kept");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(copy))).isEqualTo("rw-------");

    // while the config service cannot answer, the copy is used; a tampered one is not
    down.set(true);
    try {
      try (LiveConfig live = startDown(dir)) {
        assertThat(live.config().current().getString("greeting")).isEqualTo("kept");
      }
      for (byte[] garbage : List.of("not a copy\n{}".getBytes(StandardCharsets.UTF_8), new byte[(1 << 20) + 100],
          "skiff-config-copy 1 version x\n{}".getBytes(StandardCharsets.UTF_8),
          "skiff-config-copy 1 version 8\n[\"not an object\"]".getBytes(StandardCharsets.UTF_8))) {
        Files.write(copy, garbage);
        try (LiveConfig live = startDown(dir)) {
          assertThat(live.config().current().getString("greeting")).isEqualTo("default");
          assertThat(live.layer().live()).isFalse();
          assertThat(live.layer().version()).isZero();
        }
      }
    } finally {
      down.set(false);
    }
  }
}
