package dev.skiff.platform.liveconfig;

import dev.skiff.platform.internal.PrivateFiles;
import dev.skiff.platform.internal.Redaction;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Optional;

/**
 * The last view of the config service an instance accepted, kept in one local file per service, region,
 * environment and broker (with its virtual host, as a hash), so that an instance started while the config
 * service is down starts from its own environment's copy, never another broker's. The file is replaced whole ({@link PrivateFiles}: written beside it, then renamed over it), so a crash mid-write
 * leaves the previous copy; it is readable by its owner only (it may hold the service's secrets). A file that is too big or
 * not in this format is ignored, never half-read.
 */
final class LastGoodCopy {
  private static final String HEADER = "skiff-config-copy 1 version ";

  /** A view: the version it is of and its JSON. */
  record View(long version, String json) {}

  private final Path file;

  /**
   * @param dir the directory (created when missing)
   * @param service the service's name (checked by the caller)
   * @param region the region, or null
   * @param env the environment, or null
   * @param broker what names the broker and virtual host the process uses, without a password (its
   *     transport's {@code describe()}: the redacted node list with the virtual host): a process on another
   *     broker or virtual host (staging beside production) gets a copy of its own, never the other's
   */
  LastGoodCopy(Path dir, String service, String region, String env, String broker) {
    // names are plain (letters, digits, '.', '_', '-'): with the prefix, no name can make a path of its own
    String name = "config-" + service + (region == null ? "" : "~region-" + region) + (env == null ? "" : "~env-" + env)
        + "~broker-" + brokerKey(broker) + ".json";
    this.file = dir.resolve(name);
  }

  /**
   * @param broker the broker's description, redacted
   * @return the first 16 hex digits of its SHA-256: a file name part that tells brokers apart and says
   *     nothing of them (a password that slipped into the text would not reach the name either)
   */
  static String brokerKey(String broker) {
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(Redaction.of(broker).getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(d, 0, 8);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every JDK", e);
    }
  }

  /** @return where the copy is kept */
  Path file() {
    return file;
  }

  /**
   * @return the copy, or empty when there is none or it cannot be used
   * @throws IOException when the file exists but cannot be read
   */
  Optional<View> read() throws IOException {
    if (!Files.isRegularFile(file)) {
      return Optional.empty();
    }
    if (Files.size(file) > JsonTrees.MAX_JSON_BYTES + 64) {
      throw new IOException(file + " is larger than a configuration can be");
    }
    String text = Files.readString(file, StandardCharsets.UTF_8);
    int nl = text.indexOf('\n');
    if (nl < 0 || !text.startsWith(HEADER)) {
      throw new IOException(file + " is not a copy of Skiff configuration");
    }
    long version;
    try {
      version = Long.parseLong(text.substring(HEADER.length(), nl));
    } catch (NumberFormatException e) {
      throw new IOException(file + " has no version", e);
    }
    return Optional.of(new View(version, text.substring(nl + 1)));
  }

  /**
   * Replaces the copy.
   *
   * @param view the view accepted
   * @throws IOException when it cannot be written (the previous copy stays)
   */
  void write(View view) throws IOException {
    PrivateFiles.replace(file, HEADER + view.version() + "\n" + view.json());
  }

}
