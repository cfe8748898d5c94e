package dev.skiff.cli;

import java.time.Duration;
import picocli.CommandLine.Help.Visibility;
import picocli.CommandLine.Option;

/** The {@code --timeout} option of the commands that wait for an answer. */
final class TimeoutOption {
  @Option(
      names = "--timeout",
      paramLabel = "DURATION",
      defaultValue = "5s",
      converter = DurationConverter.class,
      showDefaultValue = Visibility.ALWAYS,
      description = "How long to wait for the answer to a call: 250ms, 2s, 1.5s, 1m.")
  Duration timeout;

  /** @return the timeout given, or the default */
  Duration get() {
    return timeout;
  }
}
