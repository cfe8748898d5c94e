package dev.skiff.platform.liveconfig;

import dev.skiff.platform.internal.PrivateFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The last view of the config service an instance accepted, kept in one local file per service, region
 * and environment, so that an instance started while the config service is down starts from it. The file
 * is replaced whole ({@link PrivateFiles}: written beside it, then renamed over it), so a crash mid-write
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
   */
  LastGoodCopy(Path dir, String service, String region, String env) {
    // names are plain (letters, digits, '.', '_', '-'): with the prefix, no name can make a path of its own
    String name = "config-" + service + (region == null ? "" : "~region-" + region) + (env == null ? "" : "~env-" + env) + ".json";
    this.file = dir.resolve(name);
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
