package dev.skiff.kernel.login;

import com.datastax.oss.driver.api.core.cql.Row;
import dev.skiff.kernel.KernelKeyspace;
import dev.skiff.platform.config.Config;
import dev.skiff.proto.v1.Revocation;
import dev.skiff.service.cassandra.Query;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The login service's store in Cassandra, through the service layer's {@link CassandraClient}: users,
 * sessions, revocations and signing keys survive a restart and are shared by every copy of the service.
 *
 * <p><b>Schema</b> (keyspace {@code login.keyspace}, default {@code skiff_login}, created with its tables
 * by the migration {@code dev/skiff/kernel/login/cassandra/V1__login_tables.cql}): {@code users} (one row
 * per user), {@code sessions} (one row per login, with a TTL to its end), {@code revocations} (by hour
 * ended, oldest first, with a TTL to when no token they concern can still be valid) and
 * {@code signing_keys}. A new user is inserted with a lightweight transaction ({@code IF NOT EXISTS}), so
 * two copies adding the same name cannot both succeed; roles and passwords are changed with
 * {@code IF EXISTS}, so a change never creates a half user.
 *
 * <p>The keyspace holds password hashes and the private signing keys: give the login service's Cassandra
 * user alone access to it. Settings: {@code cassandra.*} ({@code SKIFF_CASSANDRA_*}, see
 * {@link dev.skiff.service.cassandra.CassandraSettings}) and {@code login.keyspace}
 * ({@code SKIFF_LOGIN_KEYSPACE}). Thread-safe.
 */
final class CassandraUserStore extends KernelKeyspace implements UserStore {
  static final String SCHEMA = "dev/skiff/kernel/login/cassandra";
  private static final long HOUR_MS = 3_600_000;
  private static final int MAX_TTL_SECONDS = 630_720_000;

  private static final Query ANY_USER = Query.of("any-user", "SELECT name FROM users LIMIT 1").idempotent();
  private static final Query GET_USER =
      Query.of("get-user", "SELECT name, password_hash, roles, created_at, revoked_before FROM users WHERE name = ?").idempotent();
  private static final Query ADD_USER = Query.of("add-user",
      "INSERT INTO users (name, password_hash, roles, created_at, revoked_before) VALUES (?, ?, ?, ?, ?) IF NOT EXISTS");
  private static final Query SET_ROLES =
      Query.of("set-roles", "UPDATE users SET roles = ?, revoked_before = ? WHERE name = ? IF EXISTS");
  private static final Query SET_PASSWORD =
      Query.of("set-password", "UPDATE users SET password_hash = ?, revoked_before = ? WHERE name = ? IF EXISTS");
  private static final Query LIST_USERS =
      Query.of("list-users", "SELECT name, password_hash, roles, created_at, revoked_before FROM users LIMIT ?").idempotent();
  private static final Query PUT_SESSION = Query.of("put-session",
      "INSERT INTO sessions (id, user, started_at, ends_at, revoked) VALUES (?, ?, ?, ?, ?) USING TTL ?").idempotent();
  private static final Query GET_SESSION =
      Query.of("get-session", "SELECT id, user, started_at, ends_at, revoked FROM sessions WHERE id = ?").idempotent();
  private static final Query ADD_REVOCATION = Query.of("add-revocation",
      "INSERT INTO revocations (hour, revoked_at, id, session_id, user, issued_before, keep_until) VALUES (?, ?, ?, ?, ?, ?, ?) USING TTL ?")
      .idempotent();
  private static final Query REVOCATIONS = Query.of("revocations",
      "SELECT session_id, user, issued_before, revoked_at, keep_until FROM revocations WHERE hour = ? AND revoked_at >= ? LIMIT ?")
      .idempotent();
  private static final Query KEYS = Query.of("keys", "SELECT kid, jwk, created_at FROM signing_keys").idempotent();
  private static final Query ADD_KEY = Query.of("add-key", "INSERT INTO signing_keys (kid, jwk, created_at) VALUES (?, ?, ?)").idempotent();
  private static final Query DELETE_KEY = Query.of("delete-key", "DELETE FROM signing_keys WHERE kid = ?").idempotent();

  private final Duration maxKeep;

  /**
   * Reads the settings and builds the client; connects in {@link #start()}.
   *
   * @param config the configuration ({@code login} and {@code cassandra})
   * @param maxKeep the longest a revocation is kept (a token's lifetime and the clock skew): how far back
   *     {@link #revocationsSince} looks
   */
  CassandraUserStore(Config config, Duration maxKeep) {
    super(config, "login-store", keyspace(config.at("login")), SCHEMA, "the login store");
    this.maxKeep = maxKeep;
  }

