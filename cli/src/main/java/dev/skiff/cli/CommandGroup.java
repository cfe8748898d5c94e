package dev.skiff.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * A {@code skiff} command that only groups others ({@code skiff users add|roles|...}): {@code -h}, and run
 * alone, a usage error naming its commands.
 */
abstract class CommandGroup implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
  boolean help;

  /** The group alone: a usage error, as one of its commands is required. */
  @Override
  public Integer call() {
    List<String> names = new ArrayList<>(spec.subcommands().keySet());
    StringBuilder use = new StringBuilder("Missing command: use '").append(spec.qualifiedName()).append(' ').append(names.get(0)).append('\'');
    for (int i = 1; i < names.size(); i++) {
      use.append(i == names.size() - 1 ? " or '" : ", '").append(names.get(i)).append('\'');
    }
    throw new ParameterException(spec.commandLine(), use.toString());
  }
}
