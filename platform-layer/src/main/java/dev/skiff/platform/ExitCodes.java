package dev.skiff.platform;

/**
 * The exit codes a Skiff process ends with when it cannot run, so that a supervisor (systemd, Kubernetes,
 * a script) can tell a missing dependency from a crash. Values from BSD's {@code sysexits.h}.
 */
public final class ExitCodes {
  /**
   * A dependency the service needs at start (the broker; a store it declares required) could not be
   * reached within the time it was given: {@code EX_TEMPFAIL}, "try again later".
   */
  public static final int DEPENDENCY_UNAVAILABLE = 75;

  /**
   * The process is configured wrong for where it runs: the broker refused its credentials, or its broker
   * user may not use its own queues. Trying again will not help: {@code EX_CONFIG}, so that a supervisor
   * does not restart it in a loop as it would for an outage.
   */
  public static final int CONFIGURATION = 78;

  private ExitCodes() {}
}
