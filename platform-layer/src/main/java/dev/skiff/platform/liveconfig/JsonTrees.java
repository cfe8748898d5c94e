package dev.skiff.platform.liveconfig;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.ListValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.protobuf.util.JsonFormat;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Turns the config service's merged view (a JSON object tree) into the flat values by dotted path that a
 * {@link dev.skiff.platform.config.ConfigSource} gives: {@code {"db":{"host":"h","port":5432}}} becomes
 * {@code db.host=h}, {@code db.port=5432}. An array of plain values becomes a comma-separated list (the
 * platform's way of writing lists); anything else inside an array is kept as its JSON text. Whole numbers
 * print without a fraction.
 */
final class JsonTrees {
  /** The largest view taken (bytes of JSON): six layers of at most 64 KiB each, with room to spare. */
  static final int MAX_JSON_BYTES = 1 << 20;

  private JsonTrees() {}

  /**
   * @param json a JSON object, or empty for none
   * @return its leaves by dotted path, sorted
   * @throws IllegalArgumentException when it is not a JSON object or is too big
   */
  static SortedMap<String, String> flatten(String json) {
    SortedMap<String, String> out = new TreeMap<>();
    if (json.isEmpty()) {
      return out;
    }
    if (json.length() > MAX_JSON_BYTES) {
      throw new IllegalArgumentException("the configuration is larger than " + MAX_JSON_BYTES + " bytes");
    }
    Struct.Builder s = Struct.newBuilder();
    try {
      JsonFormat.parser().merge(json, s);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalArgumentException("the configuration is not a JSON object: " + e.getMessage(), e);
    }
    put(out, "", s.build());
    return out;
  }

  private static void put(Map<String, String> out, String prefix, Struct s) {
    for (Map.Entry<String, Value> e : new TreeMap<>(s.getFieldsMap()).entrySet()) {
      String path = prefix.isEmpty() ? e.getKey() : prefix + "." + e.getKey();
      Value v = e.getValue();
      if (v.hasStructValue() && v.getStructValue().getFieldsCount() > 0) {
        put(out, path, v.getStructValue());
      } else {
        out.put(path, text(v));
      }
    }
  }

  private static String text(Value v) {
    switch (v.getKindCase()) {
      case STRING_VALUE:
        return v.getStringValue();
      case NUMBER_VALUE:
        return number(v.getNumberValue());
      case BOOL_VALUE:
        return Boolean.toString(v.getBoolValue());
      case NULL_VALUE:
        return "";
      case LIST_VALUE:
        return list(v.getListValue());
      default:
        return json(v);
    }
  }

  private static String list(ListValue l) {
    List<String> parts = new ArrayList<>();
    for (Value x : l.getValuesList()) {
      parts.add(x.hasStructValue() || x.hasListValue() ? json(x) : text(x));
    }
    return String.join(",", parts);
  }

  private static String number(double d) {
    if (d == Math.rint(d) && Math.abs(d) < 1e15) {
      return Long.toString((long) d);
    }
    return Double.toString(d);
  }

  private static String json(Value v) {
    try {
      return JsonFormat.printer().omittingInsignificantWhitespace().print(v);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException(e);
    }
  }
}
