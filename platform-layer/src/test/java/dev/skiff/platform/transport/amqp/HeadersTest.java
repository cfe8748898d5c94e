package dev.skiff.platform.transport.amqp;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.AMQP;
import dev.skiff.platform.transport.ContentTypes;
import dev.skiff.platform.transport.ReplyMessage;
import dev.skiff.platform.transport.RequestMessage;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The packed wire format of requests and replies (pure logic; the broker round trip is in AmqpRpcTest). */
class HeadersTest {
  private static final String TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

  private static RequestMessage request(String accept) {
    return new RequestMessage(
        "c-1", "r-1", "com.example.greeter", "hello", null, "2.0.0", 1_700_000_005_000L, 1_700_000_000_000L,
        "com.example.caller", "ab12cd34", TRACE, ContentTypes.PROTOBUF, accept, null, null, null, "reply-q", new byte[] {1, 2});
  }

  @Test
  void aRequestRoundTripsThroughStandardPropertiesWithNoHeaderTable() {
    AMQP.BasicProperties p = Headers.requestProperties(request(ContentTypes.PROTOBUF), 1_700_000_001_000L, "guest", true);
    assertThat(p.getHeaders()).isNull();
    assertThat(p.getAppId()).isEqualTo("1700000005000;1700000000000;com.example.caller;ab12cd34;" + TRACE);
    assertThat(p.getMessageId()).isEqualTo("r-1");
    assertThat(p.getType()).isEqualTo("hello");
    assertThat(p.getExpiration()).isEqualTo("4000");
    assertThat(p.getUserId()).isEqualTo("guest");

    RequestMessage back = Headers.request("com.example.greeter", p, new byte[] {1, 2}, "guest");
    assertThat(back.requestId()).isEqualTo("r-1");
    assertThat(back.service()).isEqualTo("com.example.greeter");
    assertThat(back.endpoint()).isEqualTo("hello");
    assertThat(back.deadlineEpochMillis()).isEqualTo(1_700_000_005_000L);
    assertThat(back.sentEpochMillis()).isEqualTo(1_700_000_000_000L);
    assertThat(back.fromService()).isEqualTo("com.example.caller");
    assertThat(back.fromInstance()).isEqualTo("ab12cd34");
    assertThat(back.traceparent()).isEqualTo(TRACE);
    assertThat(back.accept()).isEqualTo(ContentTypes.PROTOBUF);
    assertThat(back.replyTo()).isEqualTo("reply-q");
    assertThat(back.userId()).isEqualTo("guest");
  }

  @Test
  void acceptTravelsOnlyWhenItDiffersAndMayContainTheSeparator() {
    String json = "application/json; charset=utf-8";
    AMQP.BasicProperties p = Headers.requestProperties(request(json), 1_700_000_001_000L, null, true);
    assertThat(p.getAppId()).endsWith(";ab12cd34;" + TRACE + ";" + json);
    assertThat(Headers.request("s", p, new byte[0], "guest").accept()).isEqualTo(json);
  }

  @Test
  void missingOrGarbledFieldsReadAsEmptyAndZero() {
    AMQP.BasicProperties none = new AMQP.BasicProperties.Builder().build();
    RequestMessage r = Headers.request("s", none, new byte[0], "guest");
    assertThat(r.endpoint()).isEmpty();
    assertThat(r.requestId()).isEmpty();
    assertThat(r.deadlineEpochMillis()).isZero();
    assertThat(r.fromService()).isEmpty();
    assertThat(r.accept()).isEqualTo(ContentTypes.PROTOBUF);

    AMQP.BasicProperties garbled =
        new AMQP.BasicProperties.Builder().headers(Map.of("skiff", "soon;x")).build();
    RequestMessage g = Headers.request("s", garbled, new byte[0], "guest");
    assertThat(g.deadlineEpochMillis()).isZero();
    assertThat(g.sentEpochMillis()).isZero();
    assertThat(g.fromInstance()).isEmpty();
  }

