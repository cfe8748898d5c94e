package dev.skiff.cli;

import dev.skiff.platform.internal.JsonStrings;
import java.util.Locale;
import java.util.Map;

/**
 * A small writer of one JSON object on one line, for {@code load --json}. Keys are written in the order
 * they are added; strings are escaped per RFC 8259.
 */
final class Json {
  private final StringBuilder sb = new StringBuilder("{");
  private boolean first = true;

  Json put(String key, String value) {
    key(key);
    if (value == null) {
      sb.append("null");
    } else {
      JsonStrings.quote(sb, value);
    }
    return this;
  }

  Json put(String key, long value) {
    key(key);
    sb.append(value);
    return this;
  }

  /** A number with at most three decimals (milliseconds to the microsecond); NaN and infinities as null. */
  Json put(String key, double value) {
    key(key);
    if (Double.isNaN(value) || Double.isInfinite(value)) {
      sb.append("null");
    } else {
      sb.append(number(value));
    }
    return this;
  }

  Json putCounts(String key, Map<String, Long> counts) {
    Json o = new Json();
    counts.forEach(o::put);
    return putRaw(key, o);
  }

  /** A nested object, or null for none. */
  Json putRaw(String key, Json object) {
    key(key);
    sb.append(object == null ? "null" : object.toString());
    return this;
  }

  @Override
  public String toString() {
    return sb + "}";
  }

  private void key(String key) {
    if (!first) {
      sb.append(',');
    }
    first = false;
    JsonStrings.quote(sb, key);
    sb.append(':');
  }

  static String number(double value) {
    String s = String.format(Locale.ROOT, "%.3f", value);
    // trim trailing zeros, and the point if nothing follows it: 2.500 -> 2.5, 7.000 -> 7
    int end = s.length();
    while (s.charAt(end - 1) == '0') {
      end--;
    }
    if (s.charAt(end - 1) == '.') {
      end--;
    }
    return s.substring(0, end);
  }
}
