package dev.skiff.platform.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.internal.Observers;
import dev.skiff.platform.testproto.EchoRequest;
import dev.skiff.platform.testproto.EchoResponse;
import dev.skiff.platform.security.ServiceIdentities;
import dev.skiff.platform.security.TokenVerifier;
import dev.skiff.platform.transport.ContentTypes;
import dev.skiff.platform.transport.ReplyMessage;
import dev.skiff.platform.transport.RequestMessage;
import dev.skiff.platform.transport.Transport;
import dev.skiff.platform.transport.inprocess.InProcessTransport;
import com.codahale.metrics.MetricRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Dedupe by request id: kept answers, running ids and the duplicates that wait for them. */
class DedupeTest {
  private static final long NOW = 1_700_000_000_000L;
  private final Dedupe dedupe = new Dedupe(60_000, 1 << 20);
  private final InProcessTransport transport = InProcessTransport.create();
  private final Client client = Client.builder().transport(transport).build();
  private final HandlerPool<ServerCall> pool = new HandlerPool<>("test.dedupe", 1, Clock.systemUTC());
  private final Endpoint<EchoRequest, EchoResponse> endpoint =
      Endpoint.of("e", EchoRequest.class, EchoResponse.class, (r, c) -> EchoResponse.getDefaultInstance());
  private final ServerCall.Site site = new ServerCall.Site(
      "test.dedupe", "1", "i1", 1 << 20, Clock.systemUTC(), client, new Observers(List.of()),
      new ServerCounters(new MetricRegistry(), Map.of("e", new HandlerPool.Pace()), pool, dedupe, Clock.systemUTC()),
      new Admission("test.dedupe", Map.of("e", endpoint), 1 << 20, null, Duration.ofSeconds(30), 5), dedupe,
      new EndpointGuard("test.dedupe", ServiceIdentities.defaults(), TokenVerifier.refusingAll(),
          new SessionReferences(1 << 20, new MetricRegistry(), Clock.systemUTC()), new MetricRegistry(), List.of("e")),
      new SetAsideLog("test.dedupe", Clock.systemUTC()));

  @AfterEach
  void close() {
    pool.shutdownNow();
    client.close();
    transport.close();
  }

  /** A delivery that records what the server did with it. */
  private static final class Recorded implements Transport.Delivery {
    final List<ReplyMessage> replies = new ArrayList<>();
    int acks;
    int requeues;

    @Override
    public void reply(ReplyMessage reply) {
      replies.add(reply);
    }

    @Override
    public void ack() {
      acks++;
    }

    @Override
    public void requeue() {
      requeues++;
    }

    @Override
    public boolean instanceAddressed() {
      return false;
    }

    @Override
    public boolean redelivered() {
      return false;
    }
  }

  private ServerCall call(Recorded delivery) {
    return call(delivery, b -> {});
  }

  private ServerCall call(Recorded delivery, java.util.function.Consumer<RequestMessage.Builder> change) {
    RequestMessage.Builder b = RequestMessage.builder().correlationId("c" + System.nanoTime()).requestId("r1").service("test.dedupe")
        .endpoint("e").userId("alice").replyTo("q").body(EchoRequest.newBuilder().setText("hi").build().toByteArray());
    change.accept(b);
    ServerCall c = new ServerCall(site, b.build(), delivery);
    c.admitted(endpoint, NOW + 30_000);
    return c;
  }

  private static ErrorCode errorOf(Recorded d) {
    ReplyMessage r = d.replies.get(0);
    assertThat(r.ok()).isFalse();
    try {
      return ErrorCode.valueOf(dev.skiff.proto.v1.Error.parseFrom(r.body()).getCode().name());
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw new AssertionError(e);
    }
  }

  private static AnswerCache.Answer ok(String text) {
    return new AnswerCache.Answer(null, ContentTypes.PROTOBUF, EchoResponse.newBuilder().setText(text).build().toByteArray());
  }

  @Test
  void theFirstRunsADuplicateWaitsForItsAnswerAndALaterOneIsAnsweredFromTheKeptAnswer() {
    Recorded d1 = new Recorded();
    Recorded d2 = new Recorded();
    Recorded d3 = new Recorded();
    ServerCall first = call(d1);
    String key = first.dedupeKey();
    assertThat(dedupe.join(first, key, NOW)).isEqualTo(Dedupe.Role.FIRST);
    ServerCall second = call(d2);
    assertThat(dedupe.join(second, second.dedupeKey(), NOW)).isEqualTo(Dedupe.Role.FOLLOWER);
    assertThat(d2.replies).as("a follower waits").isEmpty();
    List<ServerCall> followers = dedupe.answered(key, first, ok("once"), true, NOW);
    assertThat(followers).containsExactly(second);
    ServerCall third = call(d3);
    assertThat(dedupe.join(third, third.dedupeKey(), NOW + 1)).isEqualTo(Dedupe.Role.ANSWERED);
    assertThat(d3.replies).singleElement().satisfies(r -> assertThat(r.body()).isEqualTo(ok("once").body()));
    assertThat(d3.acks).isEqualTo(1);
    assertThat(dedupe.keptAnswers(NOW)).isEqualTo(1);
    assertThat(dedupe.keptAnswers(NOW + 60_001)).as("past the window").isZero();
  }

