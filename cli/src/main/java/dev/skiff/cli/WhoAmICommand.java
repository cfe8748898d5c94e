package dev.skiff.cli;

import dev.skiff.kernel.login.LoginService;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.internal.Printable;
import dev.skiff.proto.v1.Session;
import dev.skiff.proto.v1.WhoAmIRequest;
import java.io.PrintWriter;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code skiff whoami}: who the session kept signs in as, as the login service sees it now. */
@Command(
    name = "whoami",
    header = "Shows who the session kept by 'skiff login' signs in as, and its roles.",
    description = {"Asks the login service, so a session that expired or was revoked shows as such. With --token, prints "
        + "the session's token alone (checked by the login service first), for a tool that takes one: it is a secret, "
        + "good until it expires or you log out."},
    footer = {"", "Example:", "  curl -s localhost:8080/auth/v1/whoami -H \"Authorization: Bearer $(skiff whoami --token)\"", "",
        "Exit codes: 0 signed in, 1 login service not running, 3 no connection to the broker, 4 not signed in."})
final class WhoAmICommand extends BrokerCommand {
  /** What a login service token is: three base64url parts. */
  private static final Pattern COMPACT_JWS = Pattern.compile("[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+");

  @Option(names = "--token", description = "Print only the session's token (a secret), e.g. for an HTTP request's Authorization header.")
  boolean token;

  @Override
  public Integer call() {
    PrintWriter out = out();
    PrintWriter err = err();
    if (sessionFile().read().isEmpty()) {
      err.println("not signed in (no session in " + sessionFile().path() + "): sign in with 'skiff login USER'");
      return SkiffCli.EXIT_UNAUTHORIZED;
    }
    Session s;
    try (Client client = connect()) {
      s = client.call(LoginService.SERVICE, "whoami", WhoAmIRequest.getDefaultInstance(), Session.class, KERNEL_CALL);
    } catch (SkiffException e) {
      SkiffCli.printError(err, e);
      return SkiffCli.exitCode(e);
    }
    if (token) {
      // the one the login service just accepted: the kept one, renewed by connect() if it was due; a compact
      // JWS has nothing a terminal could take for a control sequence, anything else is not printed
      String t = sessionFile().read().map(Session::getToken).orElse("");
      if (!COMPACT_JWS.matcher(t).matches()) {
        err.println("skiff: the session kept in " + sessionFile().path() + " holds no token: sign in again with 'skiff login USER'");
        return SkiffCli.EXIT_UNAUTHORIZED;
      }
      out.println(t);
      return SkiffCli.EXIT_OK;
    }
    out.println(Printable.of(s.getUser()));
    out.println("  roles:   " + roles(s));
    if (s.getExpiresAtMs() > 0) {
      out.println("  expires: " + time(s.getExpiresAtMs()) + " (renewed by each command until " + time(s.getSessionEndsAtMs()) + ")");
    }
    return SkiffCli.EXIT_OK;
  }

  /** @return a session's time (epoch milliseconds) to the second, as {@code 2026-12-05T17:41:09Z} */
  static String time(long epochMillis) {
    return Instant.ofEpochMilli(epochMillis).truncatedTo(ChronoUnit.SECONDS).toString();
  }

  /** @return a session's roles for a terminal, or {@code none} */
  static String roles(Session s) {
    return s.getRolesList().isEmpty() ? "none" : s.getRolesList().stream().map(Printable::of).collect(Collectors.joining(", "));
  }
}
