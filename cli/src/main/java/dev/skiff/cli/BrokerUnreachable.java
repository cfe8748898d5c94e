package dev.skiff.cli;

import dev.skiff.platform.SkiffException;

/**
 * The chosen broker cannot be reached: thrown by {@link BrokerOption.Broker}'s connect methods, and
 * turned by {@link SkiffCli} into the error line and exit code {@link SkiffCli#EXIT_BROKER_UNREACHABLE}
 * that every command shares.
 */
final class BrokerUnreachable extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final transient SkiffException error;

  BrokerUnreachable(SkiffException error) {
    super(error.getMessage(), error);
    this.error = error;
  }

  /** @return why, with the detail the platform leaves in the cause */
  SkiffException error() {
    return error;
  }
}
