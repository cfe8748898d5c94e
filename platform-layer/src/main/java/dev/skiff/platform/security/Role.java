package dev.skiff.platform.security;

import java.util.Objects;
import dev.skiff.platform.internal.Printable;
import java.util.regex.Pattern;

/**
 * A role a person holds or an endpoint requires: a dotted path, optionally limited to one scope
 * (docs/security.md, "Roles").
 *
 * <p>Roles are hierarchical: a held role covers a required one when its path is the required path or one
 * of its ancestors, segment by segment ({@code ADMIN} covers {@code ADMIN.CONFIG}, {@code ADMIN.CONFIG}
 * does not cover {@code ADMIN}, and {@code ADMIN} does not cover {@code ADMINISTRATIVE}). A scope narrows a
 * role to one thing, written after a colon ({@code ADMIN.ROUTES:com.example.greeter}): a held role without
 * a scope covers every scope; a held role with a scope covers only a requirement with the same scope.
 *
 * <p>Paths are upper-case letters, digits and {@code _}, in dot-separated segments; scopes are letters,
 * digits, {@code . _ -}. Both are checked, so a role read from a token or a command line is never
 * ambiguous. Immutable.
 *
 * @param path the dotted path, e.g. {@code ADMIN.CONFIG}
 * @param scope what the role is limited to, or null for everything
 */
public record Role(String path, String scope) {
  private static final Pattern PATH = Pattern.compile("[A-Z0-9_]{1,64}(\\.[A-Z0-9_]{1,64}){0,7}");
  private static final Pattern SCOPE = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,254}");

  /** The role that covers every other: an administrator of the whole system (declared after the patterns it is checked by). */
  public static final Role ADMIN = new Role("ADMIN", null);

  /** Checks the arguments. */
  public Role {
    Objects.requireNonNull(path, "path");
    if (!PATH.matcher(path).matches()) {
      throw new IllegalArgumentException(
          "invalid role '" + Printable.of(path) + "': use upper-case segments of A-Z, 0-9 and _, separated by dots");
    }
    if (scope != null && !SCOPE.matcher(scope).matches()) {
      throw new IllegalArgumentException(
          "invalid scope '" + Printable.of(scope) + "' of role " + path + ": use letters, digits, '.', '_' and '-'");
    }
  }

  /**
   * Reads a role in its text form, {@code PATH} or {@code PATH:SCOPE}.
   *
   * @param text the text
   * @return the role
   * @throws IllegalArgumentException when it is not a valid role
   */
  public static Role parse(String text) {
    Objects.requireNonNull(text, "text");
    int colon = text.indexOf(':');
    return colon < 0 ? new Role(text, null) : new Role(text.substring(0, colon), text.substring(colon + 1));
  }

  /**
   * @param path the dotted path
   * @return the role with that path, for every scope
   */
  public static Role of(String path) {
    return new Role(path, null);
  }

  /**
   * @param scope what to limit it to
   * @return this role limited to one scope
   */
  public Role scopedTo(String scope) {
    return new Role(path, Objects.requireNonNull(scope, "scope"));
  }

  /**
   * Whether holding this role grants {@code required}.
   *
   * @param required the role asked for
   * @return true when this path is the required path or an ancestor of it, and this role has no scope or
   *     the required one's
   */
  public boolean covers(Role required) {
    boolean pathCovers =
        required.path.equals(path) || (required.path.startsWith(path) && required.path.charAt(path.length()) == '.');
    return pathCovers && (scope == null || scope.equals(required.scope));
  }

  /** @return the text form, {@code PATH} or {@code PATH:SCOPE} ({@link #parse(String)} reads it back) */
  @Override
  public String toString() {
    return scope == null ? path : path + ":" + scope;
  }
}
