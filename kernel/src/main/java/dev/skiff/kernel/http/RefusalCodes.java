package dev.skiff.kernel.http;

import dev.skiff.platform.ErrorCode;

/**
 * The error code an HTTP server's own refusal is answered with (a request Jetty refuses before any
 * handler sees it: a malformed request, a body or headers too large, a slow client), so that the
 * kernel's JSON APIs and the gateway answer those in their one JSON shape as they answer their own.
 */
public final class RefusalCodes {
  private RefusalCodes() {}

  /**
   * @param status the HTTP status of the refusal
   * @return its code: {@code BAD_REQUEST}, {@code TOO_LARGE}, {@code URI_TOO_LONG} (the request line over the
   *     header limit), {@code HEADERS_TOO_LARGE}, {@code NOT_FOUND},
   *     {@code TIMEOUT}, {@code UNAVAILABLE} or {@code INTERNAL}
   */
  public static String of(int status) {
    return switch (status) {
      case 400 -> ErrorCode.BAD_REQUEST.name();
      case 413 -> "TOO_LARGE";
      case 414 -> "URI_TOO_LONG";
      case 431 -> "HEADERS_TOO_LARGE";
      case 404 -> ErrorCode.NOT_FOUND.name();
      case 408 -> ErrorCode.TIMEOUT.name();
      case 503 -> ErrorCode.UNAVAILABLE.name();
      default -> status >= 500 ? ErrorCode.INTERNAL.name() : ErrorCode.BAD_REQUEST.name();
    };
  }
}
