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
 * object, an array, a map's object or a single value), in protobuf's canonical JSON mapping with fields
 * that have no presence written even when they hold their default. A field with presence left unset (a
 * message field, a wrapper, a {@code oneof} member, a proto3 {@code optional}) is written {@code null}, as
 * grpc-gateway writes it: the answer says it has no value rather than inventing a default. A
 * {@code google.protobuf.Any} is written with its type's fields and {@code @type}, for the types of the
 * proto files the service announced. Stateless.
 */
final class ResponseMapper {
  private static final JsonFormat.Printer JSON = JsonFormat.printer().alwaysPrintFieldsWithNoPresence().omittingInsignificantWhitespace();

  private ResponseMapper() {}

  /**
   * @param route the route that was called
   * @param reply the service's answer, of the route's response type
   * @return the response body, JSON
   * @throws InvalidProtocolBufferException when the answer cannot be written as JSON
   */
  static String json(Route route, Message reply) throws InvalidProtocolBufferException {
    JsonFormat.Printer json = route.types() == JsonFormat.TypeRegistry.getEmptyTypeRegistry() ? JSON : JSON.usingTypeRegistry(route.types());
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
