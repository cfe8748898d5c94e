package dev.skiff.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import dev.skiff.platform.testproto.EchoRequest;
import dev.skiff.platform.transport.amqp.AmqpNames;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code skiff dead-letters list|replay|discard} against a real service on the real broker: two requests
 * set aside (one too large, one at the delivery limit), listed, the one that can be replayed replayed,
 * the other discarded.
 */
class DeadLettersCommandTest {
  private EchoService svc;
  private Connection raw;
  private String user;

  @BeforeEach
  void setUp() throws Exception {
    svc = new EchoService();
    svc.start("1.0.0", "a" + EchoService.randomHex(4));
    ConnectionFactory cf = new ConnectionFactory();
    cf.setUri(EchoService.brokerUri());
    raw = cf.newConnection();
    user = cf.getUsername();
  }

  @AfterEach
  void tearDown() throws Exception {
    try (Channel ch = raw.createChannel()) {
      ch.queueDelete(AmqpNames.deadLetterQueue(svc.name));
    }
    raw.close();
    svc.close();
  }

  private AMQP.BasicProperties request(String id, Map<String, Object> headers) {
    return new AMQP.BasicProperties.Builder()
        .messageId(id)
        .correlationId(id)
        .type("echo")
        .userId(user)
        .headers(headers)
        .appId((System.currentTimeMillis() + 60_000) + ";0;hostile;0;")
        .build();
  }

  private long waiting() throws Exception {
    try (Channel ch = raw.createChannel()) {
      return ch.messageCount(AmqpNames.deadLetterQueue(svc.name));
    }
  }

  @Test
  void requestsSetAsideAreListedReplayedAndDiscarded() throws Exception {
    try (Channel ch = raw.createChannel()) {
      ch.basicPublish("", AmqpNames.serviceQueue(svc.name), false, request("too-big-1", null), new byte[5 << 20]);
      // a count of unsettled deliveries at the limit, as a fellow instance (the same broker user) writes it
      ch.basicPublish("", AmqpNames.serviceQueue(svc.name), false, request("crashed-1", Map.of("skiff-deliveries", 5)),
          EchoRequest.newBuilder().setText("again").build().toByteArray());
    }
    await().atMost(Duration.ofSeconds(60)).until(() -> waiting() == 2);

    Skiff.Result list = Skiff.run("dead-letters", "list", svc.name);
    assertThat(list.exitCode()).as(list.toString()).isZero();
    assertThat(list.out())
        .contains(svc.name + ": 2 requests set aside")
        .containsPattern("too-large +" + svc.name.replace(".", "\\.") + "/echo  request too-big-1  from " + user + "  0 deliveries  5242880 bytes \\(body not kept\\)")
        .contains("request of 5242880 bytes is over the message size limit of 4194304 bytes")
        .containsPattern("delivery-limit +" + svc.name.replace(".", "\\.") + "/echo  request crashed-1  from " + user + "  5 deliveries");

    Skiff.Result replay = Skiff.run("dead-letters", "replay", svc.name, "--all");
    assertThat(replay.exitCode()).as(replay.toString()).isZero();
    assertThat(replay.out()).isEqualTo(svc.name + ": 1 request replayed; 1 kept: their body was too large to be kept\n");

    Skiff.Result asked = Skiff.run("dead-letters", "replay", svc.name, "--id", "too-big-1");
    assertThat(asked.exitCode()).as("asked for by id and not replayable: not done; %s", asked).isEqualTo(SkiffCli.EXIT_CALL_FAILED);
    assertThat(asked.out()).isEqualTo(svc.name + ": 0 requests replayed; 1 kept: their body was too large to be kept\n");
    assertThat(asked.err()).contains("cannot be replayed").contains("discard");

    Skiff.Result discard = Skiff.run("dead-letters", "discard", svc.name, "--id", "too-big-1", "--id", "never-was-1");
    assertThat(discard.exitCode()).as("an id not found: said, and exit 1; %s", discard).isEqualTo(SkiffCli.EXIT_CALL_FAILED);
    assertThat(discard.out()).isEqualTo(svc.name + ": 1 request discarded\n");
    assertThat(discard.err()).isEqualTo("NOT_FOUND: no request set aside by " + svc.name + " has request id never-was-1 ('skiff dead-letters list "
        + svc.name + "' lists them)\n");
    assertThat(waiting()).isZero();
  }

