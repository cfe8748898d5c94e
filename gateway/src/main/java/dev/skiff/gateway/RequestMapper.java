package dev.skiff.gateway;

import com.google.protobuf.ByteString;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.internal.JsonStrings;
import dev.skiff.platform.internal.StrictJsonBody;
import dev.skiff.platform.internal.Printable;
import dev.skiff.platform.internal.ParserMessages;
import dev.skiff.platform.internal.UnknownJsonField;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Builds a request message from an HTTP request the way gRPC transcoding does: path variables, then the
 * body (the whole message for {@code body: "*"}, or one field: a message, a repeated field, a map, a value), then query parameters for the
 * fields neither binds ({@code ?a.b=1&tags=x&tags=y}: nested and repeated fields). A path variable or query
 * parameter may also fill a well-known type that JSON writes as one value ({@code ?since=2026-12-05T10:00:00Z},
 * {@code ?limit=10} for an {@code Int32Value}, {@code ?update_mask=name,address.city}). Everything it reads is
 * untrusted: an unknown field, a value of the wrong type, a repeated singular parameter or malformed JSON
 * is {@code BAD_REQUEST} and no service sees the request. A {@code google.protobuf.Any} in the body may hold
 * a message of any type in the proto files the service announced ({@link Route#json()}), none other.
 * Stateless.
 */
final class RequestMapper {
  /** The most query parameters a request may carry. */
  static final int MAX_QUERY_PARAMS = 64;

  private RequestMapper() {}

  /**
   * @param route the matched route
   * @param pathValues the path variables' values by field path
   * @param rawQuery the query string, still encoded, or null
   * @param body the request body (empty for none)
   * @return the request message
   * @throws SkiffException BAD_REQUEST saying what is wrong
   */
  static Message map(Route route, Map<String, String> pathValues, String rawQuery, byte[] body) {
    DynamicMessage.Builder b = DynamicMessage.newBuilder(route.request());
    if (route.body() == null) {
      if (body.length > 0) {
        throw bad("this route takes no request body");
      }
    } else if (body.length > 0) {
      String json = new String(body, StandardCharsets.UTF_8);
      JsonFormat.Parser parser = route.json().parser();
      if (route.body().equals("*")) {
        merge(parser, json, b, route.request(), null);
      } else {
        FieldDescriptor f = route.request().findFieldByName(route.body());
        if (!f.isRepeated() && f.getJavaType() == FieldDescriptor.JavaType.MESSAGE) {
          DynamicMessage.Builder inner = DynamicMessage.newBuilder(f.getMessageType());
          merge(parser, json, inner, f.getMessageType(), f.getName());
          b.setField(f, inner.build());
        } else {
          // the body is that field's value (an array, a map's object, one value): checked to be exactly one
          // JSON value of the field's kind before it is wrapped, so that it cannot reach any other field
          try {
            StrictJsonBody.checkValue(json, f);
          } catch (StrictJsonBody.Refused e) {
            throw bad("malformed JSON body for field " + f.getName() + ": " + e.getMessage());
          }
          DynamicMessage.Builder only = DynamicMessage.newBuilder(route.request());
          merge(parser, "{" + JsonStrings.quote(f.getJsonName()) + ":" + json + "}", only, route.request(), f.getName());
          b.setField(f, only.getField(f));
        }
      }
    }
    for (Map.Entry<String, String> e : pathValues.entrySet()) {
      set(b, e.getKey(), List.of(e.getValue()));
    }
    Map<String, List<String>> query = query(rawQuery);
    if (!query.isEmpty() && "*".equals(route.body())) {
      throw bad("this route takes its fields from the body, not the query");
    }
    for (Map.Entry<String, List<String>> e : query.entrySet()) {
      if (pathValues.containsKey(e.getKey())) {
        throw bad("query parameter " + quoted(e.getKey()) + " is bound by the path");
      }
      if (route.body() != null && (e.getKey().equals(route.body()) || e.getKey().startsWith(route.body() + "."))) {
        throw bad("query parameter " + quoted(e.getKey()) + " is bound by the body");
      }
      set(b, e.getKey(), e.getValue());
    }
    return b.build();
  }

  private static void merge(JsonFormat.Parser parser, String json, Message.Builder into, Descriptor type, String at) {
    try {
      StrictJsonBody.check(json, type);
    } catch (StrictJsonBody.Refused e) {
      throw bad("malformed JSON body for " + type.getFullName() + (at == null ? "" : " (field " + at + ")") + ": " + e.getMessage());
    }
    try {
      parser.merge(json, into);
    } catch (InvalidProtocolBufferException | RuntimeException e) {
      String unknown = UnknownJsonField.describe(json, type).orElse(null);
      throw bad(unknown != null ? unknown
          : "malformed JSON body for " + type.getFullName() + (at == null ? "" : " (field " + at + ")") + ": "
              + Printable.of(ParserMessages.of(e), 200));
    }
  }

  /** Parses a query string: names to values, in order; bounded. */
  private static Map<String, List<String>> query(String raw) {
    Map<String, List<String>> m = new LinkedHashMap<>();
    if (raw == null || raw.isEmpty()) {
      return m;
    }
    int count = 0;
    for (String pair : raw.split("&", -1)) {
      if (pair.isEmpty()) {
        continue;
      }
      if (++count > MAX_QUERY_PARAMS) {
        throw bad("more than " + MAX_QUERY_PARAMS + " query parameters");
      }
      int eq = pair.indexOf('=');
      String k;
      String v;
      k = formDecode(eq < 0 ? pair : pair.substring(0, eq));
      v = eq < 0 ? "" : formDecode(pair.substring(eq + 1));
      m.computeIfAbsent(k, x -> new ArrayList<>()).add(v);
    }
    return m;
  }

  /** Decodes a query string's name or value ({@code +} is a space), strictly ({@link PercentDecoding}). */
  private static String formDecode(String s) {
    try {
      return PercentDecoding.decode(s, true);
    } catch (PercentDecoding.Refused e) {
      throw bad(e.fault == PercentDecoding.Fault.MALFORMED
          ? "malformed percent-encoding in the query" : "the query's percent-encoding is not UTF-8");
    }
  }

  /**
   * @param type a message type
   * @param fieldPath {@code a.b.c}
   * @return the leaf field: every field before it a singular message field; the leaf a scalar, an enum, or a
   *     well-known type written as one value ({@link WellKnownTypes#isSingleValue})
   * @throws IllegalArgumentException naming the path when it does not lead to such a field
   */
  static FieldDescriptor leaf(Descriptor type, String fieldPath) {
    String[] parts = fieldPath.split("\\.", -1);
    if (parts.length > PathTemplate.MAX_FIELD_DEPTH) {
      throw new IllegalArgumentException("field path deeper than " + PathTemplate.MAX_FIELD_DEPTH);
    }
    Descriptor t = type;
    FieldDescriptor f = null;
    for (int i = 0; i < parts.length; i++) {
      f = UnknownJsonField.field(t, parts[i]);
      if (f == null) {
        throw new IllegalArgumentException("no field " + Printable.of(fieldPath) + " in " + type.getFullName());
      }
      if (i < parts.length - 1) {
        if (f.isRepeated() || f.getJavaType() != FieldDescriptor.JavaType.MESSAGE) {
          throw new IllegalArgumentException(Printable.of(fieldPath) + ": " + f.getName() + " is not a singular message field");
        }
        if (WellKnownTypes.schema(f.getMessageType()) != null) {
          throw new IllegalArgumentException(Printable.of(fieldPath) + ": " + f.getName() + " is a "
              + f.getMessageType().getFullName() + ", set as one value, not field by field");
        }
        t = f.getMessageType();
      }
    }
    if (f.isMapField() || (f.getJavaType() == FieldDescriptor.JavaType.MESSAGE && !WellKnownTypes.isSingleValue(f.getMessageType()))) {
      throw new IllegalArgumentException(Printable.of(fieldPath) + " is a message or map field, not a value");
    }
    return f;
  }

  /** Sets the field at a path to values (several only for a repeated field). */
  private static void set(DynamicMessage.Builder root, String fieldPath, List<String> values) {
    FieldDescriptor leaf;
    try {
      leaf = leaf(root.getDescriptorForType(), fieldPath);
    } catch (IllegalArgumentException e) {
      throw bad(unknownField(root.getDescriptorForType(), fieldPath, e.getMessage()));
    }
    if (!leaf.isRepeated() && values.size() > 1) {
      throw bad("parameter " + quoted(fieldPath) + " given " + values.size() + " times; " + leaf.getName() + " is not repeated");
    }
    // walk down, building the nested messages
    String[] parts = fieldPath.split("\\.");
    List<Message.Builder> chain = new ArrayList<>();
    List<FieldDescriptor> fields = new ArrayList<>();
    Message.Builder at = root;
    for (int i = 0; i < parts.length - 1; i++) {
      FieldDescriptor f = UnknownJsonField.field(at.getDescriptorForType(), parts[i]);
      Message.Builder next = ((Message) at.getField(f)).toBuilder();
      chain.add(at);
      fields.add(f);
      at = next;
    }
    if (leaf.isRepeated()) {
      for (String v : values) {
        at.addRepeatedField(leaf, convert(leaf, fieldPath, v));
      }
    } else {
      at.setField(leaf, convert(leaf, fieldPath, values.get(0)));
    }
    for (int i = chain.size() - 1; i >= 0; i--) {
      chain.get(i).setField(fields.get(i), at.build());
      at = chain.get(i);
    }
  }

  private static String unknownField(Descriptor type, String fieldPath, String why) {
    if (fieldPath.isEmpty()) {
      return "a query parameter without a name (e.g. '?=x')";
    }
    Set<String> names = new HashSet<>();
    type.getFields().forEach(f -> names.add(f.getName()));
    return "unknown or unusable parameter " + quoted(fieldPath) + " for " + type.getFullName() + ": " + why
        + (names.isEmpty() ? "; " + type.getFullName() + " has no fields" : "; valid fields: " + String.join(", ", new java.util.TreeSet<>(names)));
  }

  private static Object convert(FieldDescriptor f, String path, String v) {
    try {
      return switch (f.getJavaType()) {
        case STRING -> v;
        case INT -> f.getType() == FieldDescriptor.Type.UINT32 || f.getType() == FieldDescriptor.Type.FIXED32
            ? Integer.parseUnsignedInt(v) : Integer.parseInt(v);
        case LONG -> f.getType() == FieldDescriptor.Type.UINT64 || f.getType() == FieldDescriptor.Type.FIXED64
            ? Long.parseUnsignedLong(v) : Long.parseLong(v);
        case FLOAT -> Float.parseFloat(v);
        case DOUBLE -> Double.parseDouble(v);
        case BOOLEAN -> switch (v) {
          case "true" -> Boolean.TRUE;
          case "false" -> Boolean.FALSE;
          default -> throw new NumberFormatException();
        };
        case BYTE_STRING -> ByteString.copyFrom(v.contains("-") || v.contains("_")
            ? Base64.getUrlDecoder().decode(v) : Base64.getDecoder().decode(v));
        case ENUM -> enumValue(f, v);
        case MESSAGE -> WellKnownTypes.parse(f.getMessageType(), v);
      };
    } catch (IllegalArgumentException e) {
      String type = f.getJavaType() == FieldDescriptor.JavaType.MESSAGE ? f.getMessageType().getFullName()
          : f.getType().name().toLowerCase(java.util.Locale.ROOT);
      throw bad("parameter " + quoted(path) + ": " + quoted(v) + " is not a valid " + type);
    }
  }

  private static EnumValueDescriptor enumValue(FieldDescriptor f, String v) {
    EnumValueDescriptor e = f.getEnumType().findValueByName(v);
    if (e == null) {
      e = f.getEnumType().findValueByNumber(Integer.parseInt(v));
    }
    if (e == null) {
      throw new NumberFormatException();
    }
    return e;
  }

  private static String quoted(String s) {
    return "\"" + Printable.of(s) + "\"";
  }

  private static SkiffException bad(String message) {
    return new SkiffException(ErrorCode.BAD_REQUEST, message);
  }
}
