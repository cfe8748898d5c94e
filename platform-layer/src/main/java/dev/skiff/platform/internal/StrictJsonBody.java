package dev.skiff.platform.internal;

import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import com.google.gson.stream.MalformedJsonException;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import java.io.IOException;
import java.io.StringReader;
import java.util.HashSet;
import java.util.Set;

/**
 * Checks a JSON body from outside before protobuf's JSON parser reads it, in one pass that holds no
 * stack of its own beyond the nesting it allows: exactly one JSON value (RFC 8259, nothing after it), no
 * object with a key twice (the parser would keep the last one silently), nested at most
 * {@link #MAX_DEPTH} deep (a recursive parser given thousands of levels runs out of stack), and each
 * field's value of the field's JSON kind: a string for a string or bytes field, {@code true}/{@code false}
 * for a bool, a number or a string for a number, an object for a message or map, an array for a repeated
 * field ({@code null} for any). The parser itself would take {@code 5} for a string field and
 * {@code "x"} for a bool as {@code "5"} and {@code false}. Well-known types ({@code google.protobuf.*})
 * have JSON forms of their own and are checked only for form, nesting and duplicate keys; a name the type
 * does not have is left to the parser, which refuses it. Messages say where ({@code $.address.city}),
 * never quote the value, and escape and cut the names they repeat. Not API.
 */
public final class StrictJsonBody {
  /** How deep objects and arrays may nest: protobuf's JSON parser's own recursion limit. */
  public static final int MAX_DEPTH = 100;

