package dev.skiff.service.zookeeper;

import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.regex.Pattern;
import org.apache.curator.utils.ZKPaths;
import org.apache.zookeeper.common.PathUtils;

/**
 * What ZooKeeper takes, checked before anything is sent: paths (absolute, no empty, {@code .} or
 * {@code ..} parts, no characters ZooKeeper refuses), recipe names, and the size of a request. A request
 * larger than the ensemble's {@code jute.maxbuffer} is not refused by ZooKeeper: the server drops the
 * connection, and with it the session, every lock and every leadership this client held. So a value or a
 * participant id that would not fit is refused here with an IllegalArgumentException naming the limit.
 */
final class Znodes {
  private static final Pattern RECIPE_NAME = Pattern.compile("[A-Za-z0-9_.-]+");
  /** ZooKeeper's default {@code jute.maxbuffer}: 0xfffff bytes. */
  static final int DEFAULT_MAX_BUFFER = 0xfffff;
  /** What a request holds beside its path and data (headers, version, ACL), rounded up generously. */
  static final int REQUEST_OVERHEAD = 1024;

  private Znodes() {}

  /**
   * The largest request ZooKeeper takes: the {@code jute.maxbuffer} system property, as ZooKeeper's own
   * client reads it (the ensemble's servers must use the same), else 0xfffff bytes.
   *
   * @return the limit in bytes
   */
  static int maxBuffer() {
    return Integer.getInteger("jute.maxbuffer", DEFAULT_MAX_BUFFER);
  }

  /**
   * Checks a path a caller gives.
   *
   * @param znode e.g. {@code /settings/banner}
   * @return the path
   * @throws IllegalArgumentException saying what a path is
   */
  static String checkPath(String znode) {
    Objects.requireNonNull(znode, "path");
    String problem = null;
    if (!znode.startsWith("/") || znode.endsWith("/") || znode.contains("//")) {
      problem = "starts with '/' and has no empty parts";
    } else {
      for (String part : znode.substring(1).split("/")) {
        if (part.equals(".") || part.equals("..")) {
          problem = "has no '.' or '..' parts (ZooKeeper takes no relative paths)";
        }
      }
      if (problem == null) {
        try {
          PathUtils.validatePath(znode);
        } catch (IllegalArgumentException e) {
          problem = "has only characters ZooKeeper takes (" + e.getMessage() + ")";
        }
      }
    }
    if (problem != null) {
      throw new IllegalArgumentException("a ZooKeeper path " + problem + ": '" + shorten(znode) + "'");
    }
    return znode;
  }

  /**
   * Checks a recipe's name (a lock's, an election's): one part of a path.
   *
   * @param what e.g. {@code lock name}
   * @param name the name
   * @return the name
   * @throws IllegalArgumentException saying what a name is
   */
  static String checkName(String what, String name) {
    Objects.requireNonNull(name, what);
    if (!RECIPE_NAME.matcher(name).matches() || name.equals(".") || name.equals("..")) {
      throw new IllegalArgumentException(what + " must be letters, digits, '.', '_' or '-', and not '.' or '..': '" + shorten(name) + "'");
    }
    return name;
  }

  /**
   * Checks that a request with this path and data fits {@link #maxBuffer()}.
   *
   * @param what what is written, e.g. {@code the value of /settings/banner}
   * @param namespace the client's namespace ("" for none)
   * @param znode the path under it
   * @param data the data
   * @throws IllegalArgumentException naming the limit when it does not fit
   */
  static void checkFits(String what, String namespace, String znode, byte[] data) {
    int max = maxBuffer();
    long pathBytes = ZKPaths.fixForNamespace(namespace.isEmpty() ? null : namespace, znode).getBytes(StandardCharsets.UTF_8).length;
    long request = pathBytes + data.length + REQUEST_OVERHEAD;
    if (request > max) {
      throw new IllegalArgumentException(what + " is " + data.length + " bytes: too large for ZooKeeper, which takes requests of at most "
          + max + " bytes (jute.maxbuffer) with their path and " + REQUEST_OVERHEAD + " bytes of its own, so at most "
          + Math.max(0, max - pathBytes - REQUEST_OVERHEAD) + " bytes here; nothing was sent (ZooKeeper would have dropped the"
          + " session, and with it every lock and leadership of this client)");
    }
  }

  private static String shorten(String s) {
    return s.length() <= 200 ? s : s.substring(0, 200) + "... (" + s.length() + " characters)";
  }
}
