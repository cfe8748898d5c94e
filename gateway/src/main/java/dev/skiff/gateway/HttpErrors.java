package dev.skiff.gateway;

import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.internal.JsonStrings;
import dev.skiff.platform.internal.Printable;

/**
 * The gateway's one error format, {@code {"code": "...", "message": "...", "request_id": "..."}}, and the
 * HTTP status of each Skiff {@link ErrorCode} (docs/gateway.md, "Errors"). Stateless.
 */
final class HttpErrors {
  /** The most characters of a message sent to a client. */
  static final int MAX_MESSAGE_CHARS = 1024;

  private HttpErrors() {}

  /**
   * @param code a Skiff error code
   * @return its HTTP status: 400, 401, 403, 404, 504, 409, 503 (a service's own {@code CAPACITY}: it is
   *     overloaded, not this client; the gateway's own rate limit answers 429), 503, 500, 503, 500
   */
  static int status(ErrorCode code) {
    return switch (code) {
      case BAD_REQUEST -> 400;
      case UNAUTHORIZED -> 401;
      case FORBIDDEN -> 403;
      case NOT_FOUND -> 404;
      case TIMEOUT -> 504;
      case CONFLICT -> 409;
      case CAPACITY, UNAVAILABLE, CIRCUIT_OPEN -> 503;
      case INTERNAL, UNKNOWN_OUTCOME -> 500;
    };
  }

  /**
   * @param code the code's name, e.g. {@code NOT_FOUND} or {@code RATE_LIMITED}
   * @param message for a person (untrusted text is escaped and cut)
   * @param requestId the request's id
   * @return the JSON body
   */
  static String body(String code, String message, String requestId) {
    StringBuilder b = new StringBuilder(64 + message.length()).append("{\"code\":");
    JsonStrings.quote(b, code).append(",\"message\":");
    JsonStrings.quote(b, Printable.of(message, MAX_MESSAGE_CHARS)).append(",\"request_id\":");
    return JsonStrings.quote(b, requestId).append('}').toString();
  }
}
