package dev.skiff.kernel.login;

import com.codahale.metrics.Counter;
import com.codahale.metrics.MetricRegistry;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;

/**
 * Slows down, then locks out, repeated failed logins for one user name, whether the user exists or not
 * (so the answers never tell one from the other). For each name:
 *
 * <ul>
 *   <li>after {@code delayAfter} consecutive failures (5), each further attempt is delayed: first by
 *       {@code firstDelay}, doubling at each failure, up to {@code maxDelay}; and only one delayed attempt
 *       per name runs at a time (another one at once is refused), so parallel guesses gain nothing;
 *   <li>after {@code lockAfter} failures (10) within {@code window} (15 min), the name is locked for
 *       {@code lockFor} (15 min): every attempt is refused, saying until when, without its password being
 *       checked;
 *   <li>a successful login (or an administrator setting the password, or unlocking the name) resets it.
 * </ul>
 *
 * <p>Copies of the login service count each other's failures ({@link #failedElsewhere}, fed by
 * {@code LoginService} from the {@code login.throttle} events) and forget a name's failures together, so
 * that spreading guesses over N copies gains nothing; delays and the one-attempt-at-a-time rule are each
 * copy's own.
 *
 * <p>Bounded: at most {@code maxNames} names are tracked; when that many have failed recently and none
 * can be forgotten, attempts for names not tracked are refused ({@link Verdict.Busy}) and counted
 * ({@code skiff.login.throttle-full}): failing closed, as an attack on many names is under way.
 * Counted: {@code skiff.login.failures}, {@code skiff.login.delayed}, {@code skiff.login.lockouts},
 * {@code skiff.login.locked-refusals}. Thread-safe (one lock; every operation is short).
 */
final class LoginThrottle {
  /**
   * The rules.
   *
   * @param delayAfter consecutive failures before attempts are delayed
   * @param firstDelay the first delay
   * @param maxDelay the longest delay
   * @param lockAfter failures within the window that lock the name
   * @param window the window
   * @param lockFor how long a name stays locked
   * @param maxNames how many names are tracked at most
   */
  record Rules(int delayAfter, Duration firstDelay, Duration maxDelay, int lockAfter, Duration window, Duration lockFor, int maxNames) {
    /** @return 5 failures, then 0.5 s doubling to 8 s; 10 in 15 min lock for 15 min; 100 000 names */
    static Rules defaults() {
      return new Rules(5, Duration.ofMillis(500), Duration.ofSeconds(8), 10, Duration.ofMinutes(15), Duration.ofMinutes(15), 100_000);
    }
  }

  /** What to do with an attempt. */
  sealed interface Verdict {
    /** Go on after waiting {@code delayMillis}; then call {@link #end} (and {@link #failed} or {@link #succeeded}). */
    record Go(long delayMillis) implements Verdict {}

    /** Refuse: the name is locked until {@code untilMillis}. */
    record Locked(long untilMillis) implements Verdict {}

    /** Refuse at once: another delayed attempt for the name is running, or the throttle is full. */
    record Busy(String why) implements Verdict {}
  }

  private static final class State {
    int consecutive;
    final ArrayDeque<Long> failures = new ArrayDeque<>();
    boolean inFlight;
    long lockedUntil;
  }

  private final Rules rules;
  private final Map<String, State> names = new HashMap<>();
  private final Counter failures;
  private final Counter delayed;
  private final Counter lockouts;
  private final Counter lockedRefusals;
  private final Counter full;

  LoginThrottle(Rules rules, MetricRegistry metrics) {
    this.rules = rules;
    this.failures = metrics.counter("skiff.login.failures");
    this.delayed = metrics.counter("skiff.login.delayed");
    this.lockouts = metrics.counter("skiff.login.lockouts");
    this.lockedRefusals = metrics.counter("skiff.login.locked-refusals");
    this.full = metrics.counter("skiff.login.throttle-full");
  }

