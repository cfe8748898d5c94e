package dev.skiff.gateway;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Decodes a percent-encoded part of a request's URI (a path segment, a query's name or value) strictly:
 * a {@code %} not followed by two hex digits, or bytes that are not UTF-8, are refused rather than read as
 * U+FFFD ({@link java.net.URLDecoder} would). Each caller says the refusal in its own terms.
 */
final class PercentDecoding {
  /** Why a text could not be decoded. */
  enum Fault {
    /** A {@code %} not followed by two hex digits. */
    MALFORMED,
    /** The bytes it stands for are not UTF-8. */
    NOT_UTF8
  }

  /** A text refused, with its {@link Fault}. */
  static final class Refused extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    final Fault fault;

    Refused(Fault fault) {
      super(fault.name(), null);
      this.fault = fault;
    }
  }

  private PercentDecoding() {}

  /**
   * @param s the text, percent-encoded
   * @param plusIsSpace whether {@code +} stands for a space (a query, {@code application/x-www-form-urlencoded})
   *     or for itself (a path)
   * @return it decoded, once
   * @throws Refused saying why it cannot be
   */
  static String decode(String s, boolean plusIsSpace) {
    if (s.indexOf('%') < 0 && (!plusIsSpace || s.indexOf('+') < 0)) {
      return s;
    }
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(s.length());
    int i = 0;
    while (i < s.length()) {
      char c = s.charAt(i);
      if (c == '%') {
        int hi = i + 2 < s.length() ? Character.digit(s.charAt(i + 1), 16) : -1;
        int lo = hi >= 0 ? Character.digit(s.charAt(i + 2), 16) : -1;
        if (lo < 0) {
          throw new Refused(Fault.MALFORMED);
        }
        bytes.write(hi << 4 | lo);
        i += 3;
      } else if (c == '+' && plusIsSpace) {
        bytes.write(' ');
        i++;
      } else {
        // the characters up to the next % or +, as they are (a run, so that a surrogate pair stays whole)
        int end = i + 1;
        while (end < s.length() && s.charAt(end) != '%' && !(plusIsSpace && s.charAt(end) == '+')) {
          end++;
        }
        bytes.writeBytes(s.substring(i, end).getBytes(StandardCharsets.UTF_8));
        i = end;
      }
    }
    try {
      return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes.toByteArray())).toString();
    } catch (CharacterCodingException e) {
      throw new Refused(Fault.NOT_UTF8);
    }
  }
}
