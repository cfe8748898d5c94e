package dev.skiff.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * Every command's help, rendered as {@code --help} renders it: no text that picocli cannot format (a
 * {@code %} in an example is a format specifier to it, and it says so on standard error), and each ends
 * with its exit codes; and every command takes {@code --help}, as every usage error tells the user to try it.
 */
class HelpTextTest {
  private static void collect(CommandLine cl, List<CommandLine> into) {
    into.add(cl);
    for (CommandLine sub : cl.getSubcommands().values()) {
      if (!into.contains(sub)) {
        collect(sub, into);
      }
    }
  }

  @Test
  void everyCommandsHelpRendersWithoutAWarning() {
    List<CommandLine> all = new ArrayList<>();
    collect(SkiffCli.commandLine(Map.of()), all);
    assertThat(all).hasSizeGreaterThan(20);
    PrintStream stderr = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    List<String> noExitCodes = new ArrayList<>();
    List<String> noHelpOption = new ArrayList<>();
    List<String> noHeader = new ArrayList<>();
    System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      for (CommandLine cl : all) {
        String usage = cl.getUsageMessage(CommandLine.Help.Ansi.OFF);
        boolean picocliOwn = cl.getCommand() instanceof CommandLine.HelpCommand;
        if (!picocliOwn && !cl.getCommandSpec().optionsMap().containsKey("--help")) {
          noHelpOption.add(cl.getCommandSpec().qualifiedName());
        }
        if (!picocliOwn && cl.getParent() != null && cl.getCommandSpec().usageMessage().header().length == 0) {
          // the list of commands shows a command's header, else its description's first line, cut where it wraps
          noHeader.add(cl.getCommandSpec().qualifiedName());
        }
        if (!usage.contains("Exit codes:") && cl.getSubcommands().isEmpty() && !picocliOwn) {
          noExitCodes.add(cl.getCommandSpec().qualifiedName());
        }
      }
    } finally {
      System.setErr(stderr);
    }
    // only picocli's own lines: another test's threads may still log to standard error meanwhile
    assertThat(captured.toString(StandardCharsets.UTF_8).lines().filter(l -> l.contains("[picocli")))
        .as("what picocli said while rendering the help").isEmpty();
    assertThat(noExitCodes).as("commands whose help does not list their exit codes").isEmpty();
    assertThat(noHelpOption).as("commands without --help (their errors say 'Try ... --help')").isEmpty();
    assertThat(noHeader).as("commands without a one-line header for their parent's list").isEmpty();
  }

  /**
   * Every command's help reads cleanly at picocli's 80 columns: no line is longer, no word is broken in
   * two (picocli breaks a long word after a '.' or ':': "a .\ngitignore"; the words at 80 columns are the
   * words of the same help rendered wide), and no line ends early, before a word that would have fit on
   * it (a hard line break in the middle of a wrapped sentence).
   */
  @Test
  void everyCommandsHelpReadsCleanlyAt80Columns() {
    List<CommandLine> all = new ArrayList<>();
    collect(SkiffCli.commandLine(Map.of()), all);
    List<String> problems = new ArrayList<>();
    for (CommandLine cl : all) {
      String name = cl.getCommandSpec().qualifiedName();
      String narrow = cl.getUsageMessage(CommandLine.Help.Ansi.OFF);
      cl.setUsageHelpWidth(1000);
      String wide;
      try {
        wide = cl.getUsageMessage(CommandLine.Help.Ansi.OFF);
      } finally {
        cl.setUsageHelpWidth(80);
      }
      if (!List.of(narrow.split("\\s+")).equals(List.of(wide.split("\\s+")))) {
        problems.add(name + ": a word is broken across lines: " + brokenWords(narrow, wide));
      }
      List<String> lines = narrow.lines().toList();
      boolean example = false;
      for (int i = 0; i < lines.size(); i++) {
        String line = lines.get(i);
        if (line.length() > 80) {
          problems.add(name + ": over 80 columns: " + line);
        }
        if (line.isBlank()) {
          example = false;
        } else if (line.matches("Examples?:")) {
          example = true;
        }
        String nextLine = i + 1 < lines.size() ? lines.get(i + 1) : "";
        String next = nextLine.strip();
        boolean heading = line.matches("[A-Z][A-Za-z ]*:");
        boolean nextIsARow = nextLine.matches(" {2}\\S+ {2,}\\S.*"); // a command of a list
        // (--amqp's description, BrokerOption's, is laid out line by line: "for a cluster," ends its first)
        if (!example && !heading && !nextIsARow && !line.isBlank() && next.matches("[a-z(].*")
            && !line.endsWith(" cluster,")
            && line.stripTrailing().length() + 1 + next.split("\\s+")[0].length() < 80) {
          problems.add(name + ": a line ends before a word that fits on it: '" + line + "' / '" + next + "'");
        }
      }
    }
    assertThat(problems).isEmpty();
  }

  private static List<String> brokenWords(String narrow, String wide) {
    List<String> w = List.of(wide.split("\\s+"));
    return java.util.Arrays.stream(narrow.split("\\s+")).filter(t -> !w.contains(t)).toList();
  }
}
