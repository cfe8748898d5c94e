package dev.skiff.platform.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.testproto.EchoRequest;
import dev.skiff.platform.testproto.EchoResponse;
import dev.skiff.platform.transport.RequestMessage;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The admission rules, as the pure logic they are: a request, a time, a verdict. */
class AdmissionTest {
  private static final long NOW = 1_700_000_000_000L;
  private static final Endpoint<EchoRequest, EchoResponse> ONCE =
      Endpoint.of("once", EchoRequest.class, EchoResponse.class, (r, c) -> EchoResponse.getDefaultInstance());
  private static final Endpoint<EchoRequest, EchoResponse> AGAIN =
      Endpoint.of("again", EchoRequest.class, EchoResponse.class, (r, c) -> EchoResponse.getDefaultInstance()).asIdempotent();
  private final Admission admission =
      new Admission("com.example.svc", Map.of("once", ONCE, "again", AGAIN), 100, Duration.ofMillis(500), Duration.ofSeconds(30), 3);

  private static RequestMessage.Builder request(String endpoint) {
    return RequestMessage.builder().service("com.example.svc").endpoint(endpoint).requestId("r1").body(new byte[10]);
  }

  @Test
  void aRequestWithinEveryBoundIsAdmittedWithItsCallersDeadlineOrTheServersDefault() {
    Admission.Verdict v = admission.onArrival(request("once").deadlineEpochMillis(NOW + 2_000).sentEpochMillis(NOW - 100).build(), NOW);
    assertThat(v.decision()).isEqualTo(Admission.Decision.ADMIT);
    assertThat(v.endpoint()).isSameAs(ONCE);
    assertThat(v.deadlineMillis()).isEqualTo(NOW + 2_000);
    Admission.Verdict none = admission.onArrival(request("again").build(), NOW);
    assertThat(none.deadlineMillis()).as("no deadline: the server's default").isEqualTo(NOW + 30_000);
  }

  @Test
  void aRequestPastItsDeadlineIsDroppedBeforeAnyOtherRuleEvenWhenItBreaksThemToo() {
    RequestMessage late = request("nope").deadlineEpochMillis(NOW).body(new byte[1_000]).build();
    assertThat(admission.onArrival(late, NOW).decision()).isEqualTo(Admission.Decision.DROP);
    assertThat(admission.onArrival(request("once").deadlineEpochMillis(NOW + 1).build(), NOW).decision())
        .as("a millisecond left is still time").isEqualTo(Admission.Decision.ADMIT);
  }

  @Test
  void aRequestOverTheSizeLimitIsAnsweredBadRequestNamingTheLimitAndSetAside() {
    Admission.Verdict v = admission.onArrival(request("once").body(new byte[101]).build(), NOW);
    assertThat(v.decision()).isEqualTo(Admission.Decision.SET_ASIDE);
    assertThat(v.reason()).isEqualTo(Admission.Reason.TOO_LARGE);
    assertThat(v.error().code()).isEqualTo(ErrorCode.BAD_REQUEST);
    assertThat(v.error().description()).contains("101 bytes").contains("limit of 100 bytes");
    assertThat(admission.onArrival(request("once").body(new byte[100]).build(), NOW).decision())
        .as("at the limit").isEqualTo(Admission.Decision.ADMIT);
    Admission.Verdict discarded = admission.onArrival(request("once").body(new byte[0]).build(), 70_000_000L, 0, NOW);
    assertThat(discarded.decision()).as("a body thrown away unread, by its size").isEqualTo(Admission.Decision.SET_ASIDE);
    assertThat(discarded.error().description()).contains("70000000 bytes");
  }

