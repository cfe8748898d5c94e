package dev.skiff.platform.internal;

import java.util.Locale;

/** A count with its noun for a person to read: {@code 1 request}, {@code 2 requests}. */
public final class Counts {
  private Counts() {}

  /**
   * @param n how many
   * @param noun the noun in the singular; its plural adds {@code s} (request, call, trace, error, span)
   * @return {@code n noun}, the noun in the plural unless {@code n} is 1
   */
  public static String of(long n, String noun) {
    return String.format(Locale.ROOT, "%d %s%s", n, noun, n == 1 ? "" : "s");
  }
}
