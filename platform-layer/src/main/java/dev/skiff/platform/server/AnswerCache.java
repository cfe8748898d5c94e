package dev.skiff.platform.server;

import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.transport.ContentTypes;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The answers a server keeps for its dedupe window, so that a request seen again (same endpoint, request
 * id and reply encoding) is answered from here instead of running twice. Each answer is kept with the
 * fingerprint of the request it answered (its proven caller and its body), so that {@link Dedupe} gives it
 * only to the same caller asking the same thing again.
 *
 * <p>Answers are kept as bytes in a ring buffer, oldest overwritten first, found through an
 * open-addressing table of 64-bit key hashes and ring positions (a hit is checked against the key kept
 * beside the answer). A cache of objects (an entry, key, value and body per answer, as Caffeine keeps
 * them) holds every answer of the last seconds as live objects, which each young collection copies and
 * promotes: at 14,000 answers a second that cost several µs of CPU per request in collection and
 * eviction (docs/performance.md). Here the answers are a few arrays the collector never scans, and
 * keeping one copies its bytes.
 *
 * <p>The ring starts small and doubles, up to {@code maxBytes}, whenever it would otherwise overwrite an
 * answer still within the window. An answer is kept for the window unless {@code maxBytes} runs out
 * first (then the oldest go), never longer. Thread-safe: one lock; each operation is a copy and a probe.
 */
final class AnswerCache {
  /** An answer as kept. */
  record Answer(ErrorCode error, String contentType, byte[] body) {
    boolean ok() {
      return error == null;
    }
  }

  /**
   * An answer as found, with the fingerprint of the request it answered (its caller and body,
   * {@link Dedupe#fingerprint}).
   */
  record Kept(Answer answer, byte[] fingerprint) {}

  /** The size of a request's fingerprint: a SHA-256 digest. */
  static final int FINGERPRINT = 32;
  /**
   * Record header: length (int), time (long), key length (int), error (byte), JSON flag (byte), the
   * fingerprint of the request answered ({@value #FINGERPRINT} bytes).
   */
  private static final int HEADER = 4 + 8 + 4 + 1 + 1 + FINGERPRINT;
  private static final int FINGERPRINT_AT = 18;
  /** Records start on multiples of this, so a skip marker (an int) always fits before the ring's end. */
  private static final int ALIGN = 8;
  private static final int SKIP = -1;
  private static final int MIN_SLOTS = 1024;
  private static final int INITIAL_BYTES = 256 * 1024;
  private static final ErrorCode[] CODES = ErrorCode.values();

  private final long windowMillis;
  private final int maxBytes;
  private int capacity;
  private byte[] ring;
  private ByteBuffer buf;
  /** Absolute position of the next record; a record's ring offset is its position modulo the capacity. */
  private long head;
  /** Absolute position of the oldest record still in the ring. */
  private long tail;
  /**
   * Absolute position of the oldest record still within the window (or {@link #head}): the records
   * between {@link #tail} and here are past it. Records are written in time order, so this only moves
   * forwards, walking the ring in order ({@link #expire}); what is indexed and counted is told by
   * position alone, without reading the ring at random.
   */
  private long liveStart;
  /** The records from {@link #liveStart} to {@link #head}. */
  private int liveCount;
  private long[] hashes;
  /** Absolute position + 1 of the record for the hash beside it; 0 for an empty slot. */
  private long[] positions;
  private int used;

  /**
   * @param windowMillis how long an answer is kept
   * @param maxBytes the most the ring may take: answers, their keys and about 56 bytes each
   */
  AnswerCache(long windowMillis, long maxBytes) {
    if (windowMillis <= 0 || maxBytes < 1024 || maxBytes > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException("dedupe window must be positive and its size between 1 KiB and 2 GiB");
    }
    this.windowMillis = windowMillis;
    this.maxBytes = (int) (maxBytes / ALIGN * ALIGN);
    this.capacity = Math.min(this.maxBytes, INITIAL_BYTES);
    this.ring = new byte[capacity];
    this.buf = ByteBuffer.wrap(ring);
    this.hashes = new long[MIN_SLOTS];
    this.positions = new long[MIN_SLOTS];
  }