  @Test
  void aReplayToAQueueThatIsGoneLosesNothingAndSaysWhy() throws Exception {
    try (Channel ch = raw.createChannel()) {
      ch.basicPublish("", AmqpNames.serviceQueue(svc.name), false, request("crashed-2", Map.of("skiff-deliveries", 5)),
          EchoRequest.newBuilder().setText("again").build().toByteArray());
    }
    await().atMost(Duration.ofSeconds(60)).until(() -> waiting() == 1);
    // the service stopped long ago: its queue expired (x-expires), its dead letters are kept 14 days
    svc.close();
    try (Channel ch = raw.createChannel()) {
      ch.queueDelete(AmqpNames.serviceQueue(svc.name));
    }
    Skiff.Result replay = Skiff.run("dead-letters", "replay", svc.name, "--all");
    assertThat(replay.exitCode()).as(replay.toString()).isEqualTo(SkiffCli.EXIT_CALL_FAILED);
    assertThat(replay.err()).startsWith("NOT_FOUND: the queue " + AmqpNames.serviceQueue(svc.name)).contains("does not exist")
        .contains("start the service, then replay").contains("0 requests replayed before this");
    assertThat(waiting()).as("published into no queue, it would have been confirmed and lost").isEqualTo(1);
  }

  @Test
  void aReplayIntoAStoppedServicesQueueIsRefusedUnlessEvenIfStopped() throws Exception {
    try (Channel ch = raw.createChannel()) {
      ch.basicPublish("", AmqpNames.serviceQueue(svc.name), false, request("crashed-3", Map.of("skiff-deliveries", 5)),
          EchoRequest.newBuilder().setText("again").build().toByteArray());
    }
    await().atMost(Duration.ofSeconds(60)).until(() -> waiting() == 1);
    svc.close(); // stopped: its queue stays (x-expires), nobody consumes it
    await().atMost(Duration.ofSeconds(30)).until(() -> {
      try (Channel ch = raw.createChannel()) {
        return ch.consumerCount(AmqpNames.serviceQueue(svc.name)) == 0;
      }
    });
    Skiff.Result refused = Skiff.run("dead-letters", "replay", svc.name, "--all");
    assertThat(refused.exitCode()).as(refused.toString()).isEqualTo(SkiffCli.EXIT_CALL_FAILED);
    assertThat(refused.err()).startsWith("UNAVAILABLE: nobody consumes the queue " + AmqpNames.serviceQueue(svc.name))
        .contains("start the service, then replay").contains("--even-if-stopped").contains("nothing was taken off");
    assertThat(waiting()).as("replayed, it would have expired unrun in the stopped service's queue").isEqualTo(1);

    Skiff.Result forced = Skiff.run("dead-letters", "replay", svc.name, "--all", "--even-if-stopped");
    assertThat(forced.exitCode()).as(forced.toString()).isZero();
    assertThat(forced.out()).isEqualTo(svc.name + ": 1 request replayed\n");
    assertThat(waiting()).isZero();
    try (Channel ch = raw.createChannel()) {
      assertThat(ch.messageCount(AmqpNames.serviceQueue(svc.name))).as("it waits for the next instance").isEqualTo(1);
    }
  }

