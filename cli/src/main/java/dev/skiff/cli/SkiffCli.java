package dev.skiff.cli;

import dev.skiff.kernel.http.CannotListen;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.Callee;
import dev.skiff.platform.internal.Printable;
import dev.skiff.platform.security.ServiceIdentities;
import dev.skiff.platform.internal.Release;
import dev.skiff.platform.transport.amqp.AmqpOptions;
import dev.skiff.platform.ErrorCode;
import java.io.InputStream;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.Spec;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * The {@code skiff} command: calls endpoints of Skiff services from a shell, and drives load against
 * them. See docs/cli.md.
 *
 * <p>{@link #main(String[])} exits the JVM with the command's exit code; {@link #run} is the same without
 * the exit, with the output streams and environment given, for tests and for embedding.
 */
@Command(
    name = "skiff",
    mixinStandardHelpOptions = true,
    versionProvider = SkiffCli.Version.class,
    description = "Calls Skiff services (protobuf RPC over RabbitMQ) from the command line.",
    synopsisSubcommandLabel = "COMMAND",
    subcommands = {NewCommand.class, CallCommand.class, LoadCommand.class, ServicesCommand.class, RouteCommand.class, HealthCommand.class, TraceCommand.class, KernelCommand.class, GatewayCommand.class, CredentialsCommand.class, DeadLettersCommand.class, LoginCommand.class, LogoutCommand.class, WhoAmICommand.class, UsersCommand.class, ConfigCommand.class, CommandLine.HelpCommand.class},
    footerHeading = "%nBroker (every command): its own --amqp URI, else $SKIFF_AMQP_URI, else%n  "
        + AmqpOptions.DEFAULT_URI + "%n"
        + "Session (every command sends it): 'skiff login USER' keeps it in%n  $" + SessionFile.ENV
        + ", else $XDG_CONFIG_HOME/skiff/token, else ~/.config/skiff/token%n",
    footer = {
      "",
      "Exit codes:",
      "  0   success",
      "  1   a call failed: CODE: description is on stderr (load: any call failed;",
      "      kernel, gateway: could not start, e.g. the port is in use)",
      "  2   usage error: unknown command or option, missing or invalid argument",
      "  3   no connection to the broker: it could not be reached, or it refused the",
      "      broker URI's user, password or virtual host; nothing was sent",
      "  4   not signed in, or the session expired or was revoked (skiff login USER)",
      "  5   signed in, but not allowed (skiff whoami shows your roles)",
      "  70  internal error in skiff itself",
      "",
      "See docs/cli.md."
    })
public final class SkiffCli implements Callable<Integer> {
  /** Exit code: the command succeeded. */
  public static final int EXIT_OK = 0;
  /**
   * Exit code: the call failed (for {@code load}: at least one call failed; for {@code kernel} and
   * {@code gateway}: they could not start, e.g. their port is in use).
   */
  public static final int EXIT_CALL_FAILED = 1;
  /** Exit code: the command line is wrong. */
  public static final int EXIT_USAGE = 2;
  /** Exit code: the broker could not be reached, or refused the connection, so nothing was sent. */
  public static final int EXIT_BROKER_UNREACHABLE = 3;
  /** Exit code: the call was refused as not authenticated (no session, or one expired or revoked). */
  public static final int EXIT_UNAUTHORIZED = 4;
  /** Exit code: the call was refused as not allowed for the signed-in user or the calling tool. */
  public static final int EXIT_FORBIDDEN = 5;
  /** Exit code: a bug in the command itself (sysexits' EX_SOFTWARE). */
  public static final int EXIT_INTERNAL = 70;

  private final Map<String, String> env;
  private final InputStream in;

  @Spec CommandSpec spec;

  SkiffCli(Map<String, String> env, InputStream in) {
    this.env = Map.copyOf(env);
    this.in = in;
  }

  /** @return where passwords are read from when they are not typed at a terminal */
  InputStream in() {
    return in;
  }

  /** @return the environment variables the command reads ({@code SKIFF_AMQP_URI}) */
  Map<String, String> env() {
    return env;
  }

  /** {@code skiff} alone: a usage error, as a command is required. */
  @Override
  public Integer call() {
    throw new ParameterException(spec.commandLine(), "Missing command: use 'skiff new', 'skiff call', 'skiff load', 'skiff services', 'skiff route', 'skiff health', 'skiff trace', 'skiff kernel', 'skiff login' or 'skiff credentials' (skiff --help lists them all)");
  }

  /**
   * Runs the command and exits the JVM with its exit code.
   *
   * @param args the command line
   */
  public static void main(String[] args) {
    if (args.length > 0 && (args[0].equals("kernel") || args[0].equals("gateway"))) {
      // before anything makes a logger: building the command line loads classes that make theirs
      KernelCommand.logAsALongRunningCommand();
    }
    PrintWriter out = new PrintWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8), true);
    PrintWriter err = new PrintWriter(new OutputStreamWriter(System.err, StandardCharsets.UTF_8), true);
    int code = run(args, out, err, System.getenv());
    System.exit(code);
  }

  /**
   * Runs the command without exiting.
   *
   * @param args the command line
   * @param out where results go
   * @param err where errors and diagnostics go
   * @param env the environment variables to read (e.g. {@code SKIFF_AMQP_URI})
   * @return the exit code (see the {@code EXIT_*} constants)
   */
  public static int run(String[] args, PrintWriter out, PrintWriter err, Map<String, String> env) {
    return run(args, System.in, out, err, env);
  }

  /**
   * Runs the command without exiting, reading passwords from the given input when they are not typed at
   * a terminal.
   *
   * @param args the command line
   * @param in where passwords come from ({@code skiff login}, {@code skiff users}) unless typed at the
   *     terminal
   * @param out where results go
   * @param err where errors and diagnostics go
   * @param env the environment variables to read (e.g. {@code SKIFF_AMQP_URI})
   * @return the exit code (see the {@code EXIT_*} constants)
   */
  public static int run(String[] args, InputStream in, PrintWriter out, PrintWriter err, Map<String, String> env) {
    CommandLine cl = commandLine(env, in);
    cl.setOut(out);
    cl.setErr(err);
    try {
      return cl.execute(args);
    } finally {
      out.flush();
      err.flush();
    }
  }

  static CommandLine commandLine(Map<String, String> env) {
    return commandLine(env, System.in);
  }

  static CommandLine commandLine(Map<String, String> env, InputStream in) {
    CommandLine cl = new CommandLine(new SkiffCli(env, in));
    cl.setExpandAtFiles(false);
    cl.setParameterExceptionHandler(SkiffCli::onUsageError);
    cl.setExecutionExceptionHandler(SkiffCli::onUnexpected);
    // one house style for every command's help: options in the order they are declared, a blank line
    // before each section
    for (CommandLine sub : cl.getSubcommands().values()) {
      sub.getCommandSpec().usageMessage().sortOptions(false).headerHeading("%n").synopsisHeading("%nUsage: ").descriptionHeading("%n");
    }
    HelpProse.apply(cl);
    return cl;
  }

  /**
   * Prints a failed call the way every command does: {@code CODE: description}, without passwords, and
   * with the description (which may come from another process) escaped for the terminal.
   *
   * @param err where to print
   * @param e the failure
   */
  static void printError(PrintWriter err, SkiffException e) {
    err.println(e.code() + ": " + Printable.text(AmqpOptions.redact(e.description())));
    kernelHint(e).ifPresent(err::println);
    if (e.code() == ErrorCode.UNAUTHORIZED) {
      err.println("(sign in with 'skiff login USER'; 'skiff whoami' shows the session this command sent)");
    } else if (e.code() == ErrorCode.FORBIDDEN && e.description().contains("ACCESS_REFUSED")) {
      // the broker's refusal, not the person's roles: the broker user this command connects as may not
      err.println("(the broker refused the broker user this command connects as: give one that may, with --amqp; docs/security.md)");
    } else if (e.code() == ErrorCode.FORBIDDEN) {
      err.println("(signed in, but not allowed: 'skiff whoami' shows your roles)");
    }
  }

  /**
   * The hint for a call to a kernel service that no copy of it answered (no queue, no reply in time, the
   * client's breaker open): every command that calls one says the same, whatever its timeout.
   *
   * @param e a failed call
   * @return the hint, when the failure is that
   */
  static Optional<String> kernelHint(SkiffException e) {
    Optional<Callee> callee = e.callee();
    if (callee.isEmpty() || !e.service().isEmpty()) {
      return Optional.empty(); // not a call, or answered by the service itself
    }
    String service = callee.get().service();
    if (!service.startsWith(ServiceIdentities.KERNEL_PREFIX) || service.equals(ServiceIdentities.GATEWAY_SERVICE)) {
      return Optional.empty();
    }
    String name = service.substring(ServiceIdentities.KERNEL_PREFIX.length());
    return switch (e.code()) {
      case NOT_FOUND -> Optional.of("(the " + name + " service is not running: start it with 'skiff kernel' or 'skiff kernel " + name + "')");
      case TIMEOUT, UNAVAILABLE, CIRCUIT_OPEN -> Optional.of("(the " + name + " service (" + service + ") did not answer: is the "
          + "kernel running? start it with 'skiff kernel' or 'skiff kernel " + name + "')");
      default -> Optional.empty();
    };
  }

  /**
   * @param e a failed call
   * @return the exit code it ends a command with: {@link #EXIT_UNAUTHORIZED}, {@link #EXIT_FORBIDDEN}, else
   *     {@link #EXIT_CALL_FAILED}
   */
  static int exitCode(SkiffException e) {
    return switch (e.code()) {
      case UNAUTHORIZED -> EXIT_UNAUTHORIZED;
      case FORBIDDEN -> EXIT_FORBIDDEN;
      default -> EXIT_CALL_FAILED;
    };
  }

  private static int onUsageError(ParameterException ex, String[] args) {
    CommandLine cmd = ex.getCommandLine();
    PrintWriter err = cmd.getErr();
    if (ex instanceof CommandLine.MissingParameterException) {
      // picocli checks what is missing before what it did not know: an unknown option in the parameters'
      // place is the likelier mistake, so it is named first
      for (String unknown : cmd.getUnmatchedArguments()) {
        if (unknown.startsWith("-")) {
          err.println("skiff: Unknown option: '" + Printable.of(AmqpOptions.redact(unknown), 60) + "'");
        }
      }
    }
    err.println("skiff: " + Printable.text(AmqpOptions.redact(String.valueOf(ex.getMessage()))));
    if (cmd.getParent() == null && args.length > 0 && (args[0].equals("--amqp") || args[0].startsWith("--amqp="))) {
      err.println("(--amqp is each command's option: put it after the command, e.g. 'skiff services --amqp URI')");
    }
    UnmatchedArgumentException.printSuggestions(ex, err);
    err.println("Try '" + cmd.getCommandSpec().qualifiedName() + " --help' for more information.");
    err.flush();
    return EXIT_USAGE;
  }

  private static int onUnexpected(Exception ex, CommandLine cmd, ParseResult parsed) {
    PrintWriter err = cmd.getErr();
    if (ex instanceof BrokerUnreachable u) {
      // not printError: its hints are of a person's session and roles, and this is the broker's refusal
      err.println(u.error().code() + ": " + Printable.text(AmqpOptions.redact(u.error().description())));
      u.hint().ifPresent(err::println);
      err.flush();
      return EXIT_BROKER_UNREACHABLE;
    }
    if (ex instanceof SkiffException e) {
      printError(err, e);
      err.flush();
      return exitCode(e);
    }
    if (ex instanceof CannotListen c) {
      err.println("skiff: " + Printable.text(c.getMessage()) + "; choose another port (see 'skiff "
          + cmd.getCommandName() + " --help')");
      err.flush();
      return EXIT_CALL_FAILED;
    }
    if (ex instanceof SessionFile.Unusable u) {
      err.println("skiff: " + u.getMessage());
      err.flush();
      return EXIT_USAGE;
    }
    StringWriter trace = new StringWriter();
    ex.printStackTrace(new PrintWriter(trace));
    err.println("skiff: internal error: " + Printable.text(AmqpOptions.redact(ex.toString())));
    for (String line : AmqpOptions.redact(trace.toString()).split("\\R")) { // a message may quote remote text
      err.println(line.startsWith("\t") ? "\t" + Printable.text(line.substring(1)) : Printable.text(line));
    }
    err.flush();
    return EXIT_INTERNAL;
  }

  /** {@code skiff --version}: the build's version, from a resource filtered at build time. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {
        "skiff " + version(),
        "Java " + System.getProperty("java.version") + " (" + System.getProperty("java.vm.name") + ")"
      };
    }

    static String version() {
      String v = Release.version();
      return v.equals(Release.UNKNOWN) ? "(unknown version)" : v;
    }
  }
}
