package dev.skiff.platform.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Descriptors.Descriptor;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.internal.Codec;
import dev.skiff.platform.internal.StrictJsonBody;
import dev.skiff.platform.testproto.EchoRequest;
import dev.skiff.platform.transport.ContentTypes;
import dev.skiff.proto.v1.InstanceAnnouncement;
import dev.skiff.proto.v1.SetRouteRequest;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * A JSON body from outside (a CLI call, an HTTP request through the gateway) is read strictly before
 * protobuf's parser sees it: one value and nothing after it, no key twice, nesting bounded (a recursive
 * parser given 100,000 levels overflows its stack), each field's value of its kind. Every refusal says
 * what and where, and none quotes the value.
 */
class StrictJsonBodyTest {
  private static final Descriptor ANNOUNCEMENT = InstanceAnnouncement.getDescriptor();
  private static final Descriptor SET_ROUTE = SetRouteRequest.getDescriptor();

  @Test
  void whatTheParserWouldTakeAndShouldIsTaken() {
    for (String ok : new String[] {
        "{}", " {\"service\": \"a.b\", \"sentMs\": 5, \"started_ms\": \"6\", \"state\": \"RUNNING\"}\n",
        "{\"endpoints\": [{\"name\": \"x\", \"idempotent\": true}, {}], \"state\": 1, \"description\": null}",
        "{\"descriptors\": {\"file\": [{\"name\": \"a.proto\"}]}}",
        "{\"rule\": {\"weights\": {\"1.0\": 90, \"2.0\": \"10\"}}, \"force\": false}"}) {
      Descriptor type = ok.contains("rule") ? SET_ROUTE : ANNOUNCEMENT;
      assertThatCode(() -> StrictJsonBody.check(ok, type)).as(ok).doesNotThrowAnyException();
    }
  }

  @Test
  void nestingPastTheLimitIsRefusedWithoutRunningOutOfStack() {
    String deepObjects = "{\"descriptors\":" + "{\"a\":".repeat(100_000) + "1" + "}".repeat(100_000) + "}";
    String deepArrays = "{\"endpoints\":[{\"name\":" + "[".repeat(300_000) + "]".repeat(300_000) + "}]}";
    String deepMessages = "{\"endpoints\":[" + "{\"name\":\"x\",\"http\":{\"get\":\"/\",\"additionalBindings\":[".repeat(60) + "]}}".repeat(60) + "]}";
    refused(deepObjects, ANNOUNCEMENT, "nested deeper than " + StrictJsonBody.MAX_DEPTH + " levels");
    refused(deepArrays, ANNOUNCEMENT, "must be a string, not an array");
    refused("{\"descriptors\":" + "[".repeat(300_000) + "]".repeat(300_000) + "}", ANNOUNCEMENT, "nested deeper");
    refused(deepMessages, ANNOUNCEMENT, "nested deeper");
  }

  @Test
  void textAfterTheValueAKeyTwiceOrAValueOfAnotherKindIsRefusedSayingWhere() {
    refused("{\"service\":\"a\"} {\"service\":\"b\"}", ANNOUNCEMENT, "unexpected text after the JSON value");
    refused("{\"service\":\"a\"} x", ANNOUNCEMENT, "unexpected text after the JSON value");
    refused("{\"service\":\"a\"} // a comment", ANNOUNCEMENT, "unexpected text after the JSON value");
    refused("{\"service\":\"a\",\"service\":\"b\"}", ANNOUNCEMENT, "the key service is given twice at $.service");
    refused("{\"rule\":{\"weights\":{\"1.0\":1,\"1.0\":2}}}", SET_ROUTE, "the key 1.0 is given twice at $.rule.weights.1.0");
    refused("{\"service\":5}", ANNOUNCEMENT, "$.service must be a string, not a number");
    refused("{\"endpoints\":[{\"idempotent\":\"yes\"}]}", ANNOUNCEMENT, "$.endpoints[0].idempotent must be true or false, not a string");
    refused("{\"sentMs\":true}", ANNOUNCEMENT, "$.sentMs must be a number, not true or false");
    refused("{\"endpoints\":{}}", ANNOUNCEMENT, "$.endpoints must be an array, not an object");
    refused("{\"rule\":[]}", SET_ROUTE, "$.rule must be an object, not an array");
    refused("[1]", ANNOUNCEMENT, "the body must be an object, not an array");
    refused("", ANNOUNCEMENT, "empty");
    refused("{'service':'a'}", ANNOUNCEMENT, "not valid JSON");
    refused("{\"service\":\"a\",}", ANNOUNCEMENT, "not valid JSON");
    refused("{\"sentMs\":NaN}", ANNOUNCEMENT, "not valid JSON");
  }

  @Test
  void aFieldsValueAloneIsOneValueOfItsKind() {
    assertThatCode(() -> StrictJsonBody.checkValue("90", InstanceAnnouncement.getDescriptor().findFieldByName("sent_ms")))
        .doesNotThrowAnyException();
    var endpoints = InstanceAnnouncement.getDescriptor().findFieldByName("endpoints");
    assertThatCode(() -> StrictJsonBody.checkValue("[{\"name\":\"a\"}]", endpoints)).doesNotThrowAnyException();
    assertThatThrownBy(() -> StrictJsonBody.checkValue("[{\"name\":\"a\"}]], \"service\": [\"x\"", endpoints))
        .isInstanceOf(StrictJsonBody.Refused.class).hasMessageContaining("after the JSON value");
    assertThatThrownBy(() -> StrictJsonBody.checkValue("\"x\"", endpoints))
        .isInstanceOf(StrictJsonBody.Refused.class).hasMessageContaining("the body must be an array, not a string");
  }

  @Test
  void aServiceRefusesSuchABodyAsBadRequestNamingItsType() {
    byte[] deep = ("{\"text\":" + "[".repeat(200_000) + "]".repeat(200_000) + "}").getBytes(StandardCharsets.UTF_8);
    assertThatThrownBy(() -> Codec.decode(deep, ContentTypes.JSON, EchoRequest.getDefaultInstance()))
        .isInstanceOfSatisfying(SkiffException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.BAD_REQUEST);
          assertThat(e.description()).startsWith("malformed JSON body for skiff.test.EchoRequest: ").contains("must be a string");
        });
    byte[] trailing = "{\"text\":\"a\"} trailing".getBytes(StandardCharsets.UTF_8);
    assertThatThrownBy(() -> Codec.decode(trailing, ContentTypes.JSON, EchoRequest.getDefaultInstance()))
        .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.description()).contains("unexpected text after the JSON value"));
  }

  private static void refused(String json, Descriptor type, String saying) {
    assertThatThrownBy(() -> StrictJsonBody.check(json, type)).as(json.length() > 80 ? json.substring(0, 80) : json)
        .isInstanceOf(StrictJsonBody.Refused.class).hasMessageContaining(saying)
        .satisfies(e -> assertThat(e.getMessage().length()).isLessThan(300));
  }
}
