package dev.skiff.gateway;

import java.util.Set;

/**
 * Cross-origin requests from browsers (docs/gateway.md, "CORS"): only the origins of the allow-list
 * ({@code SKIFF_GATEWAY_CORS_ORIGINS}, exact {@code scheme://host[:port]}, compared as written) may read
 * answers. A preflight from another origin is refused with 403; an ordinary request from another origin is
 * served without {@code Access-Control-Allow-Origin}, so its browser does not let the page read it. No
 * credentials mode: the gateway reads no cookie, people send {@code Authorization: Bearer}. Immutable.
 *
 * @param origins the allowed origins; empty: no cross-origin reads
 */
public record Cors(Set<String> origins) {
  /** The request headers a page may send. */
  static final String ALLOW_HEADERS = "Authorization, Content-Type, X-Skiff-Timeout, traceparent, X-Request-Id";
  /** The response headers a page may read. */
  static final String EXPOSE_HEADERS = "X-Request-Id, Retry-After, traceparent";
  /** How long a browser may keep a preflight's answer, seconds. */
  static final String MAX_AGE = "600";

  /** Copies the list. */
  public Cors {
    origins = Set.copyOf(origins);
  }

  /**
   * @param origin an {@code Origin} header, or null
   * @return whether it may read answers
   */
  public boolean allows(String origin) {
    return origin != null && origins.contains(origin);
  }
}