  @Test
  void textTooLongForAShortStringTravelsInHeadersAndReadsTheSame() {
    String longName = "com.example." + "x".repeat(240);
    RequestMessage m =
        new RequestMessage(
            "c-1", "r-1", "s", "hello", null, null, 1_700_000_005_000L, 1_700_000_000_000L, longName, "ab12cd34",
            TRACE, ContentTypes.PROTOBUF, ContentTypes.JSON, null, null, null, "reply-q", new byte[0]);
    AMQP.BasicProperties p = Headers.requestProperties(m, 1_700_000_001_000L, null, true);
    assertThat(p.getAppId()).isNull();
    assertThat(p.getHeaders()).containsOnlyKeys("skiff", "traceparent");
    assertThat(p.getHeaders().get("skiff"))
        .isEqualTo("1700000005000;1700000000000;" + longName + ";ab12cd34;" + ContentTypes.JSON);
    RequestMessage back = Headers.request("s", p, new byte[0], "guest");
    assertThat(back.fromService()).isEqualTo(longName);
    assertThat(back.traceparent()).isEqualTo(TRACE);
    assertThat(back.accept()).isEqualTo(ContentTypes.JSON);
    assertThat(back.deadlineEpochMillis()).isEqualTo(1_700_000_005_000L);
    assertThat(Headers.requeueProperties(p, 1_700_000_004_500L, "guest").getExpiration()).isEqualTo("500");

    String longInstance = "i".repeat(250);
    ReplyMessage r = new ReplyMessage("c-1", true, ContentTypes.PROTOBUF, "svc", "1.2.0", longInstance, false, new byte[0]);
    AMQP.BasicProperties rp = Headers.replyProperties(r, "svc");
    assertThat(rp.getAppId()).isNull();
    ReplyMessage rback = Headers.reply(rp, new byte[0]);
    assertThat(rback.ok()).isTrue();
    assertThat(rback.instance()).isEqualTo(longInstance);
  }

  @Test
  void anotherApplicationsAppIdIsNotReadAsSkiffsFields() {
    AMQP.BasicProperties p =
        new AMQP.BasicProperties.Builder()
            .appId("some-tool")
            .headers(Map.of("skiff", "1700000005000;1700000000000;tool;1", "traceparent", TRACE))
            .build();
    RequestMessage r = Headers.request("s", p, new byte[0], "guest");
    assertThat(r.deadlineEpochMillis()).isEqualTo(1_700_000_005_000L);
    assertThat(r.fromService()).isEqualTo("tool");
    assertThat(r.traceparent()).isEqualTo(TRACE);
    assertThat(Headers.reply(new AMQP.BasicProperties.Builder().appId("some-tool").build(), new byte[0]).ok()).isFalse();
  }

  @Test
  void aLoneTraceparentHeaderIsHonoured() {
    AMQP.BasicProperties p = new AMQP.BasicProperties.Builder().headers(Map.of("traceparent", TRACE)).build();
    assertThat(Headers.request("s", p, new byte[0], "guest").traceparent()).isEqualTo(TRACE);
  }

  @Test
  void aReplyCarriesStatusVersionInstanceAndIdempotenceInItsAppId() {
    ReplyMessage ok = new ReplyMessage("c-1", true, ContentTypes.PROTOBUF, "svc", "1.2.0", "ab12cd34", true, new byte[0]);
    AMQP.BasicProperties p = Headers.replyProperties(ok, "svc-user");
    assertThat(p.getHeaders()).isNull();
    assertThat(p.getAppId()).isEqualTo("ok;1.2.0;ab12cd34;idempotent");
    ReplyMessage back = Headers.reply(p, new byte[0]);
    assertThat(back.ok()).isTrue();
    assertThat(back.serviceVersion()).isEqualTo("1.2.0");
    assertThat(back.instance()).isEqualTo("ab12cd34");
    assertThat(back.idempotent()).isTrue();
    assertThat(p.getUserId()).as("replies carry the replying connection's user").isEqualTo("svc-user");
    assertThat(back.userId()).isEqualTo("svc-user");

    ReplyMessage err = new ReplyMessage("c-2", false, ContentTypes.JSON, "svc", "1.2.0", "ab12cd34", false, new byte[0]);
    ReplyMessage errBack = Headers.reply(Headers.replyProperties(err, "svc-user"), new byte[0]);
    assertThat(errBack.ok()).isFalse();
    assertThat(errBack.idempotent()).isFalse();
    assertThat(errBack.contentType()).isEqualTo(ContentTypes.JSON);
  }