  /** A body refused, with why. */
  public static final class Refused extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    Refused(String message) {
      super(message);
    }
  }

  private final JsonReader reader;
  private int depth;

  private StrictJsonBody(String json) {
    this.reader = new JsonReader(new StringReader(json));
    reader.setLenient(false);
  }

  /**
   * Checks a body that is to be read as a message.
   *
   * @param json the body
   * @param type the message type it is to be read as
   * @throws Refused saying what is wrong and where
   */
  public static void check(String json, Descriptor type) {
    StrictJsonBody c = new StrictJsonBody(empty(json));
    c.run(() -> c.message(type));
  }

  /**
   * Checks a body that is one field's value (an HTTP route whose body is that field).
   *
   * @param json the body
   * @param field the field
   * @throws Refused saying what is wrong
   */
  public static void checkValue(String json, FieldDescriptor field) {
    StrictJsonBody c = new StrictJsonBody(empty(json));
    c.run(() -> c.field(field));
  }

  private static String empty(String json) {
    if (json.isBlank()) {
      throw new Refused("the body is empty where a JSON value was expected");
    }
    return json;
  }

  @FunctionalInterface
  private interface Walk {
    void run() throws IOException;
  }

  private void run(Walk walk) {
    try {
      walk.run();
    } catch (MalformedJsonException | java.io.EOFException e) {
      // the reader's words say where (line, column, path); its advice to be lenient is not the caller's
      String why = String.valueOf(e.getMessage()).replace("Use JsonReader.setLenient(true) to accept malformed JSON", "unexpected text");
      throw new Refused("not valid JSON: " + Printable.of(why, 200));
    } catch (IllegalStateException | NumberFormatException e) {
      throw new Refused("not valid JSON" + at());
    } catch (IOException e) {
      throw new Refused("the body could not be read");
    }
    try {
      if (reader.peek() != JsonToken.END_DOCUMENT) {
        throw new Refused("unexpected text after the JSON value");
      }
    } catch (IOException | IllegalStateException e) {
      throw new Refused("unexpected text after the JSON value");
    }
  }

  private String at() {
    String path = reader.getPath();
    return path == null || path.equals("$") ? "" : " at " + Printable.of(path, 120);
  }

  private void message(Descriptor type) throws IOException {
    if (reader.peek() == JsonToken.NULL) {
      reader.nextNull();
      return;
    }
    if (type.getFullName().startsWith("google.protobuf.")) {
      any();
      return;
    }
    expect(JsonToken.BEGIN_OBJECT, "an object");
    enter();
    reader.beginObject();
    Set<String> seen = new HashSet<>();
    while (reader.hasNext()) {
      String name = reader.nextName();
      twice(seen, name);
      FieldDescriptor f = UnknownJsonField.field(type, name);
      if (f == null) {
        any(); // the parser refuses the name, saying which names there are
      } else {
        field(f);
      }
    }
    reader.endObject();
    depth--;
  }

  private void field(FieldDescriptor f) throws IOException {
    if (reader.peek() == JsonToken.NULL) {
      reader.nextNull();
      return;
    }
    if (f.isMapField()) {
      expect(JsonToken.BEGIN_OBJECT, "an object");
      FieldDescriptor value = f.getMessageType().findFieldByName("value");
      enter();
      reader.beginObject();
      Set<String> seen = new HashSet<>();
      while (reader.hasNext()) {
        twice(seen, reader.nextName());
        single(value);
      }
      reader.endObject();
      depth--;
    } else if (f.isRepeated()) {
      expect(JsonToken.BEGIN_ARRAY, "an array");
      enter();
      reader.beginArray();
      while (reader.hasNext()) {
        single(f);
      }
      reader.endArray();
      depth--;
    } else {
      single(f);
    }
  }

  /** One value of a field's type (an element of it, when it is repeated). */
  private void single(FieldDescriptor f) throws IOException {
    JsonToken t = reader.peek();
    if (t == JsonToken.NULL) {
      reader.nextNull();
      return;
    }
    switch (f.getJavaType()) {
      case STRING, BYTE_STRING -> {
        expect(JsonToken.STRING, "a string");
        reader.skipValue();
      }
      case BOOLEAN -> {
        expect(JsonToken.BOOLEAN, "true or false");
        reader.nextBoolean();
      }
      case INT, LONG, FLOAT, DOUBLE, ENUM -> {
        if (t != JsonToken.NUMBER && t != JsonToken.STRING) {
          throw wrongKind(f.getJavaType() == FieldDescriptor.JavaType.ENUM ? "a name or a number" : "a number");
        }
        reader.skipValue();
      }
      case MESSAGE -> message(f.getMessageType());
      default -> any();
    }
  }

  /** Any JSON value: checked for form, nesting and keys given twice only. */
  private void any() throws IOException {
    switch (reader.peek()) {
      case BEGIN_OBJECT -> {
        enter();
        reader.beginObject();
        Set<String> seen = new HashSet<>();
        while (reader.hasNext()) {
          twice(seen, reader.nextName());
          any();
        }
        reader.endObject();
        depth--;
      }
      case BEGIN_ARRAY -> {
        enter();
        reader.beginArray();
        while (reader.hasNext()) {
          any();
        }
        reader.endArray();
        depth--;
      }
      default -> reader.skipValue();
    }
  }

  private void enter() {
    if (++depth > MAX_DEPTH) {
      throw new Refused("the body is nested deeper than " + MAX_DEPTH + " levels" + at());
    }
  }

  /** Refuses a key given twice in one object, naming it (escaped, cut) and where. */
  private void twice(Set<String> seen, String name) {
    if (!seen.add(name)) {
      throw new Refused("the key " + Printable.of(name, 80) + " is given twice" + at());
    }
  }

  private void expect(JsonToken token, String what) throws IOException {
    if (reader.peek() != token) {
      throw wrongKind(what);
    }
  }

  private Refused wrongKind(String what) throws IOException {
    String path = reader.getPath();
    return new Refused((path.equals("$") ? "the body" : Printable.of(path, 120)) + " must be " + what + ", not " + kind(reader.peek()));
  }

  private static String kind(JsonToken t) {
    return switch (t) {
      case BEGIN_OBJECT -> "an object";
      case BEGIN_ARRAY -> "an array";
      case STRING -> "a string";
      case NUMBER -> "a number";
      case BOOLEAN -> "true or false";
      default -> "null";
    };
  }
}
