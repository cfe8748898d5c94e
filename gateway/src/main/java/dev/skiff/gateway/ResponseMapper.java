package dev.skiff.gateway;

import com.google.gson.JsonElement;
import com.google.gson.JsonParser;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;

/**
 * Writes a service's answer as the HTTP response body the way gRPC transcoding does: the whole response
 * message, or, for a rule with {@code response_body: "books"}, the value of that one top-level field (an
 * object, an array, a map's object or a single value), with the route's printer ({@link RouteJson}: fields
 * without presence written at their defaults, an {@code Any} with its type's fields and {@code @type}). A
 * field with presence left unset (a message field, a wrapper, a {@code oneof} member, a proto3
 * {@code optional}) is written {@code null}, as grpc-gateway writes it: the answer says it has no value
 * rather than inventing a default. Stateless.
 */
final class ResponseMapper {
  private ResponseMapper() {}

  /**
   * @param route the route that was called
   * @param reply the service's answer, of the route's response type
   * @return the response body, JSON
   * @throws InvalidProtocolBufferException when the answer cannot be written as JSON
   */
  static String json(Route route, Message reply) throws InvalidProtocolBufferException {
    JsonFormat.Printer json = route.json().printer();
    FieldDescriptor field = route.responseBody();
    if (field == null) {
      return json.print(reply);
    }
    if (field.hasPresence() && !reply.hasField(field)) {
      return "null";
    }
    if (!field.isRepeated() && field.getJavaType() == FieldDescriptor.JavaType.MESSAGE) {
      return json.print((Message) reply.getField(field));
    }
    JsonElement value = JsonParser.parseString(json.print(reply)).getAsJsonObject().get(field.getJsonName());
    return value == null ? "null" : value.toString();
  }
}
