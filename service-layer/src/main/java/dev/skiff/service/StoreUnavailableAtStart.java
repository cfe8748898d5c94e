package dev.skiff.service;

import dev.skiff.platform.ExitCodes;

/**
 * A store that a client was told to require at start did not answer within the wait given. Its message
 * is one line, fit for an operator: a main method prints it and exits with
 * {@link ExitCodes#DEPENDENCY_UNAVAILABLE}.
 */
public final class StoreUnavailableAtStart extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** @param message one line naming the store, where it was looked for, how long, and why it failed */
  public StoreUnavailableAtStart(String message) {
    super(message.replaceAll("\\s+", " ").trim(), null, false, false);
  }
}
