package dev.skiff.cli;

import java.io.BufferedReader;
import java.io.Console;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;

/**
 * Reads a password: typed at the terminal without echo when {@code skiff} runs in one, else the next
 * line of standard input (for scripts: {@code echo "$PW" | skiff login admin}). Never echoed, logged or
 * put in an error.
 */
final class PasswordPrompt {
  /** The longest line read as a password (the login service refuses longer ones anyway). */
  static final int MAX_CHARS = 1024;

  private final InputStream in;
  private final CommandSpec spec;
  private BufferedReader lines;

  /**
   * @param in standard input, as {@code skiff} was given it
   * @param spec the command, for usage errors
   */
  PasswordPrompt(InputStream in, CommandSpec spec) {
    this.in = in;
    this.spec = spec;
  }

  /**
   * @param prompt what to ask at the terminal
   * @param option the option or argument the password is for, for errors
   * @return the password
   * @throws ParameterException when none is given
   */
  String read(String prompt, String option) {
    Console console = in == System.in ? System.console() : null;
    String pw;
    if (console != null) {
      char[] typed = console.readPassword("%s", prompt);
      pw = typed == null ? null : new String(typed);
      if (typed != null) {
        Arrays.fill(typed, ' ');
      }
    } else {
      pw = nextLine();
    }
    if (pw == null || pw.isEmpty()) {
      throw new ParameterException(spec.commandLine(), option + ": no password given (type it at the prompt, or give it as a line on standard input)");
    }
    if (pw.length() > MAX_CHARS) {
      throw new ParameterException(spec.commandLine(), option + ": the password is longer than " + MAX_CHARS + " characters");
    }
    return pw;
  }

  /**
   * Reads a new password, twice at a terminal so that a typing mistake is caught, once from a pipe.
   *
   * @param what whose password, for the prompt
   * @return the password
   * @throws ParameterException when none is given or the two differ
   */
  String readNew(String what) {
    String first = read("New password for " + what + ": ", "new password");
    if (in == System.in && System.console() != null) {
      String again = read("Again: ", "new password");
      if (!again.equals(first)) {
        throw new ParameterException(spec.commandLine(), "the two passwords differ: nothing was changed");
      }
    }
    return first;
  }

  private String nextLine() {
    try {
      if (lines == null) {
        lines = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
      }
      StringBuilder b = new StringBuilder();
      int c;
      while ((c = lines.read()) >= 0 && c != '\n') {
        if (b.length() > MAX_CHARS) {
          return b.toString(); // too long: refused by the caller, without reading on
        }
        b.append((char) c);
      }
      if (c < 0 && b.length() == 0) {
        return null;
      }
      int end = b.length();
      if (end > 0 && b.charAt(end - 1) == '\r') {
        b.setLength(end - 1);
      }
      return b.toString();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the password from standard input", e);
    }
  }
}
