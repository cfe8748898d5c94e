package dev.skiff.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.codahale.metrics.MetricRegistry;
import com.google.protobuf.StringValue;
import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import dev.skiff.gateway.Gateway;
import dev.skiff.gateway.GatewayOptions;
import dev.skiff.kernel.Guard;
import dev.skiff.kernel.Kernel;
import dev.skiff.kernel.KernelContext;
import dev.skiff.kernel.KernelService;
import dev.skiff.kernel.WebServer;
import dev.skiff.kernel.binding.BindingService;
import dev.skiff.kernel.discovery.DiscoveryService;
import dev.skiff.kernel.login.LoginService;
import dev.skiff.kernel.monitoring.MonitoringService;
import dev.skiff.kernel.trace.TraceService;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.config.Settings;
import dev.skiff.platform.discovery.Announcer;
import dev.skiff.platform.health.HealthCheck;
import dev.skiff.platform.health.ServiceMonitor;
import dev.skiff.platform.metrics.MonitoringOptions;
import dev.skiff.platform.pubsub.PubSub;
import dev.skiff.platform.security.Access;
import dev.skiff.platform.security.ServiceIdentities;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.trace.SpanSink;
import dev.skiff.platform.transport.Transport;
import dev.skiff.platform.transport.amqp.AmqpNames;
import dev.skiff.platform.transport.amqp.AmqpOptions;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import dev.skiff.proto.v1.AddUserRequest;
import dev.skiff.proto.v1.CheckResult;
import dev.skiff.proto.v1.EndpointInfo;
import dev.skiff.proto.v1.EndpointStats;
import dev.skiff.proto.v1.GetRouteRequest;
import dev.skiff.proto.v1.HealthReport;
import dev.skiff.proto.v1.InstanceAnnouncement;
import dev.skiff.proto.v1.ListServicesRequest;
import dev.skiff.proto.v1.ListServicesResponse;
import dev.skiff.proto.v1.LoginRequest;
import dev.skiff.proto.v1.RouteRule;
import dev.skiff.proto.v1.RouteStatus;
import dev.skiff.proto.v1.Session;
import dev.skiff.proto.v1.SetRouteRequest;
import dev.skiff.proto.v1.Span;
import dev.skiff.proto.v1.SpanBatch;
import dev.skiff.proto.v1.UserResponse;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Attacks by a party that holds one service's broker credentials, against a virtual host set up by
 * {@code skiff credentials setup} exactly as docs/security.md tells production to: so that these tests
 * prove the configuration users are told to run. Each attack is refused, by the broker (a forged
 * {@code user_id}, another service's queue, another service's event topics) or by Skiff (an impostor's
 * reply, a fake announcement, health report or spans, a route change by a non-administrator), and counted.
 *
 * <p>The virtual host and the users are this class's own (unique names), deleted afterwards; guest is
 * confined (it has no permission in the virtual host), so nothing here runs as a shared user.
 *
 * <p>Also the attacks on the operator's terminal (issue 17): broker passwords that break a naive pattern
 * (none is printed by any command), and terminal escapes in what services announce and report (they are
 * printed escaped). The latter runs on the tests' own virtual host, as in development.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HostileInputTest {
  private final String tag = EchoService.randomHex(4);
  private final String kernelUser = "skiff-kernel-" + tag;
  private final String tool = "skiff-cli-" + tag;
  private final String gatewayUser = "skiff-gateway-" + tag;
  private final String alice = "test.sec" + tag + ".alice";
  private final String bob = "test.sec" + tag + ".bob";
  private final String mallory = "test.sec" + tag + ".mallory";
  private final ServiceIdentities identities = new ServiceIdentities(kernelUser, gatewayUser, Set.of(), Set.of(tool));
  private static final String ADMIN_PASSWORD = "hostile-admin-pass";

  private String vhost;
  private final Map<String, String> passwords = new HashMap<>();
  private final List<AutoCloseable> open = new ArrayList<>();
  private final MetricRegistry kernelMetrics = new MetricRegistry();
  private Guard guard;
  private MonitoringService monitoring;
  private TraceService trace;
  private AmqpTransport aliceTransport;
  private final List<Optional<String>> aliceCallers = new CopyOnWriteArrayList<>();
  private final List<String> aliceFromServices = new CopyOnWriteArrayList<>();

  @BeforeAll
  void setUp() throws Exception {
    // a vhost of this test run's (its name ends with the run's pid, so a later run cleans it up if we die)
    String runVhost = ManagementOption.vhost(AmqpOptions.of(EchoService.brokerUri()));
    String pid = runVhost.startsWith("skiff-test-") ? runVhost.substring(runVhost.lastIndexOf('-') + 1) : Long.toString(ProcessHandle.current().pid());
    vhost = (runVhost.startsWith("skiff-test-") ? runVhost : "skiff-test-0") + "-sec" + tag + "-" + pid;
    Skiff.Result setup = Skiff.run(Map.of("SKIFF_AMQP_URI", EchoService.brokerUriWithVhost(vhost)),
        "credentials", "setup", "--kernel-user", kernelUser, "--gateway-user", gatewayUser, "--tool-user", tool,
        "--service", alice, "--service", bob, "--service", mallory, "--guest", "confine");
    assertThat(setup.exitCode()).as(setup.toString()).isZero();
    for (String line : setup.out().split("\n")) {
      String[] f = line.trim().split(" ");
      if (f.length == 2) {
        passwords.put(f[0], f[1]);
      }
    }
    assertThat(passwords).containsOnlyKeys(kernelUser, gatewayUser, tool, alice, bob, mallory);

    AmqpTransport kernel = connect(kernelUser);
    guard = new Guard(identities, kernelMetrics);
    WebServer web = WebServer.start("127.0.0.1", 0);
    open.add(web::close);
    monitoring = new MonitoringService();
    trace = new TraceService();
    List<KernelService> services = List.of(new DiscoveryService(), new BindingService(Clock.systemUTC(), Duration.ofMillis(200)), monitoring, trace,
        new LoginService(Map.of("SKIFF_BOOTSTRAP_ADMIN_PASSWORD", ADMIN_PASSWORD)));
    KernelContext ctx = new KernelContext(kernel, Settings.fromEnvironment(Map.of()), web, kernelMetrics, services, guard);
    for (KernelService s : services) {
      s.start(ctx);
      open.add(0, s::close);
    }

    aliceTransport = connect(alice);
    Server server = Server.builder(alice)
        .transport(aliceTransport)
        .endpoint(Endpoint.of("who", StringValue.class, StringValue.class, (req, c) -> {
          aliceCallers.add(c.callerIdentity());
          aliceFromServices.add(c.fromService());
          return StringValue.of(c.callerIdentity().orElse("?"));
        }).withAccess(Access.anyone()))
        .endpoint(Endpoint.of("internal", StringValue.class, StringValue.class,
            (req, c) -> StringValue.of(c.caller().service().orElse("?"))))
        .build()
        .start();
    open.add(0, server::close);
  }

  @AfterAll
  void tearDown() throws Exception {
    for (AutoCloseable c : open) {
      c.close();
    }
    ManagementApi api = new ManagementOption().resolve(Map.of(), AmqpOptions.of(EchoService.brokerUri()), null);
    for (String u : List.of(kernelUser, gatewayUser, tool, alice, bob, mallory)) {
      api.deleteUser(u);
    }
    api.deleteVhost(vhost);
  }

  private String uri(String user) {
    URI base = URI.create(EchoService.brokerUri());
    return "amqp://" + user + ":" + passwords.get(user) + "@" + base.getHost() + ":" + (base.getPort() < 0 ? 5672 : base.getPort()) + "/" + vhost;
  }

  private AmqpTransport connect(String user) {
    AmqpTransport t = AmqpTransport.connect(AmqpOptions.of(uri(user)).withConnectionName("hostile-" + user));
    open.add(0, t::close);
    return t;
  }

  private Connection raw(String user) throws Exception {
    ConnectionFactory f = new ConnectionFactory();
    f.setUri(uri(user));
    f.setAutomaticRecoveryEnabled(false);
    Connection c = f.newConnection("hostile-raw-" + user);
    open.add(0, c::close);
    return c;
  }

  private Client client(Transport t, String name, MetricRegistry metrics) {
    Client c = Client.builder().transport(t).name(name).identities(identities).metrics(metrics).build();
    open.add(0, c::close);
    return c;
  }

  private long refused(String kind) {
    return guard.refusals(kind).getCount();
  }

  // ---- the whole RPC path works under least privilege ----

  @Test
  void aServiceWithItsLeastPrivilegeUserServesCallsAndPublishesAndTheCallerLearnsWhoAnswered() {
    AmqpTransport bobTransport = connect(bob);
    String reply = client(bobTransport, bob, new MetricRegistry()).call(alice, "who", StringValue.of("hi"), StringValue.class).getValue();
    assertThat(reply).as("the handler saw the broker-proven caller").isEqualTo(bob);

    BlockingQueue<String> senders = new ArrayBlockingQueue<>(4);
    Transport.Subscription sub = new PubSub(bobTransport).subscribeWithSender("app." + tag + ".#", null, StringValue.class,
        (topic, e, sender) -> senders.add(sender + ":" + e.getValue()));
    open.add(0, sub::close);
    new PubSub(aliceTransport).publish("app." + tag + ".news", StringValue.of("fresh"));
    await().atMost(Duration.ofSeconds(10)).until(() -> senders.contains(alice + ":fresh"));

    // its own announcements and health reports reach the kernel (topic permissions allow its own name)
    Client kernelClient = client(connect(kernelUser), kernelUser, new MetricRegistry());
    await().atMost(Duration.ofSeconds(10)).until(() -> kernelClient.call(DiscoveryService.SERVICE, "list",
        ListServicesRequest.newBuilder().setService(alice).build(), ListServicesResponse.class).getInstancesCount() == 1);
  }

  @Test
  void aServiceStartedOnAnotherServicesBrokerUserIsRefusedAsForbiddenNamingWhy() {
    // a configuration mistake, not an outage: FORBIDDEN (SkiffService.run exits 78 on it), the broker's words
    // and what to do, where it was UNAVAILABLE with "java.io.IOException" and the reason deep in a stack trace
    AmqpTransport malloryTransport = connect(mallory);
    try {
      assertThatThrownBy(() -> Server.builder(alice).transport(malloryTransport)
          .endpoint(Endpoint.of("who", StringValue.class, StringValue.class, (req, c) -> req)).announce(false).build().start())
          .isInstanceOfSatisfying(SkiffException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.FORBIDDEN);
            assertThat(e.description()).contains("cannot bind service " + alice, "ACCESS_REFUSED", mallory,
                "'skiff credentials create " + alice + "'");
          });
    } finally {
      malloryTransport.close();
    }
  }

  @Test
  void aServiceCannotConsumeAnotherServicesQueue() throws Exception {
    Channel ch = raw(mallory).createChannel();
    assertThatThrownBy(() -> ch.basicConsume(AmqpNames.serviceQueue(alice), true, new DefaultConsumer(ch)))
        .isInstanceOf(IOException.class)
        .hasStackTraceContaining("ACCESS_REFUSED");
  }

  @Test
  void theGatewayRunsOnItsOwnLeastPrivilegeUserAndHoldsNoKernelPower() throws Exception {
    Client kernelClient = client(connect(kernelUser), kernelUser, new MetricRegistry());
    try (Gateway gateway = Gateway.start(connect(gatewayUser), identities, GatewayOptions.defaults().withPort(0).withStopGrace(java.time.Duration.ZERO))) {
      // it declares, consumes, subscribes and announces itself with a service's permissions, as skiff.gateway
      await().atMost(Duration.ofSeconds(10)).until(() -> kernelClient.call(DiscoveryService.SERVICE, "list",
          ListServicesRequest.newBuilder().setService(ServiceIdentities.GATEWAY_SERVICE).build(), ListServicesResponse.class)
          .getInstancesCount() == 1);
      // a person signs in through it and reads a kernel view: what it may do there comes from the person's token
      HttpClient http = HttpClient.newHttpClient();
      String base = "http://127.0.0.1:" + gateway.port();
      HttpResponse<String> session = await().atMost(Duration.ofSeconds(15)).ignoreExceptions().until(() -> http.send(
          HttpRequest.newBuilder(URI.create(base + "/auth/v1/login")).header("Content-Type", "application/json")
              .POST(HttpRequest.BodyPublishers.ofString("{\"user\":\"admin\",\"password\":\"" + ADMIN_PASSWORD + "\"}")).build(),
          HttpResponse.BodyHandlers.ofString()), r -> r.statusCode() == 200);
      String token = session.body().replaceAll(".*\"token\":\"([^\"]+)\".*", "$1");
      HttpResponse<String> services = await().atMost(Duration.ofSeconds(15)).ignoreExceptions().until(() -> http.send(
          HttpRequest.newBuilder(URI.create(base + "/admin/v1/services")).header("Authorization", "Bearer " + token).GET().build(),
          HttpResponse.BodyHandlers.ofString()), r -> r.statusCode() == 200 && r.body().contains(ServiceIdentities.GATEWAY_SERVICE));
      assertThat(services.body()).contains(alice);
    }
    // and the broker refuses its user the kernel's queues and the kernel's event topics
    Channel consume = raw(gatewayUser).createChannel();
    assertThatThrownBy(() -> consume.basicConsume(AmqpNames.serviceQueue(LoginService.SERVICE), true, new DefaultConsumer(consume)))
        .isInstanceOf(IOException.class).hasStackTraceContaining("ACCESS_REFUSED");
    Channel announce = raw(gatewayUser).createChannel();
    announce.confirmSelect();
    announce.basicPublish(AmqpNames.EVENTS_EXCHANGE, Announcer.TOPIC_PREFIX + LoginService.SERVICE, null, new byte[0]);
    assertThatThrownBy(() -> announce.waitForConfirmsOrDie(10_000)).hasStackTraceContaining("ACCESS_REFUSED");
  }

  @Test
  void theGatewaysUserIsCreatedWithTheGatewaysPermissionsOnlyWhenSaidSo() throws Exception {
    String second = gatewayUser + "-b";
    Map<String, String> env = Map.of("SKIFF_AMQP_URI", EchoService.brokerUriWithVhost(vhost), "SKIFF_GATEWAY_USER", second);
    Skiff.Result plain = Skiff.run(env, "credentials", "create", second);
    assertThat(plain.exitCode()).as(plain.toString()).isEqualTo(2);
    assertThat(plain.err()).contains("add --gateway");
    Skiff.Result made = Skiff.runWithInput(env, "gateway-b-password-1\n", "credentials", "create", second, "--gateway", "--password-stdin");
    ManagementApi api = new ManagementOption().resolve(Map.of(), AmqpOptions.of(EchoService.brokerUri()), null);
    try {
      assertThat(made.exitCode()).as(made.toString()).isZero();
      assertThat(made.err()).contains("as service " + ServiceIdentities.GATEWAY_SERVICE);
      passwords.put(second, "gateway-b-password-1");
      ConnectionFactory f = new ConnectionFactory();
      f.setUri(uri(second));
      f.setAutomaticRecoveryEnabled(false);
      try (Connection c = f.newConnection("hostile-raw-" + second)) {
        Channel ch = c.createChannel();
        ch.queueDeclare(AmqpNames.replyQueue(second, "x" + tag), false, true, true, null);
        ch.queueDeclare(AmqpNames.instanceQueue(ServiceIdentities.GATEWAY_SERVICE, "t" + tag), false, true, true, null);
        assertThatThrownBy(() -> ch.basicConsume(AmqpNames.serviceQueue(LoginService.SERVICE), true, new DefaultConsumer(ch)))
            .isInstanceOf(IOException.class).hasStackTraceContaining("ACCESS_REFUSED");
      }
    } finally {
      api.deleteUser(second);
    }
    Skiff.Result again = Skiff.run(env, "credentials", "delete", second);
    assertThat(again.exitCode()).as(again.toString()).isZero();
    assertThat(again.err()).as("not said to be deleted when it was not there").contains("no broker user '" + second + "': nothing to delete");
  }

  // ---- identity of callers ----

  @Test
  void aForgedUserIdIsRefusedByTheBrokerAndNeverReachesTheService() throws Exception {
    Connection c = raw(mallory);
    Channel forging = c.createChannel();
    forging.confirmSelect();
    forging.basicPublish(AmqpNames.RPC_EXCHANGE, AmqpNames.serviceKey(alice), true,
        request("forged-" + tag).userId(bob).build(), StringValue.of("x").toByteArray());
    assertThatThrownBy(() -> forging.waitForConfirmsOrDie(10_000)).hasStackTraceContaining("PRECONDITION_FAILED");

    // the same attacker without a user_id: served, but as nobody
    Channel plain = c.createChannel();
    plain.basicPublish(AmqpNames.RPC_EXCHANGE, AmqpNames.serviceKey(alice), true, request("anon-" + tag).build(),
        StringValue.of("x").toByteArray());
    await().atMost(Duration.ofSeconds(10)).until(() -> aliceFromServices.contains("anon-" + tag));
    assertThat(aliceFromServices).as("the forged request never reached the handler").doesNotContain("forged-" + tag);
    int i = aliceFromServices.indexOf("anon-" + tag);
    assertThat(aliceCallers.get(i)).as("a request without user_id is unauthenticated").isEmpty();
  }

  /** A request as a hand-written client makes it: Skiff's packed context naming {@code from} as its caller. */
  private static AMQP.BasicProperties.Builder request(String from) {
    long now = System.currentTimeMillis();
    return new AMQP.BasicProperties.Builder()
        .correlationId("c-" + from).messageId("r-" + from).type("who").contentType("application/x-protobuf")
        .appId((now + 10_000) + ";" + now + ";" + from + ";i1;");
  }

  @Test
  void aCallClaimingAnotherServicesNameIsServedAsTheRealCaller() {
    String reply = client(connect(mallory), bob, new MetricRegistry())
        .call(alice, "who", StringValue.of("I am bob"), StringValue.class).getValue();
    assertThat(reply).isEqualTo(mallory);
    assertThat(aliceFromServices).contains(bob);
  }

  @Test
  void anEndpointThatDeclaresNothingServesProvenServicesOnlyNotAClaimOrAnAnonymousMessage() throws Exception {
    assertThat(client(connect(bob), bob, new MetricRegistry()).call(alice, "internal", StringValue.of("hi"), StringValue.class).getValue())
        .isEqualTo(bob);
    assertThatThrownBy(() -> client(connect(mallory), bob, new MetricRegistry())
            .call(alice, "internal", StringValue.of("I am bob"), StringValue.class))
        .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAUTHORIZED));
    // a hand-made request without user_id proves nothing: answered UNAUTHORIZED, the handler never runs
    Connection c = raw(mallory);
    Channel ch = c.createChannel();
    // a request that proves no broker user has no reply queue of its own: only direct reply-to is answered
    String replies = AmqpNames.DIRECT_REPLY_TO;
    BlockingQueue<String> answers = new ArrayBlockingQueue<>(1);
    ch.basicConsume(replies, true, (consumerTag, d) -> answers.add(new String(d.getBody(), java.nio.charset.StandardCharsets.UTF_8)), t -> {});
    ch.basicPublish(AmqpNames.RPC_EXCHANGE, AmqpNames.serviceKey(alice), true,
        request("anon-internal-" + tag).type("internal").replyTo(replies).build(), StringValue.of("x").toByteArray());
    assertThat(answers.poll(10, java.util.concurrent.TimeUnit.SECONDS)).contains("sign in first");
  }

  // ---- identity of repliers ----

  @Test
  void anImpostorsReplyIsDroppedAndCountedAndTheRealReplyWins() throws Exception {
    String target = bob; // played by a raw consumer with bob's credentials, so that the test sees the request
    Connection real = raw(target);
    Channel serve = real.createChannel();
    serve.queueDeclare(AmqpNames.serviceQueue(target), true, false, false, null);
    serve.queueBind(AmqpNames.serviceQueue(target), AmqpNames.RPC_EXCHANGE, AmqpNames.serviceKey(target));
    BlockingQueue<AMQP.BasicProperties> requests = new ArrayBlockingQueue<>(1);
    serve.basicConsume(AmqpNames.serviceQueue(target), true, new DefaultConsumer(serve) {
      @Override
      public void handleDelivery(String t, Envelope env, AMQP.BasicProperties props, byte[] body) {
        requests.add(props);
      }
    });
    MetricRegistry metrics = new MetricRegistry();
    CompletableFuture<StringValue> call = CompletableFuture.supplyAsync(
        () -> client(connect(alice), alice, metrics).call(target, "who", StringValue.of("?"), StringValue.class));
    AMQP.BasicProperties req = requests.poll(10, TimeUnit.SECONDS);
    assertThat(req).isNotNull();

    Channel impostor = raw(mallory).createChannel();
    impostor.confirmSelect();
    AMQP.BasicProperties.Builder reply = new AMQP.BasicProperties.Builder()
        .correlationId(req.getCorrelationId()).contentType("application/x-protobuf").appId("ok;1;impostor");
    impostor.basicPublish("", req.getReplyTo(), reply.userId(mallory).build(), StringValue.of("fake").toByteArray());
    impostor.basicPublish("", req.getReplyTo(), reply.userId(null).build(), StringValue.of("fake too").toByteArray());
    impostor.waitForConfirmsOrDie(10_000);
    Channel answer = real.createChannel();
    answer.basicPublish("", req.getReplyTo(), reply.userId(target).appId("ok;1;real").build(), StringValue.of("real").toByteArray());

    assertThat(call.get(10, TimeUnit.SECONDS).getValue()).isEqualTo("real");
    assertThat(metrics.counter("skiff.client.impostor-replies").getCount()).isEqualTo(2);
  }

  // ---- kernel services ----

  @Test
  void aFakeAnnouncementIsRefusedByTheBrokerOnTheOthersTopicAndByDiscoveryOnOnesOwn() throws Exception {
    Channel ch = raw(mallory).createChannel();
    ch.confirmSelect();
    InstanceAnnouncement fake = InstanceAnnouncement.newBuilder().setService(alice).setVersion("6.6.6").setInstance("fake" + tag)
        .setState(InstanceAnnouncement.State.RUNNING).build();
    ch.basicPublish(AmqpNames.EVENTS_EXCHANGE, Announcer.TOPIC_PREFIX + alice, null, fake.toByteArray());
    assertThatThrownBy(() -> ch.waitForConfirmsOrDie(10_000)).hasStackTraceContaining("ACCESS_REFUSED");

    long before = refused(Guard.ANNOUNCEMENT);
    new PubSub(connect(mallory)).publish(Announcer.TOPIC_PREFIX + mallory, fake);
    await().atMost(Duration.ofSeconds(10)).until(() -> refused(Guard.ANNOUNCEMENT) > before);
    Client kernelClient = client(connect(kernelUser), kernelUser, new MetricRegistry());
    assertThat(kernelClient.call(DiscoveryService.SERVICE, "list", ListServicesRequest.newBuilder().setService(alice).build(),
        ListServicesResponse.class).getInstancesList()).noneMatch(i -> i.getAnnouncement().getInstance().equals("fake" + tag));
  }

  @Test
  void aFakeHealthReportForAnotherServiceIsRefusedAndCounted() {
    long before = refused(Guard.HEALTH_REPORT);
    HealthReport fake = HealthReport.newBuilder().setService(alice).setInstance("fake" + tag).setHealthy(false)
        .setSentEpochMillis(System.currentTimeMillis()).setIntervalMillis(1000).build();
    new PubSub(connect(mallory)).publish(ServiceMonitor.TOPIC_PREFIX + mallory, fake);
    await().atMost(Duration.ofSeconds(10)).until(() -> refused(Guard.HEALTH_REPORT) > before);
    assertThat(monitoring.store().service(alice).map(Object::toString).orElse("")).doesNotContain("fake" + tag);
  }

  @Test
  void spansForAnotherServiceAreRefusedAndCounted() {
    long before = refused(Guard.SPAN);
    String traceId = EchoService.randomHex(16);
    SpanBatch batch = SpanBatch.newBuilder().setService(mallory).setInstance("m1")
        .addSpans(Span.newBuilder().setTraceId(traceId).setSpanId(EchoService.randomHex(8)).setService(alice))
        .build();
    new PubSub(connect(mallory)).publish(SpanSink.TOPIC_PREFIX + mallory, batch);
    await().atMost(Duration.ofSeconds(10)).until(() -> refused(Guard.SPAN) > before);
    assertThatThrownBy(() -> trace.get(traceId))
        .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NOT_FOUND));
  }

  @Test
  void aRouteChangeNeedsASignedInPersonWithTheRoleWhateverBrokerUserSendsIt() {
    SetRouteRequest change = SetRouteRequest.newBuilder().setForce(true)
        .setRule(RouteRule.newBuilder().setService(alice).putWeights("9.9.9", 100)).build();
    GetRouteRequest get = GetRouteRequest.newBuilder().setService(alice).build();
    // a service, without a person: not signed in
    Client byService = client(connect(mallory), mallory, new MetricRegistry());
    assertThatThrownBy(() -> byService.call(BindingService.SERVICE, "set_route", change, RouteStatus.class))
        .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAUTHORIZED));
    assertThat(byService.call(BindingService.SERVICE, "get_route", get, RouteStatus.class).getRule().getWeightsMap()).isEmpty();
    // the tool user, without a person: not signed in, and not a service either, so not even the read view
    Client byTool = client(connect(tool), "", new MetricRegistry());
    assertThatThrownBy(() -> byTool.call(BindingService.SERVICE, "get_route", get, RouteStatus.class))
        .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAUTHORIZED));
    // a person without the role, through the tool user: not allowed, and counted
    Client byAdmin = asAdmin();
    byAdmin.call(LoginService.SERVICE, "users.add", AddUserRequest.newBuilder().setUser("viewer").setPassword("viewer-password").build(),
        UserResponse.class);
    Client byViewer = as(connect(tool), login("viewer", "viewer-password"));
    long before = refused(Guard.ROUTE_CHANGE);
    assertThatThrownBy(() -> byViewer.call(BindingService.SERVICE, "set_route", change, RouteStatus.class))
        .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.FORBIDDEN));
    assertThat(refused(Guard.ROUTE_CHANGE)).isEqualTo(before + 1);
    assertThat(byViewer.call(BindingService.SERVICE, "get_route", get, RouteStatus.class).getRule().getWeightsMap()).isEmpty();
    // the administrator
    assertThat(byAdmin.call(BindingService.SERVICE, "set_route", change, RouteStatus.class).getRule().getWeightsMap())
        .containsEntry("9.9.9", 100);
    byAdmin.call(BindingService.SERVICE, "set_route",
        SetRouteRequest.newBuilder().setRule(RouteRule.newBuilder().setService(alice)).build(), RouteStatus.class);
  }

  @Test
  void theCliSignsInThroughTheToolUserAndOnlyThenChangesARoute(@TempDir Path home) {
    Map<String, String> env = Map.of("SKIFF_AMQP_URI", uri(tool), "SKIFF_TOKEN_FILE", home.resolve("token").toString(),
        "SKIFF_KERNEL_USER", kernelUser, "SKIFF_SHARED_BROKER_USERS", "", "SKIFF_TOOL_USERS", tool);
    Skiff.Result refused = Skiff.run(env, "route", bob, "1.0.0=100", "--force");
    assertThat(refused.exitCode()).as(refused.toString()).isEqualTo(SkiffCli.EXIT_UNAUTHORIZED);
    assertThat(refused.err()).contains("UNAUTHORIZED").contains("skiff login");
    Skiff.Result login = Skiff.runWithInput(env, ADMIN_PASSWORD + "\n", "login", "admin");
    assertThat(login.exitCode()).as(login.toString()).isZero();
    assertThat(login.out()).contains("signed in as admin").doesNotContain(ADMIN_PASSWORD);
    Skiff.Result set = Skiff.run(env, "route", bob, "1.0.0=100", "--force");
    assertThat(set.exitCode()).as(set.toString()).isZero();
    assertThat(set.out()).contains(bob + ": rule 1.0.0=100");
    assertThat(Skiff.run(env, "route", bob, "--clear").exitCode()).isZero();
    assertThat(Skiff.run(env, "logout").out()).contains("revoked");
  }

  private String login(String user, String password) {
    return await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() -> client(connect(tool), "", new MetricRegistry())
        .call(LoginService.SERVICE, "login", LoginRequest.newBuilder().setUser(user).setPassword(password).build(), Session.class),
        x -> true).getToken();
  }

  private Client as(Transport t, String token) {
    Client c = Client.builder().transport(t).identities(identities).userToken(token).build();
    open.add(0, c::close);
    return c;
  }

  private Client asAdmin() {
    return as(connect(tool), login("admin", ADMIN_PASSWORD));
  }

  @Test
  void aRuleWrittenStraightIntoTheRuleStreamIsIgnored() throws Exception {
    // the default exchange lets any user put a message into any queue by name, the rule stream included
    Channel ch = raw(mallory).createChannel();
    ch.confirmSelect();
    ch.basicPublish("", "skiff.routes", new AMQP.BasicProperties.Builder().userId(mallory).deliveryMode(2).build(),
        RouteRule.newBuilder().setService(bob).putWeights("6.6.6", 100).build().toByteArray());
    ch.waitForConfirmsOrDie(10_000);
    // an administrator's rule for another service, appended after it: once it shows, the stream was read past the forgery
    Client byAdmin = asAdmin();
    String other = "test.sec" + tag + ".other";
    byAdmin.call(BindingService.SERVICE, "set_route", SetRouteRequest.newBuilder().setForce(true)
        .setRule(RouteRule.newBuilder().setService(other).putWeights("1", 100)).build(), RouteStatus.class);
    await().atMost(Duration.ofSeconds(10)).until(() -> !byAdmin.call(BindingService.SERVICE, "get_route",
        GetRouteRequest.newBuilder().setService(other).build(), RouteStatus.class).getRule().getWeightsMap().isEmpty());
    assertThat(byAdmin.call(BindingService.SERVICE, "get_route", GetRouteRequest.newBuilder().setService(bob).build(),
        RouteStatus.class).getRule().getWeightsMap()).isEmpty();
    byAdmin.call(BindingService.SERVICE, "set_route",
        SetRouteRequest.newBuilder().setRule(RouteRule.newBuilder().setService(other)).build(), RouteStatus.class);
  }

  // ---- issue 17 item 6: no broker password is printed, whatever characters it holds ----

  /** Passwords with the characters that split a URI ({@code @ / : #}, a space, and encoded) between fragments that must not show. */
  static final List<String> PASSWORDS =
      List.of("Xq7@Zr9", "Wm4/Kp2", "Jn5%40Ht6", "Bv8:Lc3", "Fy1#Gd4", "Qa2@Sx3/Ed4%40Rf5:Tg6#Yh7", "Uj8 Ik9@Ol0", "Ws1%2FEd2%3ARf3");

  private static void assertNoPassword(Skiff.Result r, String password) {
    for (String fragment : password.split("%40|%2F|%3A|[@/:# ]")) {
      assertThat(r.out() + r.err()).as("a fragment of password '%s' leaked: %s", password, r).doesNotContain(fragment);
    }
  }

  @Test
  void noCommandPrintsTheBrokerPasswordWhenTheBrokerIsUnreachableOrTheUriIsInvalid() throws Exception {
    int closed;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
      closed = s.getLocalPort();
    }
    List<String[]> commands = List.of(
        new String[] {"services"}, new String[] {"health"}, new String[] {"call", alice, "who", "{}", "-v"},
        new String[] {"route", alice, "--show"}, new String[] {"kernel", "--http-port", "0"});
    for (String p : PASSWORDS) {
      String broker = "amqp://leakuser:" + p + "@127.0.0.1:" + closed + "/vh";
      boolean parses = p.matches("[A-Za-z0-9%]+"); // raw @ / : # or a space: refused, exit 2
      for (String[] command : commands) {
        Skiff.Result fromEnv = Skiff.run(Map.of("SKIFF_AMQP_URI", broker), command);
        List<String> withOption = new ArrayList<>(List.of(command));
        withOption.addAll(List.of("--amqp", broker));
        Skiff.Result fromOption = Skiff.run(Map.of(), withOption.toArray(String[]::new));
        for (Skiff.Result r : List.of(fromEnv, fromOption)) {
          assertThat(r.exitCode()).as(r.toString()).isEqualTo(parses ? SkiffCli.EXIT_BROKER_UNREACHABLE : SkiffCli.EXIT_USAGE);
          assertThat(r.err()).as("the broker is named, its password hidden").contains("amqp://leakuser:***@127.0.0.1:" + closed);
          assertNoPassword(r, p);
        }
      }
      // the management API's URL, for the credentials commands
      Skiff.Result management = Skiff.run(Map.of("SKIFF_AMQP_URI", "amqp://127.0.0.1:" + closed,
          "SKIFF_BROKER_MANAGEMENT_URI", "http://admin:" + p + "@127.0.0.1:" + closed), "credentials", "delete", "test.nobody");
      assertThat(management.exitCode()).as(management.toString()).isIn(SkiffCli.EXIT_CALL_FAILED, SkiffCli.EXIT_USAGE);
      assertThat(management.err()).as(management.toString()).contains("127.0.0.1:" + closed);
      assertNoPassword(management, p);
    }
  }

  // ---- issue 17 item 8: what services announce and report reaches the terminal escaped ----

  /** Clears the screen, sets the window's title, goes back to the line's start, reverses what follows, and more. */
  static final String ESCAPES = "\u001b[2J\u001b]0;owned\u0007\rX\u202eY\u2066Z\u009b31m\u0000\u200b\u2028";
  static final List<String> RAW = List.of("\u001b", "\u0007", "\r", "\u202e", "\u2066", "\u009b", "\u0000", "\u200b", "\u2028");

  /** Asserts that no raw control character is in the output, and that they show escaped (as JSON escapes them, for JSON). */
  private static void assertEscaped(Skiff.Result r, boolean json) {
    for (String c : RAW) {
      assertThat(r.out() + r.err()).as("raw U+%04X reached the terminal: %s", (int) c.charAt(0), r).doesNotContain(c);
    }
    assertThat(r.out()).as(r.toString()).contains(json
        ? "\\u001b[2J\\u001b]0;owned\\u0007\\rX\\u202eY\\u2066Z\\u009b31m"
        : "\\u001b[2J\\u001b]0;owned\\u0007\\u000dX\\u202eY\\u2066Z\\u009b31m");
  }

  /**
   * On the tests' own virtual host, as in development (every process the shared user guest, so that the
   * CLI trusts the kernel's replies without being told the kernel's user): a real service whose
   * description and health check say hostile things, and hand-made announcements and health reports with
   * every field hostile, as any holder of broker credentials can publish them on its own topics.
   */
  @Test
  void escapesInAnnouncementsAndHealthReportsReachTheTerminalEscaped() {
    AmqpTransport shared = AmqpTransport.connect(AmqpOptions.of(EchoService.brokerUri()).withConnectionName("hostile-escapes"));
    open.add(0, shared::close);
    Kernel kernel = Kernel.start(shared, Settings.fromEnvironment(Map.of()), List.of(new DiscoveryService(), new MonitoringService()), 0);
    open.add(0, kernel::close);
    String eve = "test.esc" + tag + ".eve";
    String forger = "test.esc" + tag + ".forger";
    Server evil = Server.builder(eve).transport(shared).description("the service " + ESCAPES)
        .monitoring(MonitoringOptions.defaults().withPublishInterval(Duration.ofMillis(200)))
        .healthCheck("hostile", new HealthCheck() {
          @Override
          protected Result check() {
            return Result.unhealthy(new IllegalStateException("down " + ESCAPES));
          }
        })
        .endpoint(Endpoint.of("hi", StringValue.class, StringValue.class, (req, c) -> req))
        .build()
        .start();
    open.add(0, evil::close);
    PubSub byForger = new PubSub(shared);
    long now = System.currentTimeMillis();
    InstanceAnnouncement announcement = InstanceAnnouncement.newBuilder().setService(forger).setVersion("1.0" + ESCAPES)
        .setInstance("i" + ESCAPES).setHost("h" + ESCAPES).setDescription("d" + ESCAPES).setStartedMs(now).setSentMs(now)
        .setState(InstanceAnnouncement.State.RUNNING).setHeartbeatMs(60_000).setExpireAfterMs(180_000)
        .addEndpoints(EndpointInfo.newBuilder().setName("e" + ESCAPES).setRequestType("q" + ESCAPES)
            .setResponseType("r" + ESCAPES))
        .build();
    HealthReport report = HealthReport.newBuilder().setService(forger).setInstance("i" + ESCAPES).setVersion("1.0" + ESCAPES)
        .setSentEpochMillis(now).setStartedEpochMillis(now).setIntervalMillis(60_000).setHealthy(false)
        .addChecks(CheckResult.newBuilder().setName("c" + ESCAPES).setMessage("m" + ESCAPES).setError("x" + ESCAPES))
        .addEndpoints(EndpointStats.newBuilder().setName("e" + ESCAPES).setSide("s" + ESCAPES))
        .build();
    Map<String, String> env = EchoService.env();
    await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
      byForger.publish(Announcer.TOPIC_PREFIX + forger, announcement);
      byForger.publish(ServiceMonitor.TOPIC_PREFIX + forger, report);
      Skiff.Result services = Skiff.run(env, "services");
      assertThat(services.out()).as(services.toString()).contains(eve, forger);
      Skiff.Result health = Skiff.run(env, "health");
      assertThat(health.out()).as(health.toString()).contains(eve, forger, " hostile [");
    });

    for (String[] command : List.of(new String[] {"services"}, new String[] {"services", eve}, new String[] {"services", forger},
        new String[] {"health"}, new String[] {"health", eve}, new String[] {"health", forger},
        new String[] {"health", forger, "--json"})) {
      Skiff.Result r = Skiff.run(env, command);
      assertThat(r.exitCode()).as(r.toString()).isIn(SkiffCli.EXIT_OK, SkiffCli.EXIT_CALL_FAILED);
      assertEscaped(r, List.of(command).contains("--json"));
    }
    Skiff.Result one = Skiff.run(env, "services", forger);
    assertThat(one.out()).contains("  e\\u001b[2J").contains("(q\\u001b[2J").contains("h\\u001b[2J").contains("  d\\u001b[2J");
    Skiff.Result checks = Skiff.run(env, "health", forger);
    assertThat(checks.out()).contains("c\\u001b[2J").contains("m\\u001b[2J").contains("(x\\u001b[2J").contains("s\\u001b[2J");
  }
}
