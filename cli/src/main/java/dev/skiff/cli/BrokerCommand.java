package dev.skiff.cli;

import dev.skiff.kernel.login.LoginService;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.security.ServiceIdentities;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import dev.skiff.proto.v1.RenewRequest;
import dev.skiff.proto.v1.Session;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import java.util.function.ToIntFunction;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * What every {@code skiff} command shares: its place under {@code skiff} (for the environment it
 * reads), the {@code --amqp} option and how the broker is chosen from it, the session {@code skiff login}
 * kept (sent with every call, renewed when it nears its expiry), {@code -h}, and its output streams. A
 * command that cannot reach the broker exits 3 without a line of its own ({@link BrokerUnreachable}).
 */
abstract class BrokerCommand implements Callable<Integer> {
  /** A session this close to its expiry is renewed before a command uses it. */
  static final Duration RENEW_BEFORE = Duration.ofMinutes(5);

  /** The options of a command's call to a kernel service (login, config, binding). */
  static final CallOptions KERNEL_CALL = CallOptions.timeout(Duration.ofSeconds(10));

  @Spec CommandSpec spec;

  @Mixin BrokerOption broker;

  @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
  boolean help;

  /** @return the broker chosen by {@code --amqp}, {@code SKIFF_AMQP_URI} or the default */
  BrokerOption.Broker broker() {
    return broker.resolve(env(), spec);
  }

  /** @return the environment variables the command reads (those given to {@code skiff}) */
  Map<String, String> env() {
    return root().env();
  }

  /** @return the {@code skiff} command this one runs under */
  SkiffCli root() {
    return (SkiffCli) spec.root().userObject();
  }

  /** @return where the session of {@code skiff login} is kept */
  SessionFile sessionFile() {
    return SessionFile.of(env());
  }

  /**
   * @return a client on the broker chosen ({@link #broker()}) that owns its connection and sends the
   *     session kept, if any; close it to disconnect
   * @throws BrokerUnreachable when the broker cannot be reached (the command then exits 3)
   */
  Client connect() {
    return connect(broker());
  }

  /**
   * @param b the broker
   * @return a client on it that owns its connection and sends the session kept, if any
   * @throws BrokerUnreachable when the broker cannot be reached (the command then exits 3)
   */
  Client connect(BrokerOption.Broker b) {
    return clientBuilder(b.connectTransport()).build();
  }

  /**
   * @param transport a connection the client is to own
   * @return a builder of a client on it that sends the session kept, renewed first if it nears its
   *     expiry; without one, calls go without a person (open endpoints and, for a service's user, those
   *     open to services)
   */
  Client.Builder clientBuilder(AmqpTransport transport) {
    Client.Builder b = clientOn(transport).ownTransport();
    sessionToken(transport).ifPresent(b::userToken);
    return b;
  }

  /**
   * @param transport a connection
   * @return a builder of a client on it (not owning it) with the identities of the environment and no
   *     session: the commands that handle the session themselves add the one they send, if any
   */
  Client.Builder clientOn(AmqpTransport transport) {
    return Client.builder().transport(transport).identities(ServiceIdentities.fromEnvironment(env()));
  }

  private Optional<String> sessionToken(AmqpTransport transport) {
    SessionFile file = sessionFile();
    Optional<Session> kept = file.read();
    if (kept.isEmpty()) {
      return Optional.empty();
    }
    Session s = kept.get();
    long now = System.currentTimeMillis();
    if (s.getExpiresAtMs() > 0 && now >= s.getExpiresAtMs()) {
      // sent, it could only be refused: the command goes as no one (what needs no session still works)
      err().println("skiff: the session kept in " + file.path() + " expired at " + WhoAmICommand.time(s.getExpiresAtMs())
          + "; this command goes without it (sign in again with 'skiff login USER')");
      return Optional.empty();
    }
    boolean due = now < s.getExpiresAtMs() && now > s.getExpiresAtMs() - RENEW_BEFORE.toMillis()
        && s.getExpiresAtMs() < s.getSessionEndsAtMs();
    if (due) {
      try (Client renewing = clientOn(transport).userToken(s.getToken()).build()) {
        Session renewed = renewing.call(LoginService.SERVICE, "renew", RenewRequest.getDefaultInstance(), Session.class,
            CallOptions.timeout(Duration.ofSeconds(5)));
        file.write(renewed);
        return Optional.of(renewed.getToken());
      } catch (SkiffException e) {
        // the command goes on with the session as it is; its own call says what is wrong with it
        err().println("skiff: could not renew the session (" + e.code() + "); it expires soon");
      }
    }
    return Optional.of(s.getToken());
  }

  /**
   * Runs a command's calls on a client of {@link #connect()}, closed after.
   *
   * @param work the calls, returning the command's exit code
   * @return that exit code; when a call fails, the failure's ({@link #failed})
   * @throws BrokerUnreachable when the broker cannot be reached (the command then exits 3)
   */
  int withClient(ToIntFunction<Client> work) {
    try (Client client = connect()) {
      return work.applyAsInt(client);
    } catch (SkiffException e) {
      return failed(e);
    }
  }

  /**
   * Prints a failed call's error.
   *
   * @param e the failure
   * @return the exit code it ends the command with ({@link SkiffCli#exitCode})
   */
  int failed(SkiffException e) {
    SkiffCli.printError(err(), e);
    return SkiffCli.exitCode(e);
  }

  /**
   * Reads or checks what the command was given with code that refuses a bad value with an
   * {@link IllegalArgumentException}: the refusal is a usage error (exit 2) with its message.
   *
   * @param read reads or checks the value
   * @return the value read
   * @throws ParameterException when it is refused
   */
  <T> T given(Supplier<T> read) {
    try {
      return read.get();
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage());
    }
  }

  /**
   * Reads a secret given on standard input rather than in the command line (out of the shell's history
   * and the process list).
   *
   * @param option the option or argument it is for, for errors ({@code --password-stdin})
   * @param what what it is, for errors ({@code password})
   * @return the first line of the standard input {@code skiff} was given
   * @throws ParameterException when there is no such line or it cannot be read
   */
  String stdinLine(String option, String what) {
    try {
      String line = new BufferedReader(new InputStreamReader(root().in(), StandardCharsets.UTF_8)).readLine();
      if (line == null || line.isEmpty()) {
        throw new ParameterException(spec.commandLine(), option + ": no " + what + " on stdin");
      }
      return line;
    } catch (IOException e) {
      throw new ParameterException(spec.commandLine(), option + ": stdin cannot be read (" + e.getClass().getSimpleName() + ")");
    }
  }

  /** @return where results go */
  PrintWriter out() {
    return spec.commandLine().getOut();
  }

  /** @return where errors and diagnostics go */
  PrintWriter err() {
    return spec.commandLine().getErr();
  }
}
