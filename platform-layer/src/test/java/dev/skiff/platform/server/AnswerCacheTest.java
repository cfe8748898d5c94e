package dev.skiff.platform.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.transport.ContentTypes;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The dedupe cache's ring and index (pure logic). */
class AnswerCacheTest {
  private static final String PB = ContentTypes.PROTOBUF;
  private static final byte[] FP = fingerprint(1);

  private static byte[] fingerprint(int seed) {
    byte[] f = new byte[AnswerCache.FINGERPRINT];
    new Random(seed).nextBytes(f);
    return f;
  }

  private static AnswerCache.Answer get(AnswerCache c, String key, long now) {
    AnswerCache.Kept kept = c.get(key, now);
    return kept == null ? null : kept.answer();
  }

  @Test
  void anAnswerIsKeptWithTheFingerprintOfTheRequestItAnsweredAndItSurvivesTheRingGrowing() {
    AnswerCache c = new AnswerCache(60_000, 4 << 20);
    byte[] other = fingerprint(2);
    c.put("echo/r1/pb", other, null, PB, new byte[] {1}, 1000);
    for (int i = 0; i < 3000; i++) { // the ring grows and copies every record
      c.put("echo/" + i + "/pb", FP, null, PB, new byte[1000], 1000);
    }
    assertThat(c.get("echo/r1/pb", 2000).fingerprint()).isEqualTo(other);
    assertThat(c.get("echo/7/pb", 2000).fingerprint()).isEqualTo(FP);
    assertThatThrownBy(() -> c.put("k", new byte[5], null, PB, new byte[0], 1000)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void anAnswerComesBackWithItsErrorEncodingAndBodyAndOnlyForItsKey() {
    AnswerCache c = new AnswerCache(60_000, 1 << 20);
    c.put("echo/r1/pb", FP, null, PB, new byte[] {1, 2, 3}, 1000);
    c.put("echo/r2/json", FP, ErrorCode.CONFLICT, ContentTypes.JSON, "{}".getBytes(), 1000);
    AnswerCache.Answer a = get(c, "echo/r1/pb", 2000);
    assertThat(a.ok()).isTrue();
    assertThat(a.contentType()).isEqualTo(PB);
    assertThat(a.body()).containsExactly(1, 2, 3);
    AnswerCache.Answer b = get(c, "echo/r2/json", 2000);
    assertThat(b.error()).isEqualTo(ErrorCode.CONFLICT);
    assertThat(b.contentType()).isEqualTo(ContentTypes.JSON);
    assertThat(new String(b.body())).isEqualTo("{}");
    assertThat(get(c, "echo/r3/pb", 2000)).isNull();
    assertThat(get(c, "other/r1/pb", 2000)).isNull();
    assertThat(c.size(2000)).isEqualTo(2);
  }

  @Test
  void anAnswerIsKeptForTheWindowAndNoLonger() {
    AnswerCache c = new AnswerCache(1000, 1 << 20);
    c.put("k", FP, null, PB, new byte[] {7}, 10_000);
    assertThat(get(c, "k", 10_999)).isNotNull();
    assertThat(get(c, "k", 11_000)).isNull();
    assertThat(c.size(11_000)).isZero();
  }

  @Test
  void theRingGrowsRatherThanDropAnswersWithinTheWindowUpToItsLimit() {
    AnswerCache c = new AnswerCache(60_000, 4 << 20);
    int before = c.capacity();
    byte[] body = new byte[1000];
    for (int i = 0; i < 3000; i++) { // about 3 MB: more than the ring starts with, less than its limit
      body[0] = (byte) i;
      c.put("echo/" + i + "/pb", FP, null, PB, body, 1000 + i);
    }
    assertThat(c.capacity()).isGreaterThan(before).isLessThanOrEqualTo(4 << 20);
    for (int i = 0; i < 3000; i++) {
      AnswerCache.Answer a = get(c, "echo/" + i + "/pb", 5000);
      assertThat(a).as("answer %d", i).isNotNull();
      assertThat(a.body()[0]).isEqualTo((byte) i);
    }
  }

  @Test
  void atItsLimitTheOldestAnswersGoFirst() {
    AnswerCache c = new AnswerCache(60_000, 64 * 1024);
    byte[] body = new byte[100];
    for (int i = 0; i < 2000; i++) { // about 270 KB through a 64 KB ring
      c.put("echo/" + i + "/pb", FP, null, PB, body, 1000);
    }
    assertThat(c.capacity()).isEqualTo(64 * 1024);
    assertThat(get(c, "echo/0/pb", 1000)).isNull();
    assertThat(get(c, "echo/1999/pb", 1000)).isNotNull();
    long kept = c.size(1000);
    assertThat(kept).isBetween(300L, 512L);
    // exactly the newest `kept` answers are there
    for (int i = 0; i < 2000; i++) {
      assertThat(get(c, "echo/" + i + "/pb", 1000) != null).as("answer %d", i).isEqualTo(i >= 2000 - kept);
    }
  }

  @Test
  void anAnswerOverAQuarterOfTheLimitIsNotKept() {
    AnswerCache c = new AnswerCache(60_000, 64 * 1024);
    c.put("big", FP, null, PB, new byte[20_000], 1000);
    assertThat(get(c, "big", 1000)).isNull();
    c.put("fits", FP, null, PB, new byte[10_000], 1000);
    assertThat(get(c, "fits", 1000).body()).hasSize(10_000);
  }

  @Test
  void underRandomLoadEveryHitIsTheAnswerKeptForThatKeyAndFreshAnswersAreNotLost() {
    Random rnd = new Random(42);
    AnswerCache c = new AnswerCache(5_000, 256 * 1024);
    Map<String, byte[]> model = new HashMap<>();
    Map<String, Long> keptAt = new HashMap<>();
    long now = 0;
    int hits = 0;
    for (int i = 0; i < 200_000; i++) {
      now += rnd.nextInt(3);
      String key = "e" + rnd.nextInt(3) + "/" + rnd.nextInt(20_000) + "/pb";
      if (rnd.nextBoolean()) {
        byte[] body = new byte[rnd.nextInt(400)];
        rnd.nextBytes(body);
        c.put(key, FP, null, PB, body, now);
        model.put(key, body);
        keptAt.put(key, now);
      } else {
        AnswerCache.Answer a = get(c, key, now);
        Long at = keptAt.get(key);
        if (a != null) {
          hits++;
          assertThat(at).as("a hit for a key never kept").isNotNull();
          assertThat(now - at).isLessThan(5_000);
          assertThat(a.body()).isEqualTo(model.get(key));
        } else if (at != null && now - at < 100) {
          // the answers of the last 100 ms (about 30 KB here) always fit in the ring
          throw new AssertionError("lost a fresh answer for " + key);
        }
      }
    }
    assertThat(hits).isPositive();
  }

  @Test
  void theCountOfKeptAnswersIsTheAnswersWithinTheWindowAsTheRingGrowsAndIsReindexed() {
    // kept without a scan (a gauge reads it): it must still be exactly the answers kept within the window
    Random rnd = new Random(7);
    AnswerCache c = new AnswerCache(2_000, 64L << 20);
    java.util.ArrayDeque<Long> times = new java.util.ArrayDeque<>();
    long now = 0;
    for (int i = 0; i < 100_000; i++) {
      now += rnd.nextInt(2);
      c.put("echo/" + i + "/pb", FP, null, PB, new byte[rnd.nextInt(64)], now);
      times.addLast(now);
      if (rnd.nextInt(500) == 0) {
        long at = now + rnd.nextInt(3_000);
        while (!times.isEmpty() && at - times.peekFirst() >= 2_000) {
          times.removeFirst();
        }
        assertThat(c.size(at)).as("after %d answers, at %d", i + 1, at).isEqualTo(times.size());
        now = at;
      }
    }
    assertThat(c.capacity()).as("the ring grew").isGreaterThan(256 * 1024);
  }

  @Test
  void aSizeOutsideItsBoundsIsRefused() {
    assertThatThrownBy(() -> new AnswerCache(1000, 100)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new AnswerCache(0, 1 << 20)).isInstanceOf(IllegalArgumentException.class);
  }
}
