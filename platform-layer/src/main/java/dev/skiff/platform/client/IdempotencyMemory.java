package dev.skiff.platform.client;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What a client has learned of which endpoints are idempotent: every reply says whether its endpoint is
 * declared so, and a later call to the endpoint may then be retried. Bounded to {@link #MAX_ENDPOINTS}
 * endpoints (a caller that calls more learns no more; calls to the others are simply not retried unless
 * declared idempotent by the caller). Thread-safe.
 */
final class IdempotencyMemory {
  /** The most endpoints remembered. */
  static final int MAX_ENDPOINTS = 10_000;

  private final Map<String, Boolean> endpoints = new ConcurrentHashMap<>();

  /**
   * @param key {@code SERVICE/ENDPOINT}
   * @param declaredByCaller what the call's options say, or null if they say nothing
   * @return whether a call to it may be retried as idempotent
   */
  boolean idempotent(String key, Boolean declaredByCaller) {
    if (declaredByCaller != null) {
      return declaredByCaller;
    }
    return endpoints.getOrDefault(key, false);
  }

  /**
   * Remembers what a reply said.
   *
   * @param key {@code SERVICE/ENDPOINT}
   * @param idempotent what the reply said
   */
  void learn(String key, boolean idempotent) {
    Boolean known = endpoints.get(key);
    if (known == null ? endpoints.size() < MAX_ENDPOINTS : known != idempotent) {
      endpoints.put(key, idempotent);
    }
  }
}
