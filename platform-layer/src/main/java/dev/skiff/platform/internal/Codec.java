package dev.skiff.platform.internal;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.transport.ContentTypes;
import dev.skiff.proto.v1.Error;
import java.nio.charset.StandardCharsets;

/** Encodes and decodes bodies as protobuf binary or JSON. Not API: used by Server and Client. */
public final class Codec {
  private static final JsonFormat.Parser JSON_PARSER = JsonFormat.parser();
  private static final JsonFormat.Printer JSON_PRINTER = JsonFormat.printer().alwaysPrintFieldsWithNoPresence();

  private static final ClassValue<Message> DEFAULTS =
      new ClassValue<>() {
        @Override
        @SuppressWarnings("unchecked")
        protected Message computeValue(Class<?> type) {
          return com.google.protobuf.Internal.getDefaultInstance((Class<? extends Message>) type);
        }
      };

  private Codec() {}

  /**
   * The default instance of a generated message class, looked up once per class (protobuf's own lookup
   * reflects on every call).
   *
   * @param type the message class
   * @param <T> its type
   * @return its default instance
   */
  @SuppressWarnings("unchecked")
  public static <T extends Message> T prototype(Class<T> type) {
    return (T) DEFAULTS.get(type);
  }

  /**
   * Encodes a message.
   *
   * @param m the message
   * @param contentType {@link ContentTypes#JSON} or protobuf
   * @return the bytes
   */
  public static byte[] encode(Message m, String contentType) {
    if (ContentTypes.isJson(contentType)) {
      try {
        return JSON_PRINTER.print(m).getBytes(StandardCharsets.UTF_8);
      } catch (InvalidProtocolBufferException e) {
        throw new SkiffException(ErrorCode.INTERNAL, "cannot print " + m.getDescriptorForType().getFullName() + " as JSON", e);
      }
    }
    return m.toByteArray();
  }

  /**
   * Decodes a body into a message of the prototype's type.
   *
   * @param body the bytes
   * @param contentType how they are encoded
   * @param prototype any instance of the wanted type
   * @param <T> the type
   * @return the message
   * @throws SkiffException BAD_REQUEST naming the type when the body is malformed (JSON is read strictly
   *     first: {@link StrictJsonBody})
   */
  @SuppressWarnings("unchecked")
  public static <T extends Message> T decode(byte[] body, String contentType, T prototype) {
    try {
      if (ContentTypes.isJson(contentType)) {
        String json = new String(body, StandardCharsets.UTF_8);
        StrictJsonBody.check(json, prototype.getDescriptorForType());
        Message.Builder b = prototype.newBuilderForType();
        JSON_PARSER.merge(json, b);
        return (T) b.build();
      }
      if (contentType != null && !contentType.isEmpty() && !contentType.equals(ContentTypes.PROTOBUF)) {
        throw new SkiffException(
            ErrorCode.BAD_REQUEST,
            "unsupported content type '" + contentType + "' (use " + ContentTypes.PROTOBUF + " or " + ContentTypes.JSON + ")");
      }
      return (T) prototype.getParserForType().parseFrom(body);
    } catch (InvalidProtocolBufferException | RuntimeException e) {
      if (e instanceof SkiffException se) {
        throw se;
      }
      if (e instanceof StrictJsonBody.Refused r) {
        throw new SkiffException(
            ErrorCode.BAD_REQUEST, "malformed JSON body for " + prototype.getDescriptorForType().getFullName() + ": " + r.getMessage());
      }
      if (ContentTypes.isJson(contentType)) {
        java.util.Optional<String> unknown =
            UnknownJsonField.describe(new String(body, StandardCharsets.UTF_8), prototype.getDescriptorForType());
        if (unknown.isPresent()) {
          throw new SkiffException(ErrorCode.BAD_REQUEST, unknown.get(), e);
        }
      }
      throw new SkiffException(
          ErrorCode.BAD_REQUEST,
          "malformed " + (ContentTypes.isJson(contentType) ? "JSON" : "protobuf") + " body for "
              + prototype.getDescriptorForType().getFullName() + ": " + Printable.of(ParserMessages.of(e), 200),
          e);
    }
  }

  /**
   * Reads an error reply body; an unreadable one becomes INTERNAL with that said.
   *
   * @param body the bytes
   * @param contentType how they are encoded
   * @return the error
   */
  public static SkiffException decodeError(byte[] body, String contentType) {
    try {
      return SkiffException.fromProto(decode(body, contentType, Error.getDefaultInstance()));
    } catch (SkiffException e) {
      return new SkiffException(ErrorCode.INTERNAL, "the service answered with an unreadable error: " + e.description());
    }
  }
}
