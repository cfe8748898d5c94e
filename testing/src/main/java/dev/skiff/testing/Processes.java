package dev.skiff.testing;

import java.util.Collection;
import java.util.concurrent.TimeUnit;

/** What tests that run real processes (a kernel, services, {@code bin/skiff}) share. */
public final class Processes {
  /** How long a process asked to stop may take before it is killed, in seconds. */
  static final long STOP_GRACE_SECONDS = 20;

  private Processes() {}

  /**
   * Stops a test's processes: asks every one to stop (SIGTERM) first, so that they stop side by side, then
   * waits for each up to 20 s and kills (SIGKILL) one that has not exited by then.
   *
   * @param processes the processes the test started
   * @throws InterruptedException if interrupted while waiting for one
   */
  public static void stopAll(Collection<Process> processes) throws InterruptedException {
    for (Process p : processes) {
      p.destroy();
    }
    for (Process p : processes) {
      if (!p.waitFor(STOP_GRACE_SECONDS, TimeUnit.SECONDS)) {
        p.destroyForcibly();
      }
    }
  }
}