  /**
   * Before an attempt (and before its password is looked at).
   *
   * @param name the user name tried
   * @param now the time (ms)
   * @return whether and when it may go on
   */
  synchronized Verdict begin(String name, long now) {
    State s = names.get(name);
    if (s == null) {
      return roomForAnother(now)
          ? new Verdict.Go(0)
          : new Verdict.Busy("the login service is refusing new names: too many failed logins are being tracked");
    }
    if (s.lockedUntil > now) {
      lockedRefusals.inc();
      return new Verdict.Locked(s.lockedUntil);
    }
    if (s.consecutive < rules.delayAfter()) {
      return new Verdict.Go(0);
    }
    if (s.inFlight) {
      return new Verdict.Busy("another login for this user is being checked: wait for its answer");
    }
    s.inFlight = true;
    delayed.inc();
    int doublings = Math.min(30, s.consecutive - rules.delayAfter());
    long delay = Math.min(rules.maxDelay().toMillis(), rules.firstDelay().toMillis() << doublings);
    return new Verdict.Go(delay);
  }

  /**
   * After an attempt that {@link #begin} let go, whatever its outcome.
   *
   * @param name the user name tried
   */
  synchronized void end(String name) {
    State s = names.get(name);
    if (s != null) {
      s.inFlight = false;
    }
  }

  /**
   * Records a failed attempt.
   *
   * @param name the user name tried
   * @param now the time (ms)
   * @return when the name is locked from now on, or 0 when it is not
   */
  synchronized long failed(String name, long now) {
    failures.inc();
    return count(names.computeIfAbsent(name, n -> new State()), now, true);
  }

  /**
   * Records a failed attempt that another copy of the login service counted (its
   * {@code ThrottleEvent}), so that every copy locks the name alike. Bounded as {@link #begin} is: a
   * name not tracked yet is not taken when {@code maxNames} are tracked and none can be forgotten
   * (counted as {@code skiff.login.throttle-full}; the copy that counted it still does).
   *
   * @param name the user name tried
   * @param failedAt when the other copy counted it (ms); one older than the window is not counted
   * @param now the time (ms)
   * @return when the name is locked from now on, or 0 when it is not
   */
  synchronized long failedElsewhere(String name, long failedAt, long now) {
    if (failedAt <= now - rules.window().toMillis()) {
      return 0;
    }
    State s = names.get(name);
    if (s == null) {
      if (!roomForAnother(now)) {
        return 0;
      }
      s = new State();
      names.put(name, s);
    }
    return count(s, now, false);
  }

  /**
   * Counts a failure of a name, locking it at the threshold; times are this copy's. A lockout is counted
   * in {@code skiff.login.lockouts} by the copy whose failure locked the name only, so that the copies'
   * figures add up to the lockouts there were.
   */
  private long count(State s, long now, boolean here) {
    s.consecutive++;
    s.failures.addLast(now);
    while (!s.failures.isEmpty() && s.failures.peekFirst() <= now - rules.window().toMillis()) {
      s.failures.removeFirst();
    }
    if (s.failures.size() >= rules.lockAfter()) {
      s.failures.clear();
      s.lockedUntil = now + rules.lockFor().toMillis();
      if (here) {
        lockouts.inc();
      }
      return s.lockedUntil;
    }
    return 0;
  }

  /**
   * Forgets the failures of a name: a successful login, a new password set by an administrator, an
   * unlock (here or at another copy).
   *
   * @param name the user name
   * @return whether it had failures to forget (or was locked)
   */
  synchronized boolean succeeded(String name) {
    return names.remove(name) != null;
  }

  /**
   * @param name a user name
   * @param now the time (ms)
   * @return when its lock ends, or 0 when it is not locked
   */
  synchronized long lockedUntil(String name, long now) {
    State s = names.get(name);
    return s != null && s.lockedUntil > now ? s.lockedUntil : 0;
  }

  /**
   * @param name a user name
   * @return its failures counted within the window and not yet answered by a lock (tests)
   */
  synchronized int failuresOf(String name) {
    State s = names.get(name);
    return s == null ? 0 : s.failures.size();
  }

  /** @return names tracked */
  synchronized int size() {
    return names.size();
  }

  /** @return whether another name may be tracked, after forgetting idle ones if need be; if not, counted */
  private boolean roomForAnother(long now) {
    if (names.size() >= rules.maxNames()) {
      forgetIdle(now);
      if (names.size() >= rules.maxNames()) {
        full.inc();
        return false;
      }
    }
    return true;
  }

  private void forgetIdle(long now) {
    long since = now - rules.window().toMillis();
    for (Iterator<State> it = names.values().iterator(); it.hasNext(); ) {
      State s = it.next();
      boolean recent = !s.failures.isEmpty() && s.failures.peekLast() > since;
      if (!s.inFlight && s.lockedUntil <= now && !recent) {
        it.remove();
      }
    }
  }
}
