package dev.skiff.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.awaitility.core.ConditionTimeoutException;

/**
 * Repeated outages of a store that a test owns (a private server process, never a shared one): each
 * cycle stops it (SIGTERM, or SIGKILL every third cycle), makes calls while it is gone, each of which
 * must fail fast with UNAVAILABLE, and starts it again after a random outage; every third cycle the
 * store comes back only briefly, while the client is in the middle of reconnecting, and goes again
 * before it returns for good. The recovery time of a cycle runs from the store answering a plain probe
 * to the client being fully working (the test's check passing), and must be within the bound in every
 * cycle. Prints one line of figures: cycles, outage lengths, recovery p50 and max.
 */
public final class FaultCycles {
  /** What the cycles do to the store. */
  public interface Store {
    /** Stops the store as an operator would (SIGTERM), waiting until it is gone. */
    void stop();

    /** Kills the store (SIGKILL), waiting until it is gone. */
    void kill();

    /** Starts the store and returns at once. */
    void startNoWait();

    /** @return whether the store answers a plain probe (its own protocol, a connection of its own) */
    boolean answers();
  }

  /**
   * How many cycles and how long.
   *
   * @param cycles the number of cycles
   * @param shortest the shortest outage
   * @param longest the longest outage (the first cycle's; the others are random between, log-uniform)
   * @param recoveryBound the client's documented recovery bound
   * @param callBound how long a call while the store is gone may take at most
   * @param seed the random seed (printed, to replay)
   */
  public record Plan(int cycles, Duration shortest, Duration longest, Duration recoveryBound, Duration callBound, long seed) {}

  /**
   * The figures of a run.
   *
   * @param outages every cycle's outage
   * @param recoveries every cycle's recovery time
   * @param calls calls made while the store was gone
   * @param slowestCall the slowest of those calls
   */
  public record Figures(List<Duration> outages, List<Duration> recoveries, int calls, Duration slowestCall) {
    /** @return the median recovery time */
    public Duration p50() {
      List<Duration> sorted = new ArrayList<>(recoveries);
      Collections.sort(sorted);
      return sorted.get((sorted.size() - 1) / 2);
    }

    /** @return the longest recovery time */
    public Duration max() {
      return Collections.max(recoveries);
    }
  }

  private FaultCycles() {}