  /**
   * Keeps an answer. One larger than a quarter of {@code maxBytes} is not kept (it would push out many
   * others).
   *
   * @param key endpoint, request id and reply encoding
   * @param fingerprint the fingerprint of the request answered ({@value #FINGERPRINT} bytes)
   * @param error the error it answered with, or null
   * @param contentType the reply's encoding
   * @param body the reply's body
   * @param nowMillis the time
   */
  synchronized void put(String key, byte[] fingerprint, ErrorCode error, String contentType, byte[] body, long nowMillis) {
    if (fingerprint.length != FINGERPRINT) {
      throw new IllegalArgumentException("a fingerprint has " + FINGERPRINT + " bytes: " + fingerprint.length);
    }
    byte[] k = key.getBytes(StandardCharsets.UTF_8);
    int len = HEADER + k.length + body.length;
    int size = aligned(len);
    if (size > maxBytes / 4) {
      return;
    }
    while (size * 4 > capacity && capacity < maxBytes) {
      grow(nowMillis);
    }
    long pos = makeRoom(size, nowMillis);
    int at = (int) (pos % capacity);
    buf.putInt(at, len);
    buf.putLong(at + 4, nowMillis);
    buf.putInt(at + 12, k.length);
    ring[at + 16] = (byte) (error == null ? 0 : error.ordinal() + 1);
    ring[at + 17] = (byte) (ContentTypes.isJson(contentType) ? 1 : 0);
    System.arraycopy(fingerprint, 0, ring, at + FINGERPRINT_AT, FINGERPRINT);
    System.arraycopy(k, 0, ring, at + HEADER, k.length);
    System.arraycopy(body, 0, ring, at + HEADER + k.length, body.length);
    head = pos + size;
    liveCount++;
    if ((used + 1) * 2 > hashes.length) {
      rebuild(nowMillis);
    }
    insert(hashes, positions, hash(k, 0, k.length), pos);
    used++;
  }

  /**
   * Finds where a record of {@code size} bytes goes: after the last, or at the start of the next round
   * of the ring when it does not fit before its end. The oldest records give way; if one of them is
   * still within the window, the ring doubles first (while it may).
   *
   * @return the record's absolute position
   */
  private long makeRoom(int size, long nowMillis) {
    while (true) {
      long pos = head;
      int at = (int) (pos % capacity);
      if (at + size > capacity) {
        pos = (pos / capacity + 1) * capacity;
      }
      if (pos + size - tail <= capacity) {
        if (pos != head) {
          buf.putInt(at, SKIP);
          head = pos;
        }
        return pos;
      }
      // the oldest record would be overwritten
      int t = (int) (tail % capacity);
      int len = buf.getInt(t);
      if (len == SKIP) {
        tail = (tail / capacity + 1) * capacity;
      } else if (capacity < maxBytes && nowMillis - buf.getLong(t + 4) < windowMillis) {
        grow(nowMillis);
        continue;
      } else {
        if (tail == liveStart) {
          liveCount--; // a record within the window goes for room
        }
        tail += aligned(len);
      }
      liveStart = Math.max(liveStart, tail);
    }
  }

  /** Moves the records into a ring twice the size (at most {@code maxBytes}) and indexes them again. */
  private void grow(long nowMillis) {
    byte[] old = ring;
    int oldCapacity = capacity;
    long from = tail;
    long to = head;
    capacity = (int) Math.min(maxBytes, 2L * capacity);
    ring = new byte[capacity];
    buf = ByteBuffer.wrap(ring);
    head = 0;
    tail = 0;
    hashes = new long[tableSize(used)];
    positions = new long[hashes.length];
    used = 0;
    liveStart = 0;
    ByteBuffer src = ByteBuffer.wrap(old);
    for (long p = from; p < to; ) {
      int at = (int) (p % oldCapacity);
      int len = src.getInt(at);
      if (len == SKIP) {
        p = (p / oldCapacity + 1) * oldCapacity;
        continue;
      }
      int size = aligned(len);
      if (nowMillis - src.getLong(at + 4) < windowMillis) {
        System.arraycopy(old, at, ring, (int) head, len);
        insert(hashes, positions, hash(ring, (int) head + HEADER, buf.getInt((int) head + 12)), head);
        used++;
        head += size;
      }
      p += size;
    }
    liveCount = used;
  }

