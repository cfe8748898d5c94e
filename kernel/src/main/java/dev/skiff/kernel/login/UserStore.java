package dev.skiff.kernel.login;

import dev.skiff.platform.health.HealthCheck;
import dev.skiff.proto.v1.Revocation;
import java.util.List;
import java.util.Optional;

/**
 * Where the login service keeps what must outlive it and be shared by its copies: users (with their
 * password hashes and roles), sessions, revocations and signing keys. {@link MemoryUserStore} (one
 * process, lost at restart) or {@link CassandraUserStore}. Every method may throw a
 * {@link dev.skiff.platform.SkiffException} (UNAVAILABLE, TIMEOUT) when the store cannot be reached.
 * Implementations are thread-safe.
 */
interface UserStore extends AutoCloseable {
  /**
   * A user.
   *
   * @param name the user name
   * @param passwordHash the password's PHC string ({@link PasswordHasher}); never logged
   * @param roles role texts
   * @param createdAtMs when it was created
   * @param revokedBeforeMs tokens of this user issued before this time are revoked (0 for none)
   */
  record User(String name, String passwordHash, List<String> roles, long createdAtMs, long revokedBeforeMs) {
    /** Copies the roles. */
    public User {
      roles = List.copyOf(roles);
    }

    /** @return a description for logs, without the hash */
    @Override
    public String toString() {
      return "User[" + name + ", roles " + roles + "]";
    }
  }

  /**
   * A session: what one login started and renewals extend, up to its end.
   *
   * @param id the session id (the tokens' {@code sid})
   * @param user the user
   * @param startedAtMs when the login was
   * @param endsAtMs the latest a renewed token may reach
   * @param revoked whether it was ended (logout)
   */
  record Session(String id, String user, long startedAtMs, long endsAtMs, boolean revoked) {}

  /**
   * A signing key. The newest signs; each older one is published until every token it signed expired.
   *
   * @param kid its key id
   * @param privateJwk the key pair as a JSON Web Key (private: never logged, never published)
   * @param createdAtMs when it was made
   */
  record Key(String kid, String privateJwk, long createdAtMs) {
    /** @return a description for logs, without the key */
    @Override
    public String toString() {
      return "Key[" + kid + ", created " + createdAtMs + "]";
    }
  }

  /** Connects and creates the schema (blocks until done). */
  void start();

  /** @return whether any user exists */
  boolean hasAnyUser();

  /**
   * @param name a user name
   * @return the user
   */
  Optional<User> user(String name);

  /**
   * @param user a new user
   * @return false when the name is taken (nothing changed)
   */
  boolean addUser(User user);

  /**
   * Replaces a user's roles and revokes their tokens issued before a time.
   *
   * @param name the user
   * @param roles the new roles
   * @param revokedBeforeMs the new revocation time
   * @return false when there is no such user
   */
  boolean setRoles(String name, List<String> roles, long revokedBeforeMs);

  /**
   * Replaces a user's password hash and revokes their tokens issued before a time.
   *
   * @param name the user
   * @param passwordHash the new hash
   * @param revokedBeforeMs the new revocation time
   * @return false when there is no such user
   */
  boolean setPassword(String name, String passwordHash, long revokedBeforeMs);

  /**
   * @param limit the most to list
   * @return users, in no particular order
   */
  List<User> users(int limit);

  /** @param session a new or changed session (kept until its end) */
  void putSession(Session session);

  /**
   * @param id a session id
   * @return the session, unless unknown or past its end
   */
  Optional<Session> session(String id);

  /** @param revocation a revocation, kept until its {@code keep_until} */
  void addRevocation(Revocation revocation);

  /**
   * @param sinceMs the earliest revocation time wanted
   * @param nowMs the time now (those past their keep_until are left out)
   * @param limit the most to answer
   * @return revocations at or after {@code sinceMs}, oldest first
   */
  List<Revocation> revocationsSince(long sinceMs, long nowMs, int limit);

  /** @return every signing key */
  List<Key> keys();

  /** @param key a new signing key */
  void addKey(Key key);

  /** @param kid a key no longer published */
  void deleteKey(String kid);

  /** @return a check of the store's health, where it has one */
  default Optional<HealthCheck> healthCheck() {
    return Optional.empty();
  }

  /** Closes the store. Idempotent. */
  @Override
  void close();
}
