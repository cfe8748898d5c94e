package dev.skiff.platform.health;

import dev.skiff.platform.server.ServerBuilder;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;

/**
 * A healthcheck: extend it, implement {@link #check()}, and register it ({@code
 * ServerBuilder.healthCheck(name, check)} or {@link HealthChecks#register}). A check that throws is
 * unhealthy, with the exception as its cause; either way the result carries how long the check took.
 *
 * <pre>{@code
 * class DiskSpace extends HealthCheck {
 *   protected Result check() {
 *     long free = new File("/var/data").getUsableSpace();
 *     return free > 1L << 30 ? Result.healthy(free + " bytes free") : Result.unhealthy("only " + free + " bytes free");
 *   }
 *   public Priority priority() { return Priority.PAGE; }
 *   public Duration interval() { return Duration.ofMinutes(1); }
 * }
 * }</pre>
 *
 * <p>Checks run on the service's health thread, one at a time, each at its own {@link #interval()}: a
 * check should be quick and must not wait for long (bound any I/O it does).
 */
public abstract class HealthCheck {
  /** The interval of a check that does not name its own: 10 seconds. */
  public static final Duration DEFAULT_INTERVAL = Duration.ofSeconds(10);

  /** For subclasses. */
  protected HealthCheck() {}

  /**
   * Checks the thing.
   *
   * @return the result (healthy or not)
   * @throws Exception anything: the result is then unhealthy, with the exception as its cause
   */
  protected abstract Result check() throws Exception;

  /** @return who must hear when this check fails (default {@link Priority#NOTIFY}) */
  public Priority priority() {
    return Priority.NOTIFY;
  }

  /** @return how often the check runs (default {@link #DEFAULT_INTERVAL}) */
  public Duration interval() {
    return DEFAULT_INTERVAL;
  }

  /**
   * Runs the check, turning an exception into an unhealthy result, and times it.
   *
   * @return the result, with its duration and time
   */
  public final Result execute() {
    long start = System.nanoTime();
    Result r;
    try {
      r = check();
      if (r == null) {
        r = Result.unhealthy(getClass().getName() + ".check() returned no result");
      }
    } catch (Exception | LinkageError | AssertionError e) {
      r = Result.unhealthy(e);
    }
    return r.timed(Duration.ofNanos(System.nanoTime() - start), Instant.now());
  }

  /**
   * A check's outcome. Immutable.
   *
   * @param healthy whether all is well
   * @param message why, in a sentence ("" when there is nothing to say)
   * @param error the exception the check threw, or null
   * @param duration how long the check took
   * @param checkedAt when it finished
   */
  public record Result(boolean healthy, String message, Throwable error, Duration duration, Instant checkedAt) {
    /** Checks the arguments. */
    public Result {
      Objects.requireNonNull(message, "message");
      Objects.requireNonNull(duration, "duration");
      Objects.requireNonNull(checkedAt, "checkedAt");
    }

    /**
     * @param message what was found
     * @return a healthy result
     */
    public static Result healthy(String message) {
      return new Result(true, message, null, Duration.ZERO, Instant.EPOCH);
    }

    /**
     * @param message what is wrong
     * @return an unhealthy result
     */
    public static Result unhealthy(String message) {
      return new Result(false, message, null, Duration.ZERO, Instant.EPOCH);
    }

    /**
     * @param error what the check threw
     * @return an unhealthy result whose message is the exception's
     */
    public static Result unhealthy(Throwable error) {
      String m = error.getMessage() == null ? error.getClass().getSimpleName() : error.getMessage();
      return new Result(false, m, error, Duration.ZERO, Instant.EPOCH);
    }

    Result timed(Duration took, Instant at) {
      return new Result(healthy, message, error, took, at);
    }
  }
}
