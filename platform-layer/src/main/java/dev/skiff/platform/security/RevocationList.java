package dev.skiff.platform.security;

import dev.skiff.proto.v1.Revocation;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The ended sessions a {@link LoginTokenVerifier} knows of: single sessions (logout) and every session of
 * a user issued before a time (password or roles changed). Each entry is forgotten at its
 * {@code keep_until}, when no token it concerns can still be valid.
 *
 * <p><b>Bounded, failing closed.</b> At most {@code max} entries. When a new one would pass the bound
 * after the forgotten ones are dropped, the list is replaced by a <em>watermark</em>: every token issued
 * before it (that is, before the newest revocation known) is refused, so nothing revoked can pass; people
 * whose tokens are older log in or renew again. Each such overflow is counted by the verifier.
 *
 * <p>Reads ({@link #revoked}) take no lock: two hash lookups and a comparison. Thread-safe.
 */
final class RevocationList {
  private final int max;
  private final Map<String, Long> sessions = new ConcurrentHashMap<>();
  /** user → {issued before (ms), keep until (ms)} */
  private final Map<String, long[]> users = new ConcurrentHashMap<>();
  private volatile long watermark = Long.MIN_VALUE;
  private long lastPurge = Long.MIN_VALUE;

  RevocationList(int max) {
    if (max < 1) {
      throw new IllegalArgumentException("max must be positive: " + max);
    }
    this.max = max;
  }

  /**
   * Adds a revocation (a repeated one changes nothing).
   *
   * @param r the revocation, as the login service sent it
   * @param now the time now (ms)
   * @return false when the bound was hit and the list was replaced by a watermark
   */
  synchronized boolean add(Revocation r, long now) {
    if (r.getKeepUntilMs() <= now) {
      return true; // nothing it concerns can be valid any more
    }
    boolean isNew = !r.getSessionId().isEmpty() ? !sessions.containsKey(r.getSessionId()) : !users.containsKey(r.getUser());
    if (isNew && size() >= max) {
      purge(now);
      if (size() >= max) {
        long newest = Math.max(now, r.getIssuedBeforeMs());
        for (long[] u : users.values()) {
          newest = Math.max(newest, u[0]);
        }
        // round up to a whole second: tokens carry their issue time in seconds
        watermark = Math.max(watermark, (newest / 1000 + 1) * 1000);
        sessions.clear();
        users.clear();
        return false;
      }
    }
    if (!r.getSessionId().isEmpty()) {
      sessions.merge(r.getSessionId(), r.getKeepUntilMs(), Math::max);
    } else if (!r.getUser().isEmpty()) {
      users.merge(r.getUser(), new long[] {r.getIssuedBeforeMs(), r.getKeepUntilMs()},
          (a, b) -> new long[] {Math.max(a[0], b[0]), Math.max(a[1], b[1])});
    }
    if (now - lastPurge > 60_000) {
      purge(now);
    }
    return true;
  }

  /** Drops the entries past their keep_until. */
  synchronized void purge(long now) {
    lastPurge = now;
    sessions.values().removeIf(keepUntil -> keepUntil <= now);
    users.values().removeIf(u -> u[1] <= now);
  }

  /**
   * @param id a verified person
   * @return why their token is revoked, or null when it is not
   */
  String revoked(UserIdentity id) {
    if (sessions.containsKey(id.sessionId())) {
      return "the session was ended (logout)";
    }
    long issued = id.issuedAt().toEpochMilli();
    long[] u = users.get(id.user());
    if (u != null && issued < u[0]) {
      return "every session of the user was ended (password or roles changed)";
    }
    if (issued < watermark) {
      return "the list of ended sessions overflowed: sign in again";
    }
    return null;
  }

  /** @return the entries held */
  int size() {
    return sessions.size() + users.size();
  }
}
