package dev.skiff.platform.security;

import java.time.Instant;
import java.util.Objects;
import java.util.Set;

/**
 * A person, as a verified session token proves them: who, with which roles, in which session, until when.
 * Only a {@link TokenVerifier} makes one from a token; a handler reads it from
 * {@link dev.skiff.platform.server.RequestContext#caller()}. Immutable.
 *
 * @param user the user name
 * @param roles the roles the token grants
 * @param sessionId the session the token belongs to (what logout revokes)
 * @param issuedAt when the token was signed
 * @param expiresAt when the token stops being valid
 */
public record UserIdentity(String user, Set<Role> roles, String sessionId, Instant issuedAt, Instant expiresAt) {
  /** Checks the arguments and copies the roles. */
  public UserIdentity {
    Objects.requireNonNull(user, "user");
    roles = Set.copyOf(roles);
    Objects.requireNonNull(sessionId, "sessionId");
    Objects.requireNonNull(issuedAt, "issuedAt");
    Objects.requireNonNull(expiresAt, "expiresAt");
  }

  /**
   * @param required a role
   * @return whether one of this user's roles covers it ({@link Role#covers(Role)})
   */
  public boolean hasRole(Role required) {
    for (Role held : roles) {
      if (held.covers(required)) {
        return true;
      }
    }
    return false;
  }
}
