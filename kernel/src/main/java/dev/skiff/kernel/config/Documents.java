package dev.skiff.kernel.config;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The operations on configuration trees (JSON objects held as protobuf {@link Struct}s): parse and print
 * JSON, read, set and delete at a path, merge at the leaves, list the leaves. A leaf is any value that is
 * not a non-empty object (arrays are leaves). Numbers are JSON numbers held as doubles (whole numbers exact up to 10^15). JSON
 * text goes through {@link StrictJson}.
 */
final class Documents {
  /** The most bytes of one layer's document, and of one value, as compact JSON. */
  static final int MAX_BYTES = 64 * 1024;
  private static final Pattern KEY = Pattern.compile("[A-Za-z0-9_-]{1,64}");
  /**
   * The one key of a sealed (encrypted) secret value, {@code {"$secret":"v1...."}}: not a path segment,
   * so no request can write one or a path reach into one; a sealed value is a leaf.
   */
  static final String SEALED = "$secret";

  private Documents() {}

  /**
   * @param json JSON text from a request
   * @return the value
   * @throws SkiffException BAD_REQUEST when it is too long, not JSON, nests too deep or has an object key
   *     that is not a path segment
   */
  static Value parse(String json) {
    if (json.getBytes(StandardCharsets.UTF_8).length > MAX_BYTES) {
      throw new SkiffException(ErrorCode.BAD_REQUEST, "a value has at most " + MAX_BYTES + " bytes of JSON");
    }
    Value v;
    try {
      v = StrictJson.parse(json, ConfigPath.MAX_DEPTH);
    } catch (StrictJson.Invalid e) {
      throw new SkiffException(ErrorCode.BAD_REQUEST, "the value is not valid JSON: " + e.getMessage());
    }
    checkKeys(v, 0);
    return v;
  }

  private static void checkKeys(Value v, int depth) {
    if (depth > ConfigPath.MAX_DEPTH) {
      throw new SkiffException(ErrorCode.BAD_REQUEST, "a tree nests at most " + ConfigPath.MAX_DEPTH + " levels deep");
    }
    if (v.hasStructValue()) {
      for (Map.Entry<String, Value> e : v.getStructValue().getFieldsMap().entrySet()) {
        if (!KEY.matcher(e.getKey()).matches()) {
          throw new SkiffException(ErrorCode.BAD_REQUEST, "an object key is 1 to 64 letters, digits, '_' or '-'");
        }
        checkKeys(e.getValue(), depth + 1);
      }
    } else if (v.hasListValue()) {
      for (Value x : v.getListValue().getValuesList()) {
        checkKeys(x, depth + 1);
      }
    }
  }

  /**
   * @param v a value
   * @return whether it is a sealed secret (an object whose one key is {@value #SEALED}, a string)
   */
  static boolean isSealed(Value v) {
    if (!v.hasStructValue() || v.getStructValue().getFieldsCount() != 1) {
      return false;
    }
    Value inner = v.getStructValue().getFieldsOrDefault(SEALED, null);
    return inner != null && inner.hasStringValue();
  }

  /**
   * @param sealed a sealed text ({@link SecretCipher#seal})
   * @return the sealed value as held in a document
   */
  static Value sealed(String sealed) {
    return Value.newBuilder().setStructValue(Struct.newBuilder().putFields(SEALED, Value.newBuilder().setStringValue(sealed).build())).build();
  }

  /** @return whether a value is an object that is not sealed: one that merges and that paths reach into */
  static boolean isTree(Value v) {
    return v.hasStructValue() && !isSealed(v);
  }

  /**
   * @param v a value
   * @return compact JSON
   */
  static String print(Value v) {
    return StrictJson.print(v);
  }

  /**
   * @param doc a document
   * @return compact JSON
   */
  static String print(Struct doc) {
    return print(Value.newBuilder().setStructValue(doc).build());
  }

  /**
   * @param json a document stored as JSON
   * @return the document
   */
  static Struct parseStored(String json) {
    return parseStoredValue(json).getStructValue();
  }