  /**
   * Runs the cycles.
   *
   * @param name the store, for the printed line
   * @param store the store
   * @param plan cycles and durations
   * @param callWhileDown a call that needs the store (must throw SkiffException UNAVAILABLE while it is gone)
   * @param whatFails what of the client does not work yet (null once it is fully working again); may throw meanwhile
   * @return the figures
   */
  public static Figures run(String name, Store store, Plan plan, Callable<?> callWhileDown, Callable<String> whatFails) {
    Random random = new Random(plan.seed());
    List<Duration> outages = new ArrayList<>();
    List<Duration> recoveries = new ArrayList<>();
    int[] calls = {0};
    long[] slowest = {0};
    for (int cycle = 0; cycle < plan.cycles(); cycle++) {
      Duration outage = cycle == 0 ? plan.longest() : logUniform(random, plan.shortest(), plan.longest());
      boolean kill = cycle % 3 == 1;
      boolean flap = cycle % 3 == 2;
      awaitWorking(name + " works before cycle " + cycle, plan.recoveryBound(), whatFails);
      long started = System.nanoTime();
      if (kill) {
        store.kill();
      } else {
        store.stop();
      }
      callWhileGone(name, callWhileDown, plan.callBound(), started + outage.toNanos(), calls, slowest);
      if (flap) {
        // back briefly, while the client is reconnecting, then gone again
        store.startNoWait();
        await(name + " answers (brief return)").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(20)).until(store::answers);
        LockSupport.parkNanos(Duration.ofMillis(random.nextInt(400)).toNanos());
        store.kill();
        callWhileGone(name, callWhileDown, plan.callBound(), System.nanoTime() + Duration.ofMillis(1000 + random.nextInt(2000)).toNanos(), calls, slowest);
      }
      store.startNoWait();
      await(name + " answers").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(20)).until(store::answers);
      long back = System.nanoTime();
      outages.add(Duration.ofNanos(back - started));
      awaitWorking(name + " fully working within " + plan.recoveryBound() + " of answering again (cycle " + cycle + ", "
          + (kill ? "kill -9, " : flap ? "back briefly, " : "") + "outage " + seconds(Duration.ofNanos(back - started)) + ")",
          plan.recoveryBound(), whatFails);
      recoveries.add(Duration.ofNanos(System.nanoTime() - back));
      System.out.printf(Locale.ROOT, "fault cycle %s %d: %s, outage %s, fully working %d ms after it answered%n", name, cycle,
          kill ? "kill -9" : flap ? "stop, back briefly, kill -9" : "stop", seconds(outages.get(cycle)), recoveries.get(cycle).toMillis());
    }
    Figures f = new Figures(outages, recoveries, calls[0], Duration.ofNanos(slowest[0]));
    System.out.printf(Locale.ROOT,
        "FAULT CYCLES %s: %d cycles (%d kill -9, %d restarts while reconnecting), outages %s to %s (seed %d); "
            + "%d calls while down, all UNAVAILABLE, slowest %d ms; recovery p50 %d ms, max %d ms (bound %s)%n",
        name, plan.cycles(), (plan.cycles() + 1) / 3, plan.cycles() / 3, seconds(Collections.min(outages)), seconds(Collections.max(outages)),
        plan.seed(), f.calls(), f.slowestCall().toMillis(), f.p50().toMillis(), f.max().toMillis(), plan.recoveryBound());
    return f;
  }

  private static void awaitWorking(String what, Duration bound, Callable<String> whatFails) {
    AtomicReference<String> last = new AtomicReference<>();
    try {
      await(what).atMost(bound).pollInterval(Duration.ofMillis(50)).until(() -> {
        String fails;
        try {
          fails = whatFails.call();
        } catch (Exception e) {
          fails = e.toString();
        }
        last.set(fails);
        return fails == null;
      });
    } catch (ConditionTimeoutException e) {
      throw new AssertionError(what + ": still failing: " + last.get(), e);
    }
  }

  /**
   * Calls while the store is gone, until {@code until}: each call must end within {@code callBound}. A call
   * that races the loss (sent on a connection the client does not yet know is dead) may end in TIMEOUT
   * at its own timeout; once one call has been refused with UNAVAILABLE the client knows, and every later
   * call must be UNAVAILABLE too.
   */
  private static void callWhileGone(String name, Callable<?> call, Duration callBound, long until, int[] calls, long[] slowest) {
    boolean[] known = {false};
    do {
      long t0 = System.nanoTime();
      Throwable thrown = null;
      try {
        call.call();
      } catch (Exception e) {
        thrown = e;
      }
      long took = System.nanoTime() - t0;
      slowest[0] = Math.max(slowest[0], took);
      calls[0]++;
      assertThat(thrown).as(name + " call while the store is gone").isInstanceOfSatisfying(SkiffException.class, e -> {
        if (known[0]) {
          assertThat(e.code()).as("once the loss is known: " + e.getMessage()).isEqualTo(ErrorCode.UNAVAILABLE);
        } else {
          assertThat(e.code()).as("racing the loss: " + e.getMessage()).isIn(ErrorCode.UNAVAILABLE, ErrorCode.TIMEOUT);
        }
        known[0] |= e.code() == ErrorCode.UNAVAILABLE;
      });
      assertThat(Duration.ofNanos(took)).as(name + " call while the store is gone fails fast: " + thrown.getMessage())
          .isLessThanOrEqualTo(callBound);
      LockSupport.parkNanos(Duration.ofMillis(200).toNanos()); // the caller's pace, not a synchronisation
    } while (System.nanoTime() < until);
  }

  private static Duration logUniform(Random random, Duration lo, Duration hi) {
    double a = Math.log(lo.toMillis());
    double b = Math.log(hi.toMillis());
    return Duration.ofMillis(Math.round(Math.exp(a + random.nextDouble() * (b - a))));
  }

  private static String seconds(Duration d) {
    return String.format(Locale.ROOT, "%.1f s", d.toMillis() / 1000.0);
  }
}
