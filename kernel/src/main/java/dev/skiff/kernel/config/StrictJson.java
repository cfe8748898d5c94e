package dev.skiff.kernel.config;

import com.google.protobuf.ListValue;
import com.google.protobuf.NullValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import dev.skiff.platform.internal.JsonStrings;
import java.math.BigDecimal;
import java.util.Map;
import java.util.TreeMap;

/**
 * JSON text to and from protobuf {@link Value}s, strictly (RFC 8259: no comments, no single quotes, no
 * bare words, nothing after the value) and with a depth limit, as text from a request is hostile. Numbers
 * are doubles; an integral one prints without a fraction. Object keys print in key order.
 */
final class StrictJson {
  /** The largest integer a double holds exactly, and so the largest a value may be written as: 2^53. */
  static final double MAX_EXACT = 9007199254740992.0;
  private static final java.math.BigInteger MAX_EXACT_INTEGER = java.math.BigInteger.ONE.shiftLeft(53);

  /** Why a text was refused. */
  static final class Invalid extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Invalid(String message) {
      super(message, null, false, false);
    }
  }

  private final String s;
  private final int maxDepth;
  private int i;

  private StrictJson(String s, int maxDepth) {
    this.s = s;
    this.maxDepth = maxDepth;
  }

  /**
   * @param text JSON text
   * @param maxDepth how deep arrays and objects may nest
   * @return the value
   * @throws Invalid saying what is wrong (without quoting the text)
   */
  static Value parse(String text, int maxDepth) {
    StrictJson p = new StrictJson(text, maxDepth);
    p.ws();
    Value v = p.value(0);
    p.ws();
    if (p.i != text.length()) {
      throw new Invalid("unexpected text after the value at character " + p.i);
    }
    return v;
  }

  private Value value(int depth) {
    if (i >= s.length()) {
      throw new Invalid("the text ends where a value was expected");
    }
    char c = s.charAt(i);
    switch (c) {
      case '{':
        return Value.newBuilder().setStructValue(object(depth + 1)).build();
      case '[':
        return Value.newBuilder().setListValue(array(depth + 1)).build();
      case '"':
        return Value.newBuilder().setStringValue(string()).build();
      case 't':
        word("true");
        return Value.newBuilder().setBoolValue(true).build();
      case 'f':
        word("false");
        return Value.newBuilder().setBoolValue(false).build();
      case 'n':
        word("null");
        return Value.newBuilder().setNullValue(NullValue.NULL_VALUE).build();
      default:
        if (c == '-' || (c >= '0' && c <= '9')) {
          return Value.newBuilder().setNumberValue(number()).build();
        }
        throw new Invalid("unexpected character at " + i + " (a string is written in double quotes)");
    }
  }

  private void depth(int depth) {
    if (depth > maxDepth) {
      throw new Invalid("arrays and objects nest at most " + maxDepth + " levels deep");
    }
  }

  private Struct object(int depth) {
    depth(depth);
    i++;
    Struct.Builder b = Struct.newBuilder();
    ws();
    if (peek() == '}') {
      i++;
      return b.build();
    }
    while (true) {
      ws();
      if (peek() != '"') {
        throw new Invalid("an object key is a string, at character " + i);
      }
      String key = string();
      if (b.containsFields(key)) {
        throw new Invalid("an object has a key twice");
      }
      ws();
      expect(':');
      ws();
      b.putFields(key, value(depth));
      ws();
      if (peek() == ',') {
        i++;
        continue;
      }
      expect('}');
      return b.build();
    }
  }

  private ListValue array(int depth) {
    depth(depth);
    i++;
    ListValue.Builder b = ListValue.newBuilder();
    ws();
    if (peek() == ']') {
      i++;
      return b.build();
    }
    while (true) {
      ws();
      b.addValues(value(depth));
      ws();
      if (peek() == ',') {
        i++;
        continue;
      }
      expect(']');
      return b.build();
    }
  }

  private String string() {
    i++;
    StringBuilder out = new StringBuilder();
    while (true) {
      if (i >= s.length()) {
        throw new Invalid("a string is not closed");
      }
      char c = s.charAt(i++);
      if (c == '"') {
        return out.toString();
      }
      if (c < 0x20) {
        throw new Invalid("a control character in a string must be escaped");
      }
      if (c != '\\') {
        out.append(c);
        continue;
      }
      if (i >= s.length()) {
        throw new Invalid("a string is not closed");
      }
      char e = s.charAt(i++);
      switch (e) {
        case '"', '\\', '/' -> out.append(e);
        case 'b' -> out.append('\b');
        case 'f' -> out.append('\f');
        case 'n' -> out.append('\n');
        case 'r' -> out.append('\r');
        case 't' -> out.append('\t');
        case 'u' -> {
          if (i + 4 > s.length()) {
            throw new Invalid("a \\u escape needs four hex digits");
          }
          try {
            out.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
          } catch (NumberFormatException x) {
            throw new Invalid("a \\u escape needs four hex digits");
          }
          i += 4;
        }
        default -> throw new Invalid("an unknown escape in a string");
      }
    }
  }

  private double number() {
    int start = i;
    if (peek() == '-') {
      i++;
    }
    if (peek() == '0') {
      i++;
    } else if (!digits()) {
      throw new Invalid("a number needs digits, at character " + start);
    }
    if (peek() == '.') {
      i++;
      if (!digits()) {
        throw new Invalid("a number needs digits after '.', at character " + start);
      }
    }
    if (peek() == 'e' || peek() == 'E') {
      i++;
      if (peek() == '+' || peek() == '-') {
        i++;
      }
      if (!digits()) {
        throw new Invalid("a number needs digits in its exponent, at character " + start);
      }
    }
    String literal = s.substring(start, i);
    double d = Double.parseDouble(literal);
    if (Double.isInfinite(d)) {
      throw new Invalid("a number is too large");
    }
    if (literal.indexOf('.') < 0 && literal.indexOf('e') < 0 && literal.indexOf('E') < 0
        && new java.math.BigInteger(literal).abs().compareTo(MAX_EXACT_INTEGER) > 0) {
      // kept as a double it would change (12345678901234567890 became 1.2345678901234567E+19), silently
      throw new Invalid("the integer " + (literal.length() > 40 ? literal.substring(0, 40) + "..." : literal)
          + " cannot be kept exactly: numbers are kept as 64-bit floating point, exact up to 2^53 (9007199254740992); "
          + "write it as a string (\"...\", or --string)");
    }
    return d;
  }

  private boolean digits() {
    int start = i;
    while (i < s.length() && s.charAt(i) >= '0' && s.charAt(i) <= '9') {
      i++;
    }
    return i > start;
  }

  private void word(String w) {
    if (!s.startsWith(w, i)) {
      throw new Invalid("unexpected word at character " + i + " (a string is written in double quotes)");
    }
    i += w.length();
  }

  private char peek() {
    return i < s.length() ? s.charAt(i) : '\0';
  }

  private void expect(char c) {
    if (peek() != c) {
      throw new Invalid("expected '" + c + "' at character " + i);
    }
    i++;
  }

  private void ws() {
    while (i < s.length() && (s.charAt(i) == ' ' || s.charAt(i) == '\t' || s.charAt(i) == '\n' || s.charAt(i) == '\r')) {
      i++;
    }
  }

  /**
   * @param v a value
   * @return compact JSON, object keys in order, integral numbers without a fraction
   */
  static String print(Value v) {
    StringBuilder sb = new StringBuilder();
    print(sb, v);
    return sb.toString();
  }

  private static void print(StringBuilder sb, Value v) {
    switch (v.getKindCase()) {
      case STRUCT_VALUE -> {
        sb.append('{');
        boolean first = true;
        for (Map.Entry<String, Value> e : new TreeMap<>(v.getStructValue().getFieldsMap()).entrySet()) {
          if (!first) {
            sb.append(',');
          }
          first = false;
          JsonStrings.quote(sb, e.getKey());
          sb.append(':');
          print(sb, e.getValue());
        }
        sb.append('}');
      }
      case LIST_VALUE -> {
        sb.append('[');
        for (int k = 0; k < v.getListValue().getValuesCount(); k++) {
          if (k > 0) {
            sb.append(',');
          }
          print(sb, v.getListValue().getValues(k));
        }
        sb.append(']');
      }
      case STRING_VALUE -> JsonStrings.quote(sb, v.getStringValue());
      case BOOL_VALUE -> sb.append(v.getBoolValue());
      case NUMBER_VALUE -> sb.append(number(v.getNumberValue()));
      default -> sb.append("null");
    }
  }

  private static String number(double d) {
    if (Double.isNaN(d) || Double.isInfinite(d)) {
      return "null";
    }
    if (d == Math.rint(d) && Math.abs(d) <= MAX_EXACT) {
      return Long.toString((long) d);
    }
    return BigDecimal.valueOf(d).toString();
  }
}