  /**
   * @param json a value stored (or recorded in a change) as JSON, sealed secrets included
   * @return the value
   */
  static Value parseStoredValue(String json) {
    try {
      return StrictJson.parse(json, Integer.MAX_VALUE);
    } catch (StrictJson.Invalid e) {
      throw new IllegalStateException("a stored configuration value is not JSON: " + e.getMessage());
    }
  }

  /**
   * @param doc a document
   * @param path a path
   * @return the value at the path, if there is one
   */
  static Optional<Value> get(Struct doc, ConfigPath path) {
    Value v = Value.newBuilder().setStructValue(doc).build();
    for (String s : path.segments()) {
      if (!isTree(v) || !v.getStructValue().containsFields(s)) {
        return Optional.empty();
      }
      v = v.getStructValue().getFieldsOrThrow(s);
    }
    return Optional.of(v);
  }

  /**
   * @param doc a document
   * @param path a path (the root: the value must be an object, which replaces the document)
   * @param value the new value, or empty to delete
   * @return the document with the value set at the path (objects made on the way, a value in the way
   *     replaced) or deleted there (objects left empty by a delete are removed)
   */
  static Struct put(Struct doc, ConfigPath path, Optional<Value> value) {
    if (path.isRoot()) {
      if (value.isPresent() && !value.get().hasStructValue()) {
        throw new SkiffException(ErrorCode.BAD_REQUEST, "the whole of a layer is an object");
      }
      return value.map(Value::getStructValue).orElse(Struct.getDefaultInstance());
    }
    return put(doc, path.segments(), value);
  }

  private static Struct put(Struct doc, List<String> path, Optional<Value> value) {
    String head = path.get(0);
    Struct.Builder b = doc.toBuilder();
    if (path.size() == 1) {
      if (value.isPresent()) {
        b.putFields(head, value.get());
      } else {
        b.removeFields(head);
      }
      return b.build();
    }
    Value child = doc.getFieldsOrDefault(head, null);
    if (child == null || !isTree(child)) {
      if (value.isEmpty()) {
        return doc;
      }
      child = Value.newBuilder().setStructValue(Struct.getDefaultInstance()).build();
    }
    Struct inner = put(child.getStructValue(), path.subList(1, path.size()), value);
    if (inner.getFieldsCount() == 0 && value.isEmpty()) {
      b.removeFields(head);
    } else {
      b.putFields(head, Value.newBuilder().setStructValue(inner).build());
    }
    return b.build();
  }

  /**
   * @param lower the lower layer
   * @param upper the upper layer, which wins at each leaf
   * @return the two merged: objects merged key by key, anything else from the upper where it has it
   */
  static Struct merge(Struct lower, Struct upper) {
    Struct.Builder b = lower.toBuilder();
    for (Map.Entry<String, Value> e : upper.getFieldsMap().entrySet()) {
      Value l = lower.getFieldsOrDefault(e.getKey(), null);
      Value u = e.getValue();
      if (l != null && isTree(l) && isTree(u)) {
        b.putFields(e.getKey(), Value.newBuilder().setStructValue(merge(l.getStructValue(), u.getStructValue())).build());
      } else {
        b.putFields(e.getKey(), u);
      }
    }
    return b.build();
  }

  /**
   * @param doc a document
   * @return its leaves by dotted path, in key order
   */
  static Map<String, Value> leaves(Struct doc) {
    Map<String, Value> out = new LinkedHashMap<>();
    leaves("", doc, out);
    return out;
  }

  private static void leaves(String prefix, Struct doc, Map<String, Value> out) {
    doc.getFieldsMap().entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> {
      String p = prefix.isEmpty() ? e.getKey() : prefix + "." + e.getKey();
      Value v = e.getValue();
      if (isTree(v) && v.getStructValue().getFieldsCount() > 0) {
        leaves(p, v.getStructValue(), out);
      } else {
        out.put(p, v);
      }
    });
  }

  /**
   * @param doc a document
   * @return its size as compact JSON, in bytes
   */
  static int size(Struct doc) {
    return print(doc).getBytes(StandardCharsets.UTF_8).length;
  }
}
