package dev.skiff.kernel.login;

import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bouncycastle.crypto.generators.Argon2BytesGenerator;
import org.bouncycastle.crypto.params.Argon2Parameters;

/**
 * Password hashing with Argon2id (BouncyCastle's {@link Argon2BytesGenerator}), the memory-hard hash
 * OWASP recommends, with its minimum parameters: m = 19 MiB, t = 2, p = 1; a random 16-byte salt per
 * password; a 32-byte hash. Stored as a PHC string,
 * {@code $argon2id$v=19$m=19456,t=2,p=1$SALT$HASH} (unpadded base64), so that a later change of
 * parameters still verifies the passwords hashed before it.
 *
 * <p>Checks compare in constant time ({@link MessageDigest#isEqual}); a check for a user who does not
 * exist hashes against a fixed dummy hash of the same parameters, so it takes the same time as one for
 * a user who does. At most {@code maxConcurrent} hashes run at once (each takes m of memory and a core
 * for tens of milliseconds); a call that waits longer than 5 s for its turn fails with CAPACITY.
 * Passwords are never logged, kept or echoed. Thread-safe.
 */
final class PasswordHasher {
  /** OWASP's Argon2id minimum: 19 MiB of memory. */
  static final int MEMORY_KIB = 19 * 1024;
  /** OWASP's Argon2id minimum: 2 passes. */
  static final int ITERATIONS = 2;
  /** One lane. */
  static final int PARALLELISM = 1;
  private static final int SALT_BYTES = 16;
  private static final int HASH_BYTES = 32;
  private static final Pattern PHC =
      Pattern.compile("\\$argon2id\\$v=19\\$m=(\\d{1,7}),t=(\\d{1,2}),p=(\\d{1,2})\\$([A-Za-z0-9+/]{11,64})\\$([A-Za-z0-9+/]{16,128})");
  private static final Base64.Encoder B64 = Base64.getEncoder().withoutPadding();
  private static final Base64.Decoder B64D = Base64.getDecoder();

  private final int memoryKib;
  private final int iterations;
  private final int parallelism;
  private final SecureRandom random = new SecureRandom();
  private final Semaphore turns;
  private volatile String dummy;

  /** @param maxConcurrent how many hashes may run at once */
  PasswordHasher(int maxConcurrent) {
    this(MEMORY_KIB, ITERATIONS, PARALLELISM, maxConcurrent);
  }

  PasswordHasher(int memoryKib, int iterations, int parallelism, int maxConcurrent) {
    this.memoryKib = memoryKib;
    this.iterations = iterations;
    this.parallelism = parallelism;
    this.turns = new Semaphore(maxConcurrent, true);
  }

  /** Makes the dummy hash now (the first hash also warms the code up): before the first login, not in it. */
  void warmUp() {
    dummy();
  }

  private String dummy() {
    String d = dummy;
    if (d == null) {
      synchronized (this) {
        d = dummy;
        if (d == null) {
          byte[] filler = new byte[24];
          random.nextBytes(filler);
          d = hash(B64.encodeToString(filler));
          dummy = d;
        }
      }
    }
    return d;
  }

  /**
   * @param password the password
   * @return its PHC string with a new random salt
   */
  String hash(String password) {
    byte[] salt = new byte[SALT_BYTES];
    random.nextBytes(salt);
    byte[] h = derive(password, salt, memoryKib, iterations, parallelism);
    return "$argon2id$v=19$m=" + memoryKib + ",t=" + iterations + ",p=" + parallelism + "$" + B64.encodeToString(salt) + "$"
        + B64.encodeToString(h);
  }

  /**
   * Checks a password, in the same time whether the user exists or not.
   *
   * @param password the password given
   * @param stored the user's PHC string, or null when there is no such user (checked against the dummy)
   * @return whether it matches (always false without a user)
   */
  boolean matches(String password, String stored) {
    boolean real = stored != null;
    Matcher m = PHC.matcher(real ? stored : dummy());
    if (!m.matches()) {
      m = PHC.matcher(dummy()); // a damaged stored hash: spend the time, refuse
      m.matches();
      real = false;
    }
    int mem = Integer.parseInt(m.group(1));
    int t = Integer.parseInt(m.group(2));
    int p = Integer.parseInt(m.group(3));
    if (mem < 8 || mem > 1024 * 1024 || t < 1 || t > 10 || p < 1 || p > 8) {
      return false;
    }
    byte[] expected = B64D.decode(m.group(5));
    byte[] actual = derive(password, B64D.decode(m.group(4)), mem, t, p, expected.length);
    return MessageDigest.isEqual(actual, expected) && real;
  }

  /** @return whether a stored hash uses other parameters than today's (rehash it at the next login) */
  boolean outdated(String stored) {
    return !stored.startsWith("$argon2id$v=19$m=" + memoryKib + ",t=" + iterations + ",p=" + parallelism + "$");
  }

  private byte[] derive(String password, byte[] salt, int mem, int t, int p) {
    return derive(password, salt, mem, t, p, HASH_BYTES);
  }

  private byte[] derive(String password, byte[] salt, int mem, int t, int p, int length) {
    Argon2Parameters params = new Argon2Parameters.Builder(Argon2Parameters.ARGON2_id)
        .withVersion(Argon2Parameters.ARGON2_VERSION_13).withMemoryAsKB(mem).withIterations(t).withParallelism(p).withSalt(salt).build();
    byte[] pw = password.getBytes(StandardCharsets.UTF_8);
    byte[] out = new byte[length];
    try {
      if (!turns.tryAcquire(5, TimeUnit.SECONDS)) {
        throw new SkiffException(ErrorCode.CAPACITY, "the login service is busy checking passwords: try again in a moment");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new SkiffException(ErrorCode.UNAVAILABLE, "interrupted while waiting to check a password");
    }
    try {
      Argon2BytesGenerator g = new Argon2BytesGenerator();
      g.init(params);
      g.generateBytes(pw, out);
      return out;
    } finally {
      turns.release();
      Arrays.fill(pw, (byte) 0);
    }
  }
}
