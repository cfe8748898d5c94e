package dev.skiff.kernel.config;

import static dev.skiff.kernel.Refusals.assertRefused;
import static dev.skiff.kernel.config.ConfigFixture.layer;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.util.JsonFormat;
import dev.skiff.kernel.Kernel;
import dev.skiff.kernel.monitoring.MonitoringService;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.config.Config;
import dev.skiff.platform.config.LayeredConfig;
import dev.skiff.platform.config.Settings;
import dev.skiff.platform.liveconfig.LiveConfigOptions;
import dev.skiff.platform.metrics.MonitoringOptions;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.server.ServerBuilder;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import dev.skiff.proto.v1.ConfigLayer;
import dev.skiff.proto.v1.ConfigView;
import dev.skiff.proto.v1.ListServicesRequest;
import dev.skiff.proto.v1.ListServicesResponse;
import dev.skiff.proto.v1.ServiceStatus;
import dev.skiff.testing.HeadlessChromium;
import dev.skiff.testing.RabbitMqExtension;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Delivery of the config service's changes to running services through the platform's config layer, on
 * the real broker: within a second, whole, from a last good copy while the config service is down, and
 * checked by the running service's own validators before a change is recorded.
 */
class LiveConfigDeliveryTest {
  @RegisterExtension static final RabbitMqExtension broker = RabbitMqExtension.create();

  /** A name of this test's own: a queue left by another test's instance would hold calls to it until their deadline. */
  private final String SERVICE = "com.example.greeter-" + Long.toHexString(System.nanoTime());
  private final ConfigLayer GREETER = layer(SERVICE, "", "");
  private static final ConfigLayer EU = layer("", "eu", "");

  @TempDir Path cache;

  private final ConfigFixture f = new ConfigFixture(broker.amqpUri());
  private final List<Server> servers = new ArrayList<>();
  private MemoryConfigStore store;
  private String admin;

  @BeforeEach
  void start() {
    store = new MemoryConfigStore(1000);
    f.start(store, java.util.Optional.of(SecretCipher.of(new byte[32])));
    admin = f.admin();
  }

  @AfterEach
  void stop() {
    servers.forEach(Server::close);
    f.close();
  }

  private Server instance(LiveConfigOptions options, Consumer<ServerBuilder> more) {
    ServerBuilder b = Server.builder(SERVICE).transport(AmqpTransport.connect(broker.amqpUri())).ownTransport()
        .endpoint("hello", ListServicesRequest.class, ListServicesResponse.class, (r, ctx) -> ListServicesResponse.getDefaultInstance())
        .liveConfig(LayeredConfig.builder().environment(Map.of()).systemProperties(Map.of()).defaults(Map.of("greeter.greeting", "default")),
            options);
    more.accept(b);
    Server s = b.build().start();
    servers.add(s);
    return s;
  }

  private Server instance(LiveConfigOptions options) {
    return instance(options, b -> {});
  }