  @Test
  void anAnswerWorthRetryingIsNotKeptSoTheRetryRunsAgain() {
    ServerCall first = call(new Recorded());
    String key = first.dedupeKey();
    dedupe.join(first, key, NOW);
    dedupe.answered(key, first, new AnswerCache.Answer(ErrorCode.UNAVAILABLE, ContentTypes.PROTOBUF, new byte[0]), false, NOW);
    ServerCall retry = call(new Recorded());
    assertThat(dedupe.join(retry, key, NOW + 1)).isEqualTo(Dedupe.Role.FIRST);
  }

  @Test
  void whenTheFirstIsHandedBackItsFollowersGoWithItAndTheNextDuplicateRunsInItsPlace() {
    Recorded d1 = new Recorded();
    Recorded d2 = new Recorded();
    ServerCall first = call(d1);
    ServerCall follower = call(d2);
    String key = first.dedupeKey();
    dedupe.join(first, key, NOW);
    dedupe.join(follower, key, NOW);
    first.handBack();
    assertThat(d1.requeues).isEqualTo(1);
    assertThat(d2.requeues).as("the follower is handed back with it").isEqualTo(1);
    ServerCall next = call(new Recorded());
    assertThat(dedupe.join(next, key, NOW)).isEqualTo(Dedupe.Role.FIRST);
  }

  @Test
  void aKeptAnswerGoesOnlyToTheSameCallerWithTheSameBodyAndAnyOtherIsAConflict() {
    ServerCall first = call(new Recorded());
    String key = first.dedupeKey();
    assertThat(dedupe.join(first, key, NOW)).isEqualTo(Dedupe.Role.FIRST);
    dedupe.answered(key, first, ok("alice's answer"), true, NOW);
    List<java.util.function.Consumer<RequestMessage.Builder>> others = List.of(
        b -> b.userId("mallory"),
        b -> b.userId(null),
        b -> b.body(EchoRequest.newBuilder().setText("other").build().toByteArray()),
        b -> b.userToken("someone's session"),
        b -> b.fromService("other.service"),
        b -> b.contentType(ContentTypes.JSON));
    for (java.util.function.Consumer<RequestMessage.Builder> other : others) {
      Recorded d = new Recorded();
      assertThat(dedupe.join(call(d, other), key, NOW + 1)).isEqualTo(Dedupe.Role.CONFLICT);
      assertThat(d.replies).singleElement().satisfies(r -> assertThat(r.body()).isNotEqualTo(ok("alice's answer").body()));
      assertThat(errorOf(d)).isEqualTo(ErrorCode.CONFLICT);
      assertThat(d.acks).isEqualTo(1);
    }
    Recorded same = new Recorded();
    assertThat(dedupe.join(call(same), key, NOW + 2)).isEqualTo(Dedupe.Role.ANSWERED);
    assertThat(same.replies).singleElement().satisfies(r -> assertThat(r.body()).isEqualTo(ok("alice's answer").body()));
    assertThat(dedupe.keptAnswers(NOW + 2)).as("a conflict keeps nothing").isEqualTo(1);
  }

  @Test
  void aDuplicateOfARunningRequestFromAnotherCallerIsAConflictNotAFollower() {
    ServerCall first = call(new Recorded());
    String key = first.dedupeKey();
    dedupe.join(first, key, NOW);
    Recorded d = new Recorded();
    assertThat(dedupe.join(call(d, b -> b.userId("mallory")), key, NOW)).isEqualTo(Dedupe.Role.CONFLICT);
    assertThat(errorOf(d)).isEqualTo(ErrorCode.CONFLICT);
    Recorded retry = new Recorded();
    ServerCall own = call(retry);
    assertThat(dedupe.join(own, key, NOW)).isEqualTo(Dedupe.Role.FOLLOWER);
    assertThat(dedupe.answered(key, first, ok("once"), true, NOW)).containsExactly(own);
  }

  @Test
  void keysSeparateEndpointsAndReplyEncodings() {
    assertThat(Dedupe.key("a", "r1", ContentTypes.PROTOBUF)).isNotEqualTo(Dedupe.key("b", "r1", ContentTypes.PROTOBUF))
        .isNotEqualTo(Dedupe.key("a", "r1", ContentTypes.JSON)).isNotEqualTo(Dedupe.key("a", "r2", ContentTypes.PROTOBUF));
  }
}