  @Test
  void aSessionReferenceTravelsInTheAppIdBeforeTheAcceptTypeAndNoTokenHeaderGoes() {
    String ref = "AbCdEfGhIjKlMnOpQrSt-_";
    RequestMessage m = request(ContentTypes.JSON).toBuilder().userTokenReference(ref).build();
    AMQP.BasicProperties p = Headers.requestProperties(m, 1_700_000_001_000L, "guest", true);
    assertThat(p.getHeaders()).as("no header table: the reference is part of the packed context").isNull();
    assertThat(p.getAppId()).isEqualTo("1700000005000;1700000000000;com.example.caller;ab12cd34;" + TRACE + ";@" + ref + ";" + ContentTypes.JSON);
    RequestMessage back = Headers.request("com.example.greeter", p, new byte[0], "guest");
    assertThat(back.userTokenReference()).isEqualTo(ref);
    assertThat(back.userToken()).isNull();
    assertThat(back.accept()).isEqualTo(ContentTypes.JSON);

    RequestMessage plain = Headers.request("com.example.greeter",
        Headers.requestProperties(request(ContentTypes.PROTOBUF).toBuilder().userTokenReference(ref).build(), 1_700_000_001_000L, "guest", true),
        new byte[0], "guest");
    assertThat(plain.userTokenReference()).isEqualTo(ref);
    assertThat(plain.accept()).isEqualTo(ContentTypes.PROTOBUF);
  }

  @Test
  void aSessionReferenceTravelsInTheSkiffHeaderWhenTheContextIsLong() {
    String ref = "AbCdEfGhIjKlMnOpQrSt-_";
    RequestMessage m = request(ContentTypes.JSON).toBuilder().fromService("com.example." + "x".repeat(240)).userTokenReference(ref).build();
    AMQP.BasicProperties p = Headers.requestProperties(m, 1_700_000_001_000L, "guest", true);
    assertThat(p.getAppId()).isNull();
    RequestMessage back = Headers.request("s", p, new byte[0], "guest");
    assertThat(back.userTokenReference()).isEqualTo(ref);
    assertThat(back.accept()).isEqualTo(ContentTypes.JSON);
    assertThat(back.traceparent()).isEqualTo(TRACE);
  }

  @Test
  void aTokenInFullWinsOverAReferenceAndTheReferenceIsNotSent() {
    RequestMessage m = request(ContentTypes.PROTOBUF).toBuilder().userToken("tok").userTokenReference("AbCdEfGhIjKlMnOpQrSt-_").build();
    AMQP.BasicProperties p = Headers.requestProperties(m, 1_700_000_001_000L, "guest", true);
    assertThat(p.getAppId()).doesNotContain("@");
    RequestMessage back = Headers.request("s", p, new byte[0], "guest");
    assertThat(back.userToken()).isEqualTo("tok");
    assertThat(back.userTokenReference()).isNull();
  }

  @Test
  void aSessionUnknownReplyIsAnErrorMarkedAsSuch() {
    ReplyMessage r = new ReplyMessage("c-3", false, ContentTypes.PROTOBUF, "svc", "1.2.0", "ab12cd34", false, new byte[0], null, true);
    AMQP.BasicProperties p = Headers.replyProperties(r, "svc-user");
    assertThat(p.getAppId()).startsWith("session;");
    ReplyMessage back = Headers.reply(p, new byte[0]);
    assertThat(back.ok()).isFalse();
    assertThat(back.sessionUnknown()).isTrue();
    ReplyMessage plainError = Headers.reply(Headers.replyProperties(
        new ReplyMessage("c-4", false, ContentTypes.PROTOBUF, "svc", "1.2.0", "ab12cd34", false, new byte[0]), "svc-user"), new byte[0]);
    assertThat(plainError.sessionUnknown()).isFalse();
  }

