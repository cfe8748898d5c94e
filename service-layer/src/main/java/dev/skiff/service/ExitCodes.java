package dev.skiff.service;

/** Exit codes of Skiff services' main methods. */
public final class ExitCodes {
  /**
   * A dependency the service requires at start did not answer in time (75, EX_TEMPFAIL of sysexits.h:
   * a temporary failure, worth retrying later).
   */
  public static final int DEPENDENCY_UNAVAILABLE = 75;

  private ExitCodes() {}
}
