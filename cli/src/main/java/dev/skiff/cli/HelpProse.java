package dev.skiff.cli;

import java.util.IllegalFormatException;
import java.util.Locale;
import picocli.CommandLine;
import picocli.CommandLine.Model.UsageMessageSpec;

/**
 * Lays out every command's description, footer heading and footer for its help: each of their lines as written, and a
 * line too long for the help's width wrapped at spaces only, its continuation indented as the line is.
 * Picocli's own layout breaks a long word after a '.' or ':' ({@code a .} / {@code gitignore}) and starts
 * a wrapped line of a footer at the left edge.
 */
final class HelpProse {
  private HelpProse() {}

  /**
   * Makes {@code cl} and all its subcommands lay out their description, footer heading and footer with
   * {@link #wrap}.
   *
   * @param cl the command line
   */
  static void apply(CommandLine cl) {
    cl.getHelpSectionMap().put(UsageMessageSpec.SECTION_KEY_DESCRIPTION,
        help -> wrap(help.commandSpec().usageMessage().description(), help.commandSpec().usageMessage().width()));
    cl.getHelpSectionMap().put(UsageMessageSpec.SECTION_KEY_FOOTER_HEADING, help -> wrap(
        new String[] {help.commandSpec().usageMessage().footerHeading()}, help.commandSpec().usageMessage().width()).replaceFirst("\n$", ""));
    cl.getHelpSectionMap().put(UsageMessageSpec.SECTION_KEY_FOOTER,
        help -> wrap(help.commandSpec().usageMessage().footer(), help.commandSpec().usageMessage().width()));
    for (CommandLine sub : cl.getSubcommands().values()) {
      apply(sub);
    }
  }

  /**
   * @param lines lines of help text, each a format string as picocli reads it ({@code %n} a line break)
   * @param width the help's width: no line is as long
   * @return the lines, each ending with a line break, those too long broken at their last space that
   *     keeps them within {@code width} (a word longer than that stays whole), the rest indented as the line
   */
  static String wrap(String[] lines, int width) {
    StringBuilder out = new StringBuilder();
    for (String element : lines) {
      String text;
      try {
        text = String.format(Locale.ROOT, element);
      } catch (IllegalFormatException e) {
        text = element;
      }
      for (String line : text.split("\\R", -1)) {
        int indent = 0;
        while (indent < line.length() && line.charAt(indent) == ' ') {
          indent++;
        }
        String rest = line;
        while (rest.length() >= width) {
          int at = rest.lastIndexOf(' ', width - 1);
          if (at <= indent) {
            at = rest.indexOf(' ', width);
            if (at < 0) {
              break;
            }
          }
          out.append(rest, 0, at).append('\n');
          rest = " ".repeat(indent) + rest.substring(at).strip();
        }
        out.append(rest).append('\n');
      }
    }
    return out.toString();
  }
}
