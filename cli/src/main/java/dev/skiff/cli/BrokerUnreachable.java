package dev.skiff.cli;

import dev.skiff.platform.SkiffException;
import java.util.Optional;

/**
 * The chosen broker cannot be reached, or refuses the connection (its user name or password, or its
 * virtual host): thrown by {@link BrokerOption.Broker}'s connect methods, and turned by {@link SkiffCli}
 * into the error line, a hint where there is one, and the exit code
 * {@link SkiffCli#EXIT_BROKER_UNREACHABLE} that every command shares.
 */
final class BrokerUnreachable extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final transient SkiffException error;
  private final String hint;

  /**
   * @param error why, in the broker's words
   * @param hint what to change, in a line of its own; null when there is nothing to say
   */
  BrokerUnreachable(SkiffException error, String hint) {
    super(error.getMessage(), error);
    this.error = error;
    this.hint = hint;
  }

  /** @return why, in the broker's words */
  SkiffException error() {
    return error;
  }

  /** @return what to change, when the broker refused what the command was given */
  Optional<String> hint() {
    return Optional.ofNullable(hint);
  }
}
