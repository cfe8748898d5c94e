package dev.skiff.platform;

/**
 * What names in Skiff may look like: the one rule for each kind, applied wherever a name enters (a
 * server's builder, a client's call, the command line, an announcement read by the kernel). Names become
 * parts of queue names and routing keys, so they stay short and plain.
 *
 * <ul>
 *   <li>a <b>service</b>: dot-separated parts of lower-case letters, digits, {@code _} and {@code -}, each
 *       starting with a letter or digit, at most {@value #MAX_SERVICE} characters: {@code com.example.greeter};
 *   <li>an <b>endpoint</b>: letters, digits, {@code .}, {@code _} and {@code -}, starting with a letter or
 *       digit, at most {@value #MAX_TOKEN} characters;
 *   <li>an <b>instance id</b>: the same, at most {@value #MAX_INSTANCE} characters;
 *   <li>a <b>version</b>: letters, digits, {@code .}, {@code _}, {@code +} and {@code -}, starting with a
 *       letter or digit, at most {@value #MAX_VERSION} characters: {@code 1.2.0}.
 * </ul>
 *
 * <p>The lengths keep every queue and exchange name made of them within the broker's 255 bytes: the
 * longest, an instance's queue {@code skiff.inst.S@I}, takes 11 + 128 + 1 + 100 (docs/wire-protocol.md).
 *
 * <p>Checked by hand, not by regular expressions: a client checks every call's names.
 */
public final class Names {
  /** The longest service name. */
  public static final int MAX_SERVICE = 128;
  /** The longest endpoint name. */
  public static final int MAX_TOKEN = 255;
  /** The longest instance id. */
  public static final int MAX_INSTANCE = 100;
  /** The longest version. */
  public static final int MAX_VERSION = 64;

  private Names() {}

  /**
   * @param name a name, or null
   * @return whether it is a valid service name
   */
  public static boolean isService(String name) {
    if (name == null || name.isEmpty() || name.length() > MAX_SERVICE) {
      return false;
    }
    boolean partStart = true;
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      boolean alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
      if (partStart) {
        if (!alnum) {
          return false;
        }
        partStart = false;
      } else if (c == '.') {
        partStart = true;
      } else if (!alnum && c != '_' && c != '-') {
        return false;
      }
    }
    return !partStart;
  }

  /**
   * @param name an endpoint name or instance id, or null
   * @return whether it is valid
   */
  public static boolean isToken(String name) {
    return plain(name, MAX_TOKEN, false);
  }

  /**
   * @param id an instance id, or null
   * @return whether it is valid
   */
  public static boolean isInstance(String id) {
    return plain(id, MAX_INSTANCE, false);
  }

  /**
   * @param version a version, or null
   * @return whether it is valid
   */
  public static boolean isVersion(String version) {
    return plain(version, MAX_VERSION, true);
  }

  private static boolean plain(String s, int max, boolean plus) {
    if (s == null || s.isEmpty() || s.length() > max) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      boolean alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
      if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-' && !(plus && c == '+')))) {
        return false;
      }
    }
    return true;
  }

  /**
   * @param name a service name
   * @return the name
   * @throws IllegalArgumentException if it is not a valid service name, saying what one looks like
   */
  public static String checkService(String name) {
    if (!isService(name)) {
      throw new IllegalArgumentException(
          "invalid service name '" + name + "': use dot-separated lower-case parts of letters, digits, '_' and '-'"
              + " (at most " + MAX_SERVICE + " characters), e.g. com.example.greeter");
    }
    return name;
  }

  /**
   * @param what what the name is of, for the message: {@code "endpoint"}, {@code "instance id"}
   * @param name an endpoint name or instance id
   * @return the name
   * @throws IllegalArgumentException if it is not valid, saying what a valid one looks like
   */
  public static String checkToken(String what, String name) {
    if (!isToken(name)) {
      throw new IllegalArgumentException(
          "invalid " + what + " '" + name + "': use letters, digits, '.', '_' and '-' (at most " + MAX_TOKEN + " characters)");
    }
    return name;
  }

  /**
   * @param id an instance id
   * @return the id
   * @throws IllegalArgumentException if it is not valid, saying what a valid one looks like
   */
  public static String checkInstance(String id) {
    if (!isInstance(id)) {
      throw new IllegalArgumentException(
          "invalid instance id '" + id + "': use letters, digits, '.', '_' and '-' (at most " + MAX_INSTANCE + " characters)");
    }
    return id;
  }

  /**
   * @param version a version
   * @return the version
   * @throws IllegalArgumentException if it is not valid, saying what a valid one looks like
   */
  public static String checkVersion(String version) {
    if (!isVersion(version)) {
      throw new IllegalArgumentException(
          "invalid version '" + version + "': use letters, digits, '.', '_', '+' and '-', e.g. 1.2.0");
    }
    return version;
  }
}
