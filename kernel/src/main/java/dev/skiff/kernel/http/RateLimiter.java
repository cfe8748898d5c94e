package dev.skiff.kernel.http;

import com.codahale.metrics.Counter;
import com.codahale.metrics.MetricRegistry;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.RemovalCause;
import java.time.Duration;
import java.util.OptionalLong;
import java.util.function.LongSupplier;

/**
 * A token bucket per key (a client address, a user): {@code perSecond} requests a second on average, up
 * to {@code burst} at once. The table of buckets is bounded ({@code maxKeys}, least recently used forgotten
 * first, counted in {@code NAME.evicted}): a forgotten key starts again with a full bucket, so an attacker
 * with more keys than the bound gets no more than each key's burst, and the server's memory stays bounded.
 * Requests refused are counted in {@code NAME.limited}. Thread-safe.
 */
public final class RateLimiter {
  private final double perNano;
  private final double burst;
  private final LongSupplier nanos;
  private final Cache<String, Bucket> buckets;
  private final Counter limited;

  /** One key's bucket; guarded by itself. */
  private static final class Bucket {
    double tokens;
    long at;

    Bucket(double tokens, long at) {
      this.tokens = tokens;
      this.at = at;
    }
  }

  /**
   * @param name the metrics' name ({@code skiff.gateway.rate-limit.address}, {@code skiff.pages.rate-limit.sign-in})
   * @param perSecond requests a second per key, on average
   * @param burst the most requests at once per key
   * @param maxKeys the most keys remembered
   * @param nanos the time source ({@link System#nanoTime})
   * @param metrics where its counters go
   */
  public RateLimiter(String name, double perSecond, int burst, int maxKeys, LongSupplier nanos, MetricRegistry metrics) {
    if (perSecond <= 0 || burst < 1 || maxKeys < 1) {
      throw new IllegalArgumentException("rate, burst and table size must be positive");
    }
    this.perNano = perSecond / 1e9;
    this.burst = burst;
    this.nanos = nanos;
    Counter evicted = metrics.counter(name + ".evicted");
    this.limited = metrics.counter(name + ".limited");
    this.buckets = Caffeine.newBuilder().maximumSize(maxKeys).executor(Runnable::run)
        .removalListener((String k, Bucket b, RemovalCause c) -> {
          if (c == RemovalCause.SIZE) {
            evicted.inc();
          }
        })
        .build();
  }

  /**
   * A pace for sign-ins and the like: {@code perMinute} a minute per key, with a burst of a sixth as many
   * (at least 1), so that a person who mistypes a few times is never slowed while a script is.
   *
   * @param name the metrics' name
   * @param perMinute attempts a minute per key, on average
   * @param maxKeys the most keys remembered
   * @param metrics where its counters go
   * @return the limiter
   */
  public static RateLimiter perMinute(String name, int perMinute, int maxKeys, MetricRegistry metrics) {
    return new RateLimiter(name, perMinute / 60.0, Math.max(1, perMinute / 6), maxKeys, System::nanoTime, metrics);
  }

  /**
   * Takes one request from the key's bucket.
   *
   * @param key the key (bounded by the caller: an address, a user name)
   * @return empty when the request may go on; otherwise how long until it could, for {@code Retry-After}
   */
  public OptionalLong acquire(String key) {
    long now = nanos.getAsLong();
    Bucket b = buckets.get(key, k -> new Bucket(burst, now));
    synchronized (b) {
      b.tokens = Math.min(burst, b.tokens + (now - b.at) * perNano);
      b.at = now;
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return OptionalLong.empty();
      }
      limited.inc();
      return OptionalLong.of((long) Math.ceil((1 - b.tokens) / perNano));
    }
  }

  /**
   * @param waitNanos how long until a request could go on
   * @return the whole seconds to say in {@code Retry-After}, at least 1
   */
  public static long retryAfterSeconds(long waitNanos) {
    return Math.max(1, Duration.ofNanos(waitNanos).plusMillis(999).toSeconds());
  }
}
