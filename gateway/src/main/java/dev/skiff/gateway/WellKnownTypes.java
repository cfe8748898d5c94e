package dev.skiff.gateway;

import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import dev.skiff.platform.internal.JsonStrings;
import java.util.Map;
import java.util.Set;

/**
 * The JSON forms of protobuf's well-known types, where the gateway needs them apart from a whole message:
 * which of them a path variable or query parameter may fill (those written in JSON as one string, number or
 * boolean: the wrappers, {@code Timestamp}, {@code Duration}, {@code FieldMask}), reading one from such a
 * text, and each one's OpenAPI schema (a {@code Timestamp} is an RFC 3339 string in JSON, not an object of
 * seconds and nanos). The same forms as gRPC transcoding and grpc-gateway. Stateless.
 */
final class WellKnownTypes {
  private static final JsonFormat.Parser JSON = JsonFormat.parser();

  /** The OpenAPI schema of each well-known type whose JSON form is not an object of its fields. */
  private static final Map<String, String> SCHEMAS = Map.ofEntries(
      Map.entry("google.protobuf.Timestamp", "{\"type\":\"string\",\"format\":\"date-time\"}"),
      Map.entry("google.protobuf.Duration", "{\"type\":\"string\",\"pattern\":\"^-?[0-9]+(\\\\.[0-9]{1,9})?s$\"}"),
      Map.entry("google.protobuf.FieldMask", "{\"type\":\"string\",\"description\":\"field paths, comma-separated\"}"),
      Map.entry("google.protobuf.StringValue", "{\"type\":\"string\"}"),
      Map.entry("google.protobuf.BytesValue", "{\"type\":\"string\",\"format\":\"byte\"}"),
      Map.entry("google.protobuf.BoolValue", "{\"type\":\"boolean\"}"),
      Map.entry("google.protobuf.Int32Value", "{\"type\":\"integer\",\"format\":\"int32\"}"),
      Map.entry("google.protobuf.UInt32Value", "{\"type\":\"integer\",\"format\":\"int64\",\"minimum\":0}"),
      Map.entry("google.protobuf.Int64Value", "{\"type\":\"string\",\"format\":\"int64\"}"),
      Map.entry("google.protobuf.UInt64Value", "{\"type\":\"string\",\"format\":\"uint64\"}"),
      Map.entry("google.protobuf.FloatValue", "{\"type\":\"number\",\"format\":\"float\"}"),
      Map.entry("google.protobuf.DoubleValue", "{\"type\":\"number\",\"format\":\"double\"}"),
      Map.entry("google.protobuf.Struct", "{\"type\":\"object\",\"additionalProperties\":true}"),
      Map.entry("google.protobuf.Value", "{\"description\":\"any JSON value\"}"),
      Map.entry("google.protobuf.ListValue", "{\"type\":\"array\",\"items\":{}}"),
      Map.entry("google.protobuf.Any",
          "{\"type\":\"object\",\"properties\":{\"@type\":{\"type\":\"string\"}},\"additionalProperties\":true}"),
      Map.entry("google.protobuf.Empty", "{\"type\":\"object\"}"));

  /** The well-known types among them whose JSON form is an object, an array or any value. */
  private static final Set<String> STRUCTURED = Set.of("google.protobuf.Struct", "google.protobuf.Value",
      "google.protobuf.ListValue", "google.protobuf.Any", "google.protobuf.Empty");

  private WellKnownTypes() {}

  /**
   * @param type a message type
   * @return whether it is written in JSON as a single string, number or boolean, so that a path
   *     variable or a query parameter can hold it
   */
  static boolean isSingleValue(Descriptor type) {
    return SCHEMAS.containsKey(type.getFullName()) && !STRUCTURED.contains(type.getFullName());
  }

  /**
   * Reads a well-known type from the text of a path variable or query parameter, as its JSON form would
   * hold it ({@code 2026-12-05T10:00:00Z}, {@code 1.5s}, {@code user.name,address}, {@code 42}).
   *
   * @param type a type for which {@link #isSingleValue} holds
   * @param text the text (untrusted)
   * @return the message
   * @throws IllegalArgumentException when the text is not a valid value of the type
   */
  static Message parse(Descriptor type, String text) {
    DynamicMessage.Builder b = DynamicMessage.newBuilder(type);
    try {
      JSON.merge(JsonStrings.quote(text), b);
    } catch (InvalidProtocolBufferException | RuntimeException e) {
      throw new IllegalArgumentException("not a valid " + type.getFullName(), e);
    }
    return b.build();
  }

  /**
   * @param type a message type
   * @return its OpenAPI schema, when it is a well-known type with a JSON form of its own; else null
   */
  static String schema(Descriptor type) {
    return SCHEMAS.get(type.getFullName());
  }
}
