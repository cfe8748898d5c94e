package dev.skiff.platform.internal;

import java.util.concurrent.ThreadLocalRandom;

/** Random identifiers: request ids, instance ids and W3C trace and span ids. Not API. */
public final class Ids {
  private static final char[] HEX = "0123456789abcdef".toCharArray();

  private Ids() {}

  /** @return 32 lowercase hex characters (a W3C trace id, also used as a request id) */
  public static String random128() {
    ThreadLocalRandom r = ThreadLocalRandom.current();
    return hex(r.nextLong(), r.nextLong());
  }

  /** @return 16 lowercase hex characters (a W3C span id) */
  public static String random64() {
    long v;
    do {
      v = ThreadLocalRandom.current().nextLong();
    } while (v == 0);
    return hex(v);
  }

  /** @return 8 lowercase hex characters, for short instance ids */
  public static String random32() {
    return hex(ThreadLocalRandom.current().nextLong()).substring(0, 8);
  }

  private static String hex(long... parts) {
    char[] out = new char[parts.length * 16];
    int i = 0;
    for (long v : parts) {
      for (int shift = 60; shift >= 0; shift -= 4) {
        out[i++] = HEX[(int) ((v >>> shift) & 0xF)];
      }
    }
    return new String(out);
  }
}