  @Test
  void aRequestDeliveredTheLimitTimesUnsettledIsAnsweredInternalAndSetAsideBeforeAnyOtherRuleButItsDeadline() {
    RequestMessage r = request("nope").sentEpochMillis(NOW - 10_000).build();
    assertThat(admission.onArrival(r, 10, 2, NOW).reason()).as("under the limit: the other rules").isEqualTo(Admission.Reason.WAITED_TOO_LONG);
    Admission.Verdict v = admission.onArrival(r, 10, 3, NOW);
    assertThat(v.decision()).isEqualTo(Admission.Decision.SET_ASIDE);
    assertThat(v.reason()).isEqualTo(Admission.Reason.DELIVERY_LIMIT);
    assertThat(v.error().code()).isEqualTo(ErrorCode.INTERNAL);
    assertThat(v.error().description()).contains("3 times").contains("set aside");
    assertThat(admission.onArrival(request("once").deadlineEpochMillis(NOW).build(), 10, 9, NOW).decision())
        .as("its caller has stopped waiting: dropped").isEqualTo(Admission.Decision.DROP);
  }

  @Test
  void noHandlerIsGivenADeadlineLaterThanTheLongestCallTimeout() {
    Admission.Verdict v = admission.onArrival(request("once").deadlineEpochMillis(Long.MAX_VALUE).build(), NOW);
    assertThat(v.deadlineMillis()).isEqualTo(NOW + dev.skiff.platform.client.CallOptions.MAX_TIMEOUT.toMillis());
  }

  @Test
  void aRequestThatWaitedLongerThanTheBoundIsRefusedCapacityOnArrivalAndAgainAtItsStart() {
    RequestMessage waited = request("once").sentEpochMillis(NOW - 501).build();
    Admission.Verdict v = admission.onArrival(waited, NOW);
    assertThat(v.reason()).isEqualTo(Admission.Reason.WAITED_TOO_LONG);
    assertThat(v.error().code()).isEqualTo(ErrorCode.CAPACITY);
    assertThat(v.error().description()).contains("waited 501 ms").contains("limit of 500 ms");
    RequestMessage fresh = request("once").sentEpochMillis(NOW - 500).build();
    assertThat(admission.onArrival(fresh, NOW).decision()).isEqualTo(Admission.Decision.ADMIT);
    assertThat(admission.onStart(fresh, NOW)).as("still within the bound").isNull();
    assertThat(admission.onStart(fresh, NOW + 1).reason()).as("waited for a thread past it").isEqualTo(Admission.Reason.WAITED_TOO_LONG);
    assertThat(admission.onStart(request("once").build(), NOW + 60_000)).as("no send time: no bound").isNull();
    Admission unbounded = new Admission("s", Map.of("once", ONCE), 100, null, Duration.ofSeconds(30), 3);
    assertThat(unbounded.onStart(waited, NOW + 60_000)).as("no bound configured").isNull();
  }

  @Test
  void anUnknownEndpointIsRefusedNotFoundListingTheEndpointsThereAre() {
    Admission.Verdict v = admission.onArrival(request("nope").build(), NOW);
    assertThat(v.reason()).isEqualTo(Admission.Reason.UNKNOWN_ENDPOINT);
    assertThat(v.error().code()).isEqualTo(ErrorCode.NOT_FOUND);
    assertThat(v.error().description()).contains("'nope'").contains("again, once");
    assertThat(v.error().context()).containsEntry("endpoint", "nope");
  }

  @Test
  void aRedeliveryIsRefusedUnknownOutcomeOnlyForAnEndpointThatIsNotIdempotent() {
    RequestMessage r = request("once").build();
    Admission.Verdict v = admission.onRedelivery(ONCE, r, true);
    assertThat(v.reason()).isEqualTo(Admission.Reason.UNKNOWN_OUTCOME);
    assertThat(v.error().code()).isEqualTo(ErrorCode.UNKNOWN_OUTCOME);
    assertThat(v.error().description()).contains("not idempotent").contains("may or may not have been carried out");
    assertThat(admission.onRedelivery(ONCE, r, false)).as("a first delivery").isNull();
    assertThat(admission.onRedelivery(AGAIN, r, true)).as("an idempotent endpoint runs it again").isNull();
  }
}