  @Test
  void aCommittedChangeReachesEveryRunningInstanceWithinASecondAndWhole() {
    f.set(admin, GREETER, "greeter", "{\"greeting\":\"hello\",\"punctuation\":\"!\"}");
    f.set(admin, EU, "greeter.punctuation", "\"!!\"");
    Server eu = instance(LiveConfigOptions.defaults().withRegion("eu").withCacheDir(cache));
    Server elsewhere = instance(LiveConfigOptions.defaults().withCacheDir(cache));
    // an instance with both a region and an environment (SKIFF_REGION and SKIFF_ENV) sees the layers of both
    f.set(admin, layer("", "", "prod"), "greeter.greeting", "\"hello from prod\"");
    Server euProd = instance(LiveConfigOptions.defaults().withRegion("eu").withEnv("prod").withCacheDir(cache));
    assertThat(euProd.config().current().getString("greeter.greeting")).isEqualTo("hello from prod");
    assertThat(euProd.config().current().getString("greeter.punctuation")).isEqualTo("!!");
    f.delete(admin, layer("", "", "prod"), "greeter.greeting");
    await().atMost(Duration.ofSeconds(1)).untilAsserted(
        () -> assertThat(euProd.config().current().getString("greeter.greeting")).isEqualTo("hello"));
    assertThat(eu.config().current().getString("greeter.greeting")).isEqualTo("hello");
    assertThat(eu.config().current().getString("greeter.punctuation")).isEqualTo("!!");
    assertThat(elsewhere.config().current().getString("greeter.punctuation")).isEqualTo("!");
    List<Config> seen = new CopyOnWriteArrayList<>();
    eu.config().onChange("greeter", seen::add);

    for (int round = 0; round < 5; round++) {
      String word = "hi-" + round;
      // one change of two leaves: an instance sees both or neither
      long t0 = System.nanoTime();
      f.set(admin, GREETER, "greeter", "{\"greeting\":\"" + word + "\",\"punctuation\":\"" + word + "?\"}");
      await().atMost(Duration.ofSeconds(1)).pollInterval(Duration.ofMillis(5)).untilAsserted(() -> {
        assertThat(elsewhere.config().current().getString("greeter.greeting")).isEqualTo(word);
        assertThat(eu.config().current().getString("greeter.greeting")).isEqualTo(word);
      });
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(1));
      // the region's layer still wins where it has a value
      assertThat(eu.config().current().getString("greeter.punctuation")).isEqualTo("!!");
      assertThat(elsewhere.config().current().getString("greeter.punctuation")).isEqualTo(word + "?");
    }
    for (Config c : seen) {
      String greeting = c.getString("greeter.greeting");
      assertThat(greeting).startsWith("hi-");
    }
    assertThat(seen).hasSize(5);
    // a deleted value uncovers the layer below: here the service's own default
    f.delete(admin, GREETER, "greeter.greeting");
    await().atMost(Duration.ofSeconds(1)).untilAsserted(
        () -> assertThat(elsewhere.config().current().getString("greeter.greeting")).isEqualTo("default"));
    // a rollback reaches them as any change does
    ConfigView before = f.get(admin, SERVICE, "", "", "", false);
    f.as(admin).call(ConfigService.SERVICE, "rollback", dev.skiff.proto.v1.RollbackConfigRequest.newBuilder().setToVersion(2)
        .setMessage("back").setBaseVersion(before.getVersion()).build(), dev.skiff.proto.v1.ConfigChange.class);
    await().atMost(Duration.ofSeconds(1)).untilAsserted(
        () -> assertThat(elsewhere.config().current().getString("greeter.greeting")).isEqualTo("hello"));
  }

  /**
   * What a service opens as it starts (a store's client) is made from the config service's view, before the
   * first request, and follows its changes: the work given to beforeServing (SkiffService.prepare) sees it.
   */
  @Test
  void workBeforeServingSeesTheConfigServicesViewAndFollowsItsChanges() {
    f.set(admin, GREETER, "greeter.greeting", "\"from the config service\"");
    java.util.concurrent.atomic.AtomicReference<LayeredConfig> opened = new java.util.concurrent.atomic.AtomicReference<>();
    java.util.concurrent.atomic.AtomicReference<String> atStart = new java.util.concurrent.atomic.AtomicReference<>();
    Server[] self = new Server[1];
    Server s = Server.builder(SERVICE).transport(AmqpTransport.connect(broker.amqpUri())).ownTransport()
        .endpoint("hello", ListServicesRequest.class, ListServicesResponse.class, (r, ctx) -> ListServicesResponse.getDefaultInstance())
        .liveConfig(LayeredConfig.builder().environment(Map.of()).systemProperties(Map.of()), LiveConfigOptions.defaults().withCacheDir(cache))
        .beforeServing(() -> {
          LayeredConfig c = self[0].config();
          opened.set(c);
          atStart.set(c.current().getString("greeter.greeting"));
        })
        .build();
    self[0] = s;
    servers.add(s.start());
    assertThat(atStart.get()).as("read before the first request").isEqualTo("from the config service");
    List<String> followed = new CopyOnWriteArrayList<>();
    opened.get().onChange("greeter", c -> followed.add(c.getString("greeter.greeting")));
    f.set(admin, GREETER, "greeter.greeting", "\"changed\"");
    await().atMost(Duration.ofSeconds(1)).untilAsserted(() -> assertThat(followed).contains("changed"));
    assertThat(s.config()).isSameAs(opened.get());
  }

  @Test
  void aSecretReachesTheRunningInstancesOfItsServiceOpened() {
    String secret = "delivered-secret-Qm4";
    f.as(admin).call(ConfigService.SERVICE, "set", dev.skiff.proto.v1.SetConfigRequest.newBuilder().setLayer(GREETER).setPath("db.password")
        .setValueJson("\"" + secret + "\"").setSecret(true).setMessage("pw").setBaseVersion(f.get(admin, "", "", "", "", false).getVersion())
        .build(), dev.skiff.proto.v1.ConfigChange.class);
    Server s = instance(LiveConfigOptions.defaults().withCacheDir(cache));
    assertThat(s.config().current().getString("db.password")).isEqualTo(secret);
    assertThat(f.get(admin, SERVICE, "", "", "db.password", false).getJson()).isEqualTo("\"<secret>\"");
  }

  @Test
  void anInstanceStartedWhileTheConfigServiceIsDownStartsFromItsLastGoodCopyAndCatchesUpWhenItReturns() throws Exception {
    f.set(admin, GREETER, "greeter.greeting", "\"from the service\"");
    LiveConfigOptions options = LiveConfigOptions.defaults().withCacheDir(cache).withFirstRead(Duration.ofMillis(500));
    Server first = instance(options);
    assertThat(first.config().current().getString("greeter.greeting")).isEqualTo("from the service");
    first.close();
    try (var files = Files.list(cache)) {
      // one copy, named for the service and then the broker and virtual host (a hash: LastGoodCopy)
      assertThat(files.map(p -> p.getFileName().toString())).singleElement().asString()
          .matches(java.util.regex.Pattern.quote("config-" + SERVICE) + "~broker-[0-9a-f]{16}\\.json");
    }

    f.stopConfig();
    Server second = instance(options);
    assertThat(second.config().current().getString("greeter.greeting")).isEqualTo("from the service");
    assertThat(second.config().current().origin("greeter.greeting")).hasValue("config service skiff.config");

    // the config service comes back (same store) and a change is made: the instance catches up
    f.start(store);
    f.set(admin, GREETER, "greeter.greeting", "\"after the outage\"");
    await().atMost(Duration.ofSeconds(5)).untilAsserted(
        () -> assertThat(second.config().current().getString("greeter.greeting")).isEqualTo("after the outage"));

    // no copy and no config service: the service's own layers only
    f.stopConfig();
    Server third = instance(LiveConfigOptions.defaults().withCacheDir(cache.resolve("empty")).withFirstRead(Duration.ofMillis(300)));
    assertThat(third.config().current().getString("greeter.greeting")).isEqualTo("default");
  }

  @Test
  void aValueTheRunningServiceWouldRejectIsRefusedWithTheServicesReasonAndNotRecorded() {
    f.set(admin, GREETER, "greeter.max-names", "10");
    Server s = instance(LiveConfigOptions.defaults(), b -> b.configValidator(c -> {
      int max = c.getInt("greeter.max-names", 10);
      if (max < 1 || max > 100) {
        throw c.invalid("greeter.max-names", "must be 1 to 100, not " + max);
      }
    }));
    long head = f.get(admin, "", "", "", "", false).getVersion();
    assertRefused(() -> f.set(admin, GREETER, "greeter.max-names", "500"), ErrorCode.BAD_REQUEST,
        "service " + SERVICE + " refuses this change", "must be 1 to 100");
    assertThat(f.get(admin, "", "", "", "", false).getVersion()).isEqualTo(head);
    assertThat(s.config().current().getInt("greeter.max-names")).isEqualTo(10);
    // a value it takes goes through
    f.set(admin, GREETER, "greeter.max-names", "50");
    await().atMost(Duration.ofSeconds(1)).untilAsserted(() -> assertThat(s.config().current().getInt("greeter.max-names")).isEqualTo(50));
  }

  /**
   * The config layer's figures (docs/configuration.md: {@code skiff.config.version}, {@code skiff.config.live},
   * {@code skiff.config.refused}) travel in the instance's health report to monitoring, its JSON API and its
   * dashboard (in a real headless Chromium), and follow a change.
   */
  @Test
  void theConfigFiguresOfAServiceFollowingTheConfigServiceReachMonitoring() throws Exception {
    f.set(admin, GREETER, "greeter.greeting", "\"watched\"");
    MonitoringService monitoring = new MonitoringService();
    try (Kernel kernel = Kernel.start(broker.transport(), Settings.fromEnvironment(Map.of()), List.of(monitoring), 0)) {
      instance(LiveConfigOptions.defaults().withCacheDir(cache),
          b -> b.monitoring(MonitoringOptions.defaults().withPublishInterval(Duration.ofMillis(200))));
      String base = "http://127.0.0.1:" + kernel.web().port();
      long first = f.get(admin, SERVICE, "", "", "", false).getVersion();
      await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(reportedGauges(base))
          .containsEntry("skiff.config.version", (double) first).containsEntry("skiff.config.live", 1.0)
          .containsEntry("skiff.config.refused", 0.0));
      f.set(admin, GREETER, "greeter.greeting", "\"changed\"");
      long second = f.get(admin, SERVICE, "", "", "", false).getVersion();
      await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(reportedGauges(base))
          .containsEntry("skiff.config.version", (double) second));
      assertThat(HeadlessChromium.binary()).as("no headless Chromium: run the tests with scripts/test.sh, which installs it").isNotNull();
      String dom = HeadlessChromium.dumpDom(base + "/monitoring/", Duration.ofSeconds(3));
      assertThat(dom).contains("config version " + second + ", live");
    }
  }

  /** @return the gauges of the one instance of the service monitoring reports at /monitoring/api/services/SERVICE */
  private Map<String, Double> reportedGauges(String base) throws Exception {
    HttpResponse<String> r = HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create(base + "/monitoring/api/services/" + SERVICE)).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    ServiceStatus.Builder status = ServiceStatus.newBuilder();
    JsonFormat.parser().merge(r.body(), status);
    assertThat(status.getInstancesCount()).isEqualTo(1);
    return status.getInstances(0).getLatest().getGaugesMap();
  }
}