  private static String keyspace(Config login) {
    String keyspace = login.getString("keyspace", "skiff_login");
    if (!isValidName(keyspace)) {
      throw login.invalid("keyspace", "must be 1 to 48 letters, digits or '_'");
    }
    return keyspace;
  }

  @Override
  public boolean hasAnyUser() {
    return session().one(ANY_USER).isPresent();
  }

  @Override
  public Optional<User> user(String name) {
    return session().one(GET_USER, name).map(CassandraUserStore::user);
  }

  private static User user(Row r) {
    List<String> roles = r.getList(2, String.class);
    return new User(r.getString(0), r.getString(1), roles == null ? List.of() : roles, r.getLong(3), r.getLong(4));
  }

  @Override
  public boolean addUser(User u) {
    return session().execute(ADD_USER, u.name(), u.passwordHash(), u.roles(), u.createdAtMs(), u.revokedBeforeMs()).wasApplied();
  }

  @Override
  public boolean setRoles(String name, List<String> roles, long revokedBeforeMs) {
    return session().execute(SET_ROLES, roles, revokedBeforeMs, name).wasApplied();
  }

  @Override
  public boolean setPassword(String name, String passwordHash, long revokedBeforeMs) {
    return session().execute(SET_PASSWORD, passwordHash, revokedBeforeMs, name).wasApplied();
  }

  @Override
  public List<User> users(int limit) {
    List<User> out = new ArrayList<>();
    for (Row r : session().execute(LIST_USERS, limit)) {
      out.add(user(r));
    }
    return out;
  }

  @Override
  public void putSession(Session x) {
    long ttl = Math.max(1, (x.endsAtMs() - System.currentTimeMillis()) / 1000 + 60);
    session().execute(PUT_SESSION, x.id(), x.user(), x.startedAtMs(), x.endsAtMs(), x.revoked(), (int) Math.min(ttl, MAX_TTL_SECONDS));
  }

  @Override
  public Optional<Session> session(String id) {
    return session().one(GET_SESSION, id).map(r -> new Session(r.getString(0), r.getString(1), r.getLong(2), r.getLong(3), r.getBoolean(4)))
        .filter(x -> x.endsAtMs() > System.currentTimeMillis());
  }

  @Override
  public void addRevocation(Revocation r) {
    long ttl = Math.max(1, (r.getKeepUntilMs() - System.currentTimeMillis()) / 1000 + 60);
    String id = r.getSessionId().isEmpty() ? "user:" + r.getUser() : "session:" + r.getSessionId();
    session().execute(ADD_REVOCATION, r.getRevokedAtMs() / HOUR_MS, r.getRevokedAtMs(), id, r.getSessionId(), r.getUser(), r.getIssuedBeforeMs(),
        r.getKeepUntilMs(), (int) Math.min(ttl, MAX_TTL_SECONDS));
  }

  @Override
  public List<Revocation> revocationsSince(long sinceMs, long nowMs, int limit) {
    long from = Math.max(sinceMs, nowMs - maxKeep.toMillis() - HOUR_MS);
    List<Revocation> out = new ArrayList<>();
    for (long hour = from / HOUR_MS; hour <= nowMs / HOUR_MS && out.size() < limit; hour++) {
      for (Row r : session().execute(REVOCATIONS, hour, from, limit - out.size())) {
        Revocation v = Revocation.newBuilder().setSessionId(r.getString(0)).setUser(r.getString(1)).setIssuedBeforeMs(r.getLong(2))
            .setRevokedAtMs(r.getLong(3)).setKeepUntilMs(r.getLong(4)).build();
        if (v.getKeepUntilMs() > nowMs) {
          out.add(v);
        }
      }
    }
    return out;
  }

  @Override
  public List<Key> keys() {
    List<Key> out = new ArrayList<>();
    for (Row r : session().execute(KEYS)) {
      out.add(new Key(r.getString(0), r.getString(1), r.getLong(2)));
    }
    return out;
  }

  @Override
  public void addKey(Key k) {
    session().execute(ADD_KEY, k.kid(), k.privateJwk(), k.createdAtMs());
  }

  @Override
  public void deleteKey(String kid) {
    session().execute(DELETE_KEY, kid);
  }
}