  @Test
  void aReplyWithoutItsStatusIsNotMistakenForASuccess() {
    assertThat(Headers.reply(new AMQP.BasicProperties.Builder().build(), new byte[0]).ok()).isFalse();
  }

  @Test
  void withoutPerMessageTtlNoExpirationIsSetNorAddedOnRequeue() {
    AMQP.BasicProperties p = Headers.requestProperties(request(ContentTypes.PROTOBUF), 1_700_000_001_000L, null, false);
    assertThat(p.getExpiration()).isNull();
    // the deadline still travels, for the server to enforce
    assertThat(Headers.request("s", p, new byte[0], "guest").deadlineEpochMillis()).isEqualTo(1_700_000_005_000L);
    assertThat(Headers.requeueProperties(p, 1_700_000_004_500L, "guest").getExpiration()).isNull();
  }

  @Test
  void requeuedRequestsCountTheirTimeToLiveFromNow() {
    AMQP.BasicProperties p = Headers.requestProperties(request(ContentTypes.PROTOBUF), 1_700_000_001_000L, null, true);
    assertThat(Headers.requeueProperties(p, 1_700_000_004_500L, "guest").getExpiration()).isEqualTo("500");
  }

  @Test
  void aRequeuedRequestIsSentAsTheInstancesUserAndKeepsItsCallerForAFellowInstance() {
    AMQP.BasicProperties p = Headers.requestProperties(request(ContentTypes.PROTOBUF), 1_700_000_001_000L, "caller", true);
    AMQP.BasicProperties again = Headers.requeueProperties(p, 1_700_000_004_500L, "svc-user");
    assertThat(again.getUserId()).as("the broker refuses any user_id but the connection's").isEqualTo("svc-user");
    assertThat(Headers.request("s", again, new byte[0], "svc-user").userId()).isEqualTo("caller");
    assertThat(Headers.request("s", again, new byte[0], "other-user").userId())
        .as("the header counts only when sent by the receiver's own user")
        .isEqualTo("svc-user");
  }

  @Test
  void aCallerHeaderFromAnotherUserIsIgnored() {
    AMQP.BasicProperties forged =
        Headers.requestProperties(request(ContentTypes.PROTOBUF), 1_700_000_001_000L, "mallory", true)
            .builder().headers(Map.of(Headers.REQUEUED_CALLER, "skiff-kernel")).build();
    assertThat(Headers.request("s", forged, new byte[0], "svc-user").userId()).isEqualTo("mallory");
  }

  @Test
  void aRequestWithoutUserIdHasNoCaller() {
    AMQP.BasicProperties p = Headers.requestProperties(request(ContentTypes.PROTOBUF), 1_700_000_001_000L, null, true);
    assertThat(Headers.request("s", p, new byte[0], "svc-user").userId()).isNull();
  }

  @Test
  void aSessionTokenTravelsInItsOwnHeaderOnlyWhenACallCarriesOne() {
    RequestMessage m = request(ContentTypes.PROTOBUF).toBuilder().userToken("eyJ.token.sig").build();
    AMQP.BasicProperties p = Headers.requestProperties(m, 1_700_000_001_000L, "guest", true);
    assertThat(p.getHeaders()).containsOnlyKeys("skiff-token");
    assertThat(Headers.request("com.example.greeter", p, new byte[0], "guest").userToken()).isEqualTo("eyJ.token.sig");
    AMQP.BasicProperties without = Headers.requestProperties(request(ContentTypes.PROTOBUF), 1_700_000_001_000L, "guest", true);
    assertThat(Headers.request("com.example.greeter", without, new byte[0], "guest").userToken()).isNull();
  }
}
