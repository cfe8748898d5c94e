package dev.skiff.platform.client;

import com.codahale.metrics.Counter;
import com.codahale.metrics.MetricRegistry;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.RemovalCause;
import dev.skiff.platform.internal.TokenReference;

/**
 * The session tokens this client has sent in full and seen accepted, with their short references
 * ({@link TokenReference}): a call made for a person carries the token in full until a call carrying it
 * in full has been answered, and after that only the reference, which saves the bytes of a token on every
 * request (docs/security.md "Session references"). An instance that does not know a reference answers so
 * ({@link dev.skiff.platform.transport.ReplyMessage#sessionUnknown}), and the client sends that request
 * again with the token in full. Bounded by count ({@code skiff.client.session-references.evicted}
 * counts the tokens the bound pushed out, which then go in full again until answered).
 */
final class TokenReferences {
  /** How many people's tokens a client remembers (a gateway acts for many at once). */
  static final int MAX_TOKENS = 10_000;

  private final Cache<String, String> sent;

  TokenReferences(int maxTokens, MetricRegistry metrics) {
    Counter evicted = metrics.counter("skiff.client.session-references.evicted");
    this.sent = Caffeine.newBuilder()
        .maximumSize(maxTokens)
        .executor(Runnable::run)
        .removalListener((String token, String ref, RemovalCause cause) -> {
          if (cause == RemovalCause.SIZE) {
            evicted.inc();
          }
        })
        .build();
  }

  /**
   * @param token a session token
   * @return its reference, when a call that carried it in full was answered; else null (send it in full)
   */
  String referenceFor(String token) {
    return sent.getIfPresent(token);
  }

  /**
   * Remembers that a call carrying this token in full was answered, so that the server knows it.
   *
   * @param token the token
   */
  void answered(String token) {
    if (TokenReference.referable(token) && sent.getIfPresent(token) == null) {
      sent.put(token, TokenReference.of(token));
    }
  }
}
