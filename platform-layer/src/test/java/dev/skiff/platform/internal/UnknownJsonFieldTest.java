package dev.skiff.platform.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.testproto.EchoRequest;
import dev.skiff.platform.transport.ContentTypes;
import dev.skiff.proto.v1.HealthReport;
import dev.skiff.proto.v1.InstanceAnnouncement;
import dev.skiff.proto.v1.SetRouteRequest;
import java.nio.charset.StandardCharsets;
import org.assertj.core.api.Assertions;
import org.junit.jupiter.api.Test;

/** A JSON body's unknown field, named with the valid ones (issue 19). */
class UnknownJsonFieldTest {
  private static SkiffException refused(String json, com.google.protobuf.Message prototype) {
    try {
      Codec.decode(json.getBytes(StandardCharsets.UTF_8), ContentTypes.JSON, prototype);
    } catch (SkiffException e) {
      assertThat(e.code()).isEqualTo(ErrorCode.BAD_REQUEST);
      return e;
    }
    return Assertions.fail("accepted: " + json);
  }

  @Test
  void aMisspeltFieldIsNamedAsUnknownWithTheValidFields() {
    assertThat(refused("{\"nmae\": \"Ada\"}", EchoRequest.getDefaultInstance()).description())
        .isEqualTo("unknown field \"nmae\" in skiff.test.EchoRequest; valid fields: text, sleep_ms, fail, blob, hold");
    // after fields that are right, by their proto or their JSON name
    assertThat(refused("{\"text\": \"a\", \"sleepMs\": 1, \"sleep_ms\": 1, \"txet\": 2}", EchoRequest.getDefaultInstance()).description())
        .startsWith("unknown field \"txet\" in skiff.test.EchoRequest;");
  }

  @Test
  void anUnknownFieldOfANestedMessageNamesItsTypeAndWhereItIs() {
    assertThat(refused("{\"rule\": {\"service\": \"a\", \"wieghts\": {}}}", SetRouteRequest.getDefaultInstance()).description())
        .isEqualTo("unknown field \"wieghts\" in skiff.v1.RouteRule (at rule); valid fields: service, weights, updated_ms");
    assertThat(refused("{\"endpoints\": [{\"name\": \"a\"}, {\"nmae\": \"b\"}]}", InstanceAnnouncement.getDefaultInstance()).description())
        .startsWith("unknown field \"nmae\" in skiff.v1.EndpointInfo (at endpoints[]); valid fields: name, request_type,");
  }

  @Test
  void otherMistakesAreStillMalformedJsonNamingTheType() {
    assertThat(refused("{\"text\": ", EchoRequest.getDefaultInstance()).description())
        .startsWith("malformed JSON body for skiff.test.EchoRequest");
    assertThat(refused("{\"sleep_ms\": \"many\"}", EchoRequest.getDefaultInstance()).description())
        .startsWith("malformed JSON body for skiff.test.EchoRequest");
    assertThat(refused("[1, 2]", EchoRequest.getDefaultInstance()).description()).startsWith("malformed JSON body");
  }

  @Test
  void theParsersWordsComeWithoutItsClassNamesAndCut() {
    assertThat(refused("{\"text\": ", EchoRequest.getDefaultInstance()).description())
        .isEqualTo("malformed JSON body for skiff.test.EchoRequest: not valid JSON: End of input at line 1 column 10 path $.text");
    // the parser quotes what it refused: a body of a megabyte is not echoed back whole
    String huge = "[" + "1,".repeat(500_000) + "1]";
    String d = refused(huge, EchoRequest.getDefaultInstance()).description();
    assertThat(d).startsWith("malformed JSON body for skiff.test.EchoRequest: ").doesNotContain("Exception");
    assertThat(d.length()).isLessThan(400);
  }

  @Test
  void aLongListOfValidFieldsIsCut() {
    String d = refused("{\"x\": 1}", HealthReport.getDefaultInstance()).description();
    assertThat(d).startsWith("unknown field \"x\" in skiff.v1.HealthReport; valid fields: ");
    assertThat(HealthReport.getDescriptor().getFields().size() <= UnknownJsonField.MAX_LISTED || d.contains(" more)")).isTrue();
  }
}
