package dev.skiff.kernel.login;

import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.proto.v1.Revocation;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The login service's store in this process's memory: for development and tests. Nothing survives a
 * restart and copies of the service share nothing (the service warns at start). Bounded: at most
 * {@code maxUsers} users and {@code maxSessions} live sessions and as many revocations in force; past a
 * bound, adding answers CAPACITY (sessions and revocations past their end are dropped first).
 * Thread-safe (one lock).
 */
final class MemoryUserStore implements UserStore {
  private final int maxUsers;
  private final int maxSessions;
  private final Clock clock;
  private final Map<String, User> users = new LinkedHashMap<>();
  private final Map<String, Session> sessions = new LinkedHashMap<>();
  private final List<Revocation> revocations = new ArrayList<>();
  private final Map<String, Key> keys = new LinkedHashMap<>();

  MemoryUserStore(int maxUsers, int maxSessions, Clock clock) {
    this.maxUsers = maxUsers;
    this.maxSessions = maxSessions;
    this.clock = clock;
  }

  @Override
  public void start() {}

  @Override
  public synchronized boolean hasAnyUser() {
    return !users.isEmpty();
  }

  @Override
  public synchronized Optional<User> user(String name) {
    return Optional.ofNullable(users.get(name));
  }

  @Override
  public synchronized boolean addUser(User user) {
    if (users.containsKey(user.name())) {
      return false;
    }
    if (users.size() >= maxUsers) {
      throw new SkiffException(ErrorCode.CAPACITY, "the in-memory user store is full (" + maxUsers + " users)");
    }
    users.put(user.name(), user);
    return true;
  }

  @Override
  public synchronized boolean setRoles(String name, List<String> roles, long revokedBeforeMs) {
    User u = users.get(name);
    if (u == null) {
      return false;
    }
    users.put(name, new User(name, u.passwordHash(), roles, u.createdAtMs(), Math.max(u.revokedBeforeMs(), revokedBeforeMs)));
    return true;
  }

  @Override
  public synchronized boolean setPassword(String name, String passwordHash, long revokedBeforeMs) {
    User u = users.get(name);
    if (u == null) {
      return false;
    }
    users.put(name, new User(name, passwordHash, u.roles(), u.createdAtMs(), Math.max(u.revokedBeforeMs(), revokedBeforeMs)));
    return true;
  }

  @Override
  public synchronized List<User> users(int limit) {
    return users.values().stream().limit(limit).toList();
  }

  @Override
  public synchronized void putSession(Session session) {
    if (!sessions.containsKey(session.id()) && sessions.size() >= maxSessions) {
      long now = clock.millis();
      sessions.values().removeIf(s -> s.endsAtMs() <= now);
      if (sessions.size() >= maxSessions) {
        throw new SkiffException(ErrorCode.CAPACITY, "the in-memory session store is full (" + maxSessions + " sessions)");
      }
    }
    sessions.put(session.id(), session);
  }

  @Override
  public synchronized Optional<Session> session(String id) {
    Session s = sessions.get(id);
    return s == null || s.endsAtMs() <= clock.millis() ? Optional.empty() : Optional.of(s);
  }

  @Override
  public synchronized void addRevocation(Revocation revocation) {
    if (revocations.size() >= maxSessions) {
      long now = clock.millis();
      revocations.removeIf(r -> r.getKeepUntilMs() <= now);
      if (revocations.size() >= maxSessions) {
        throw new SkiffException(ErrorCode.CAPACITY, "the in-memory revocation store is full (" + maxSessions + ")");
      }
    }
    revocations.add(revocation);
    revocations.sort(Comparator.comparingLong(Revocation::getRevokedAtMs));
  }

  @Override
  public synchronized List<Revocation> revocationsSince(long sinceMs, long nowMs, int limit) {
    return revocations.stream().filter(r -> r.getRevokedAtMs() >= sinceMs && r.getKeepUntilMs() > nowMs).limit(limit).toList();
  }

  @Override
  public synchronized List<Key> keys() {
    return List.copyOf(keys.values());
  }

  @Override
  public synchronized void addKey(Key key) {
    keys.put(key.kid(), key);
  }

  @Override
  public synchronized void deleteKey(String kid) {
    keys.remove(kid);
  }

  @Override
  public void close() {}
}
