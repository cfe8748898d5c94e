package dev.skiff.platform.internal;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.EnumSet;
import java.util.Set;

/**
 * Files only their owner may read (a session token, a service's last good configuration), replaced whole:
 * written to a new owner-only file beside the old one, then moved over it, so that no reader sees half a
 * file and no other user can read it at any moment. Internal.
 */
public final class PrivateFiles {
  private static final Set<PosixFilePermission> OWNER_ONLY = EnumSet.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE);
  private static final Set<PosixFilePermission> OWNER_DIR =
      EnumSet.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_EXECUTE);

  private PrivateFiles() {}

  /**
   * Replaces a file's content (creating the file, and its directory owner-only, when missing).
   *
   * @param path the file
   * @param content its new content, written as UTF-8
   * @throws IOException when it cannot be written (the previous content stays)
   */
  public static void replace(Path path, String content) throws IOException {
    Path dir = path.toAbsolutePath().getParent();
    if (!Files.isDirectory(dir)) {
      if (posix()) {
        Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(OWNER_DIR));
      } else {
        Files.createDirectories(dir);
      }
    }
    String prefix = "." + path.getFileName();
    Path tmp = posix()
        ? Files.createTempFile(dir, prefix, ".tmp", PosixFilePermissions.asFileAttribute(OWNER_ONLY))
        : Files.createTempFile(dir, prefix, ".tmp");
    try {
      Files.writeString(tmp, content, StandardCharsets.UTF_8);
      try {
        Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING);
      }
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  /**
   * @param path a file that exists
   * @return whether only its owner may read or write it (always true where files have no POSIX modes)
   * @throws IOException when its mode cannot be read
   */
  public static boolean ownerOnly(Path path) throws IOException {
    return !posix() || OWNER_ONLY.containsAll(Files.getPosixFilePermissions(path, LinkOption.NOFOLLOW_LINKS));
  }

  private static boolean posix() {
    return FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
  }
}