  @Test
  void aDeadLetterNamingAnotherServicesQueueIsListedSuspectAndNotReplayed() throws Exception {
    String other = AmqpNames.serviceQueue(svc.name + ".other");
    try (Channel ch = raw.createChannel()) {
      ch.queueDeclare(other, false, false, true, null);
      Map<String, Object> forged = new java.util.HashMap<>();
      forged.put("skiff-dead-code", "delivery-limit");
      forged.put("skiff-dead-reason", "forged");
      forged.put("skiff-dead-queue", other);
      ch.basicPublish("", AmqpNames.deadLetterQueue(svc.name), false, request("forged-1", forged),
          EchoRequest.newBuilder().setText("elsewhere").build().toByteArray());
      await().atMost(Duration.ofSeconds(30)).until(() -> waiting() == 1);

      Skiff.Result list = Skiff.run("dead-letters", "list", svc.name);
      assertThat(list.exitCode()).as(list.toString()).isZero();
      assertThat(list.out()).contains("SUSPECT, never replayed: it names " + other + ", not a queue of " + svc.name);
      Skiff.Result replay = Skiff.run("dead-letters", "replay", svc.name, "--id", "forged-1");
      assertThat(replay.exitCode()).as(replay.toString()).isEqualTo(SkiffCli.EXIT_CALL_FAILED);
      assertThat(replay.out()).isEqualTo(svc.name + ": 0 requests replayed; 1 suspect kept, not replayed\n");
      assertThat(replay.err()).contains("suspect and were not replayed");
      assertThat(ch.messageCount(other)).as("nothing went to the queue it named").isZero();
      assertThat(waiting()).isEqualTo(1);
      ch.queueDelete(other);
    }
  }

  @Test
  void requestIdsThatCannotBeShownWholeAreActedOnByTheirHandle() throws Exception {
    String longId = "L".repeat(200);
    String escaped = "id\u001b[31mRED\r";
    try (Channel ch = raw.createChannel()) {
      for (String id : java.util.List.of(longId, escaped)) {
        ch.basicPublish("", AmqpNames.serviceQueue(svc.name), false, request(id, Map.of("skiff-deliveries", 5)),
            EchoRequest.newBuilder().setText("again").build().toByteArray());
      }
    }
    await().atMost(Duration.ofSeconds(60)).until(() -> waiting() == 2);
    Skiff.Result list = Skiff.run("dead-letters", "list", svc.name);
    assertThat(list.exitCode()).as(list.toString()).isZero();
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("request (\\S+) \\(--handle ([0-9a-f]{12})\\)").matcher(list.out());
    Map<String, String> handles = new java.util.HashMap<>();
    while (m.find()) {
      handles.put(m.group(1), m.group(2));
    }
    assertThat(handles).as(list.out()).containsOnlyKeys("L".repeat(80) + "…", "id\\u001b[31mRED\\u000d");

    Skiff.Result typedBack = Skiff.run("dead-letters", "discard", svc.name, "--id", "L".repeat(80) + "…");
    assertThat(typedBack.exitCode()).as("the shown form is not the id; %s", typedBack).isEqualTo(SkiffCli.EXIT_CALL_FAILED);
    Skiff.Result replay = Skiff.run("dead-letters", "replay", svc.name, "--handle", handles.get("L".repeat(80) + "…"));
    assertThat(replay.exitCode()).as(replay.toString()).isZero();
    assertThat(replay.out()).isEqualTo(svc.name + ": 1 request replayed\n");
    Skiff.Result discard = Skiff.run("dead-letters", "discard", svc.name, "--handle", handles.get("id\\u001b[31mRED\\u000d"),
        "--handle", "000000000000");
    assertThat(discard.exitCode()).as(discard.toString()).isEqualTo(SkiffCli.EXIT_CALL_FAILED);
    assertThat(discard.out()).isEqualTo(svc.name + ": 1 request discarded\n");
    assertThat(discard.err()).contains("has handle 000000000000");
    assertThat(waiting()).isZero();
  }

  @Test
  void usageErrorsAndAServiceWithoutDeadLetters() {
    Skiff.Result none = Skiff.run("dead-letters", "replay", svc.name);
    assertThat(none.exitCode()).as(none.toString()).isEqualTo(SkiffCli.EXIT_USAGE);
    assertThat(none.err()).contains("Missing required argument").contains("--id").contains("--all");
    Skiff.Result bad = Skiff.run("dead-letters", "list", "Not A Service");
    assertThat(bad.exitCode()).as(bad.toString()).isEqualTo(SkiffCli.EXIT_USAGE);
    Skiff.Result missing = Skiff.run("dead-letters", "list", "test.cli.never." + EchoService.randomHex(4));
    assertThat(missing.exitCode()).as(missing.toString()).isEqualTo(SkiffCli.EXIT_CALL_FAILED);
    assertThat(missing.err()).startsWith("NOT_FOUND: service test.cli.never.").contains("has no dead-letter queue");
  }
}
