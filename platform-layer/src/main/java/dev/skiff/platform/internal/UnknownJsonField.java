package dev.skiff.platform.internal;

import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.ListValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.protobuf.util.JsonFormat;
import java.util.Map;
import java.util.Optional;

/**
 * Finds a field that a JSON body names and its protobuf type does not have, so that a refused body can be
 * answered {@code unknown field "nmae" in com.example.HelloRequest; valid fields: name} rather than as
 * merely malformed (as an unknown endpoint is answered with the endpoints there are). Looks into nested
 * messages, repeated messages and map values; not into the well-known types ({@code google.protobuf.*},
 * which have JSON forms of their own). Run only on a body the parser refused. The names it reports are
 * escaped and cut ({@link Printable}), the list of valid names bounded. Not API.
 */
public final class UnknownJsonField {
  /** At most this many valid field names are listed; the rest are counted. */
  static final int MAX_LISTED = 32;

  private static final JsonFormat.Parser STRUCT_PARSER = JsonFormat.parser();

  private UnknownJsonField() {}

  /**
   * @param json the body, as text
   * @param type the message type it was to be read as
   * @return a description of the first unknown field found, or empty when the body is no JSON object or
   *     names no unknown field (then something else is wrong with it)
   */
  public static Optional<String> describe(String json, Descriptor type) {
    Struct.Builder tree = Struct.newBuilder();
    try {
      STRUCT_PARSER.merge(json, tree);
    } catch (InvalidProtocolBufferException | RuntimeException notAnObject) {
      return Optional.empty();
    }
    return find(tree.build(), type, "");
  }

  private static Optional<String> find(Struct object, Descriptor type, String path) {
    for (Map.Entry<String, Value> e : object.getFieldsMap().entrySet()) {
      String key = e.getKey();
      FieldDescriptor field = field(type, key);
      if (field == null) {
        return Optional.of(message(key, type, path));
      }
      if (field.getJavaType() != FieldDescriptor.JavaType.MESSAGE) {
        continue;
      }
      String here = path + "." + field.getName();
      Optional<String> inner;
      if (field.isMapField()) {
        FieldDescriptor valueField = field.getMessageType().findFieldByName("value");
        inner = valueField.getJavaType() == FieldDescriptor.JavaType.MESSAGE && e.getValue().hasStructValue()
            ? findInValues(e.getValue().getStructValue(), valueField.getMessageType(), here)
            : Optional.empty();
      } else if (field.isRepeated()) {
        inner = e.getValue().hasListValue() ? findInList(e.getValue().getListValue(), field.getMessageType(), here) : Optional.empty();
      } else {
        inner = e.getValue().hasStructValue() ? findIn(e.getValue().getStructValue(), field.getMessageType(), here) : Optional.empty();
      }
      if (inner.isPresent()) {
        return inner;
      }
    }
    return Optional.empty();
  }

  private static Optional<String> findIn(Struct object, Descriptor type, String path) {
    if (type.getFullName().startsWith("google.protobuf.")) {
      return Optional.empty();
    }
    return find(object, type, path);
  }

  private static Optional<String> findInList(ListValue list, Descriptor type, String path) {
    for (Value v : list.getValuesList()) {
      if (v.hasStructValue()) {
        Optional<String> inner = findIn(v.getStructValue(), type, path + "[]");
        if (inner.isPresent()) {
          return inner;
        }
      }
    }
    return Optional.empty();
  }

  private static Optional<String> findInValues(Struct map, Descriptor type, String path) {
    for (Value v : map.getFieldsMap().values()) {
      if (v.hasStructValue()) {
        Optional<String> inner = findIn(v.getStructValue(), type, path + "{}");
        if (inner.isPresent()) {
          return inner;
        }
      }
    }
    return Optional.empty();
  }

  /**
   * @param type a message type
   * @param key a JSON key or a query parameter's name
   * @return the field it names (its proto name or its JSON name, as protobuf's JSON parser accepts), or null
   */
  public static FieldDescriptor field(Descriptor type, String key) {
    FieldDescriptor f = type.findFieldByName(key);
    if (f != null) {
      return f;
    }
    for (FieldDescriptor candidate : type.getFields()) {
      if (candidate.getJsonName().equals(key)) {
        return candidate;
      }
    }
    return null;
  }

  /**
   * @return a name from the body as it can be shown between double quotes on a terminal or in a log: its
   *     quotes and backslashes escaped, then {@link Printable} (unsafe characters escaped, cut)
   */
  static String quoted(String key) {
    // cut before escaping: a name may be megabytes long; Printable cuts again and marks the cut
    String head = key.length() > 2 * Printable.MAX_CHARS ? key.substring(0, 2 * Printable.MAX_CHARS) : key;
    return Printable.of(head.replace("\\", "\\\\").replace("\"", "\\\""));
  }

  private static String message(String key, Descriptor type, String path) {
    StringBuilder b = new StringBuilder("unknown field \"").append(quoted(key)).append("\" in ").append(type.getFullName());
    if (!path.isEmpty()) {
      b.append(" (at ").append(path.substring(1)).append(')');
    }
    b.append("; valid fields: ");
    int n = type.getFields().size();
    if (n == 0) {
      return b.append("none").toString();
    }
    for (int i = 0; i < Math.min(n, MAX_LISTED); i++) {
      b.append(i == 0 ? "" : ", ").append(type.getFields().get(i).getName());
    }
    if (n > MAX_LISTED) {
      b.append(", … (").append(n - MAX_LISTED).append(" more)");
    }
    return b.toString();
  }
}
