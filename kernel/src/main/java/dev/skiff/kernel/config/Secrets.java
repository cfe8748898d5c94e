package dev.skiff.kernel.config;

import com.google.protobuf.ListValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import dev.skiff.proto.v1.ConfigChange;
import dev.skiff.proto.v1.ConfigEdit;
import java.util.Map;

/**
 * What callers see of sealed secret values ({@link Documents#isSealed}): the redaction marker
 * {@value #MARKER} in place of each, in documents, JSON texts, edits and changes; or, for the service a
 * secret belongs to, the value opened. Everything that leaves the config service goes through here.
 */
final class Secrets {
  /** What a secret's value is shown as. */
  static final String MARKER = "<secret>";
  /** The marker as a JSON value. */
  static final Value REDACTED = Value.newBuilder().setStringValue(MARKER).build();
  /** The marker as JSON text. */
  static final String REDACTED_JSON = "\"" + MARKER + "\"";

  private Secrets() {}

  /**
   * @param v a value
   * @return whether a sealed value is in it
   */
  static boolean hasSealed(Value v) {
    if (Documents.isSealed(v)) {
      return true;
    }
    if (v.hasStructValue()) {
      return v.getStructValue().getFieldsMap().values().stream().anyMatch(Secrets::hasSealed);
    }
    return v.hasListValue() && v.getListValue().getValuesList().stream().anyMatch(Secrets::hasSealed);
  }

  /**
   * @param v a value
   * @return it with every sealed value replaced by the marker
   */
  static Value redact(Value v) {
    if (Documents.isSealed(v)) {
      return REDACTED;
    }
    if (v.hasStructValue()) {
      return Value.newBuilder().setStructValue(redact(v.getStructValue())).build();
    }
    if (v.hasListValue()) {
      ListValue.Builder b = ListValue.newBuilder();
      v.getListValue().getValuesList().forEach(x -> b.addValues(redact(x)));
      return Value.newBuilder().setListValue(b).build();
    }
    return v;
  }

  /**
   * @param doc a document
   * @return it with every sealed value replaced by the marker
   */
  static Struct redact(Struct doc) {
    Struct.Builder b = Struct.newBuilder();
    for (Map.Entry<String, Value> e : doc.getFieldsMap().entrySet()) {
      b.putFields(e.getKey(), redact(e.getValue()));
    }
    return b.build();
  }

  /**
   * @param sealed a sealed value ({@link Documents#isSealed})
   * @param layer the key of the layer it is in
   * @param path where it is
   * @param cipher the cipher to open it with
   * @return the value
   * @throws dev.skiff.platform.SkiffException INTERNAL when it cannot be opened (the message holds no value)
   */
  static Value open(Value sealed, String layer, ConfigPath path, SecretCipher cipher) {
    String text = sealed.getStructValue().getFieldsOrThrow(Documents.SEALED).getStringValue();
    return Documents.parse(cipher.open(text, layer, path.toString()));
  }

  /**
   * @param json stored JSON text of a value, or empty for none
   * @return it with every sealed value replaced by the marker
   */
  static String redactJson(String json) {
    if (json.isEmpty() || !json.contains(Documents.SEALED)) {
      return json;
    }
    return Documents.print(redact(Documents.parseStoredValue(json)));
  }

  /**
   * @param e an edit as stored
   * @return it as shown: sealed values replaced by the marker, {@code secret} set when there were any
   */
  static ConfigEdit redact(ConfigEdit e) {
    String old = redactJson(e.getOldJson());
    String now = redactJson(e.getNewJson());
    boolean secret = !old.equals(e.getOldJson()) || !now.equals(e.getNewJson());
    return secret ? e.toBuilder().setOldJson(old).setNewJson(now).setSecret(true).build() : e;
  }

  /**
   * @param c a change as stored
   * @return it as shown: every edit redacted
   */
  static ConfigChange redact(ConfigChange c) {
    ConfigChange.Builder b = c.toBuilder().clearEdits();
    c.getEditsList().forEach(e -> b.addEdits(redact(e)));
    return b.build();
  }
}
