package dev.skiff.platform.internal;

import com.github.benmanes.caffeine.cache.Expiry;
import java.time.Clock;
import java.util.concurrent.TimeUnit;
import java.util.function.ToLongFunction;

/**
 * A Caffeine {@link Expiry} for entries that carry the moment they stop being valid (a token's expiry):
 * an entry lives until then, as the given clock tells it, plus an allowance, and reading it does not
 * extend it. Not API.
 *
 * @param <K> the key
 * @param <V> the value, which knows when it expires
 */
public final class ExpiresAt<K, V> implements Expiry<K, V> {
  private final Clock clock;
  private final long allowanceMillis;
  private final ToLongFunction<V> expiresAtMillis;

  /**
   * @param clock the clock the expiry is measured by
   * @param allowanceMillis how long past its expiry an entry stays (clock skew allowed), in milliseconds
   * @param expiresAtMillis when a value expires, in milliseconds since the epoch
   */
  public ExpiresAt(Clock clock, long allowanceMillis, ToLongFunction<V> expiresAtMillis) {
    this.clock = clock;
    this.allowanceMillis = allowanceMillis;
    this.expiresAtMillis = expiresAtMillis;
  }

  @Override
  public long expireAfterCreate(K key, V value, long currentTime) {
    long left = Math.max(0, expiresAtMillis.applyAsLong(value) - clock.millis());
    return TimeUnit.MILLISECONDS.toNanos(left > Long.MAX_VALUE - allowanceMillis ? Long.MAX_VALUE : left + allowanceMillis);
  }

  @Override
  public long expireAfterUpdate(K key, V value, long currentTime, long currentDuration) {
    return expireAfterCreate(key, value, currentTime);
  }

  @Override
  public long expireAfterRead(K key, V value, long currentTime, long currentDuration) {
    return currentDuration;
  }
}