  /**
   * @param key endpoint, request id and reply encoding
   * @param nowMillis the time
   * @return the answer kept for it within the window, with the fingerprint of the request it answered;
   *     or null
   */
  synchronized Kept get(String key, long nowMillis) {
    byte[] k = key.getBytes(StandardCharsets.UTF_8);
    long h = hash(k, 0, k.length);
    int mask = hashes.length - 1;
    long found = -1;
    for (int i = (int) h & mask; positions[i] != 0; i = (i + 1) & mask) {
      long pos = positions[i] - 1;
      if (hashes[i] == h && pos > found && live(pos, nowMillis) && keyAt(pos, k)) {
        found = pos; // the newest, should the same key have been kept twice
      }
    }
    if (found < 0) {
      return null;
    }
    int at = (int) (found % capacity);
    int len = buf.getInt(at);
    byte[] body = Arrays.copyOfRange(ring, at + HEADER + k.length, at + len);
    int error = ring[at + 16];
    byte[] fingerprint = Arrays.copyOfRange(ring, at + FINGERPRINT_AT, at + FINGERPRINT_AT + FINGERPRINT);
    return new Kept(
        new Answer(error == 0 ? null : CODES[error - 1], ring[at + 17] == 1 ? ContentTypes.JSON : ContentTypes.PROTOBUF, body),
        fingerprint);
  }

  /**
   * @param nowMillis the time
   * @return how many answers are kept (a scan: for gauges, not for every request)
   */
  synchronized long size(long nowMillis) {
    expire(nowMillis);
    return liveCount;
  }

  /** Moves {@link #liveStart} past the records whose window has passed, oldest first. */
  private void expire(long nowMillis) {
    while (liveStart < head) {
      int at = (int) (liveStart % capacity);
      int len = buf.getInt(at);
      if (len == SKIP) {
        liveStart = (liveStart / capacity + 1) * capacity;
        continue;
      }
      if (nowMillis - buf.getLong(at + 4) < windowMillis) {
        return;
      }
      liveStart += aligned(len);
      liveCount--;
    }
  }

  /** @return the bytes the ring takes now */
  synchronized int capacity() {
    return capacity;
  }

  /** Whether the record at an absolute position is still in the ring and within the window. */
  private boolean live(long pos, long nowMillis) {
    return pos >= tail && nowMillis - buf.getLong((int) (pos % capacity) + 4) < windowMillis;
  }

  private boolean keyAt(long pos, byte[] k) {
    int at = (int) (pos % capacity);
    return buf.getInt(at + 12) == k.length
        && Arrays.equals(ring, at + HEADER, at + HEADER + k.length, k, 0, k.length);
  }

  /** A table with only the records within the window, sized for four times as many. */
  private void rebuild(long nowMillis) {
    expire(nowMillis);
    long[] h2 = new long[tableSize(liveCount + 1)];
    long[] p2 = new long[h2.length];
    int live = 0;
    for (int i = 0; i < positions.length; i++) {
      if (positions[i] != 0 && positions[i] - 1 >= liveStart) {
        insert(h2, p2, hashes[i], positions[i] - 1);
        live++;
      }
    }
    hashes = h2;
    positions = p2;
    used = live;
  }

  /** A power of two at least four times {@code entries}, and at least {@link #MIN_SLOTS}. */
  private static int tableSize(int entries) {
    return Math.max(MIN_SLOTS, Integer.highestOneBit(Math.max(1, entries) * 4 - 1) << 1);
  }

  /** A record's length rounded up to {@link #ALIGN}: the room it takes in the ring. */
  private static int aligned(int len) {
    return (len + ALIGN - 1) / ALIGN * ALIGN;
  }

  private static void insert(long[] hashes, long[] positions, long h, long pos) {
    int mask = hashes.length - 1;
    int i = (int) h & mask;
    while (positions[i] != 0) {
      i = (i + 1) & mask;
    }
    hashes[i] = h;
    positions[i] = pos + 1;
  }

  /** 64-bit FNV-1a, then mixed so that the low bits (the table index) depend on every byte. */
  private static long hash(byte[] b, int from, int length) {
    long h = 0xcbf29ce484222325L;
    for (int i = from; i < from + length; i++) {
      h = (h ^ (b[i] & 0xff)) * 0x100000001b3L;
    }
    h ^= h >>> 33;
    h *= 0xff51afd7ed558ccdL;
    return h ^ (h >>> 33);
  }
}
