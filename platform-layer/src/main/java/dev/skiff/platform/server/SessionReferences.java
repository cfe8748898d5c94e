package dev.skiff.platform.server;

import com.codahale.metrics.Counter;
import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.RemovalCause;
import dev.skiff.platform.internal.ExpiresAt;
import dev.skiff.platform.internal.TokenReference;
import java.time.Clock;

/**
 * The session tokens a server has verified, found again by their short reference
 * ({@link TokenReference}): after a client has sent a person's token in full once, it sends only the
 * reference, and the server reads the token from here (docs/security.md "Session references").
 *
 * <p>An entry is keyed by the broker user that presented the token in full as well as by the reference,
 * so that a reference works only for the user the broker proves sent the token: knowing a reference gains
 * nothing to anyone else. Only tokens the server's verifier accepted are learnt, and an entry goes when
 * its token expires. Bounded by bytes ({@code skiff.server.session-references.evicted} counts the
 * entries the bound pushed out; their clients send the token in full again when told).
 */
final class SessionReferences {
  /** What the table may hold, in bytes (about 20,000 sessions of a few hundred bytes). */
  static final long DEFAULT_MAX_BYTES = 16L * 1024 * 1024;

  private record Key(String user, String ref) {}

  private record Entry(String token, long expiresAtMillis) {}

  private final Cache<Key, Entry> table;
  private final Counter evicted;
  private final Counter unknown;
  private final Clock clock;

  SessionReferences(long maxBytes, MetricRegistry metrics, Clock clock) {
    this.clock = clock;
    this.evicted = metrics.counter("skiff.server.session-references.evicted");
    this.unknown = metrics.counter("skiff.server.session-references.unknown");
    this.table = Caffeine.newBuilder()
        .maximumWeight(maxBytes)
        .weigher((Key k, Entry e) -> 2 * (k.user().length() + k.ref().length() + e.token().length()) + 96)
        .expireAfter(new ExpiresAt<Key, Entry>(clock, 0, Entry::expiresAtMillis))
        .executor(Runnable::run)
        .removalListener((Key k, Entry e, RemovalCause cause) -> {
          if (cause == RemovalCause.SIZE) {
            evicted.inc();
          }
        })
        .build();
    metrics.gauge("skiff.server.session-references.size", () -> (Gauge<Long>) table::estimatedSize);
  }

  /**
   * Learns a token its verifier accepted, under the broker user that sent it.
   *
   * @param user the proven sender ({@code user_id}), or null when the broker proves none
   * @param token the token, as it came
   * @param expiresAtMillis when it expires
   */
  void learn(String user, String token, long expiresAtMillis) {
    if (!TokenReference.referable(token) || expiresAtMillis <= clock.millis()) {
      return;
    }
    Key k = new Key(user == null ? "" : user, TokenReference.of(token));
    Entry known = table.getIfPresent(k);
    if (known == null || !known.token().equals(token)) {
      table.put(k, new Entry(token, expiresAtMillis));
    }
  }

  /**
   * @param user the proven sender, or null
   * @param ref the reference the request carried (from the wire: checked here)
   * @return the token, or null when this server has none for that user and reference (counted)
   */
  String resolve(String user, String ref) {
    Entry e = TokenReference.isWellFormed(ref) ? table.getIfPresent(new Key(user == null ? "" : user, ref)) : null;
    if (e == null || e.expiresAtMillis() <= clock.millis()) {
      unknown.inc();
      return null;
    }
    return e.token();
  }
}
