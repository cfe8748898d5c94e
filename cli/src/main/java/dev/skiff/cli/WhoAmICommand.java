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
import java.util.stream.Collectors;
import picocli.CommandLine.Command;

/** {@code skiff whoami}: who the session kept signs in as, as the login service sees it now. */
@Command(
    name = "whoami",
    header = "Shows who the session kept by 'skiff login' signs in as, and its roles.",
    description = {"Asks the login service, so a session that expired or was revoked shows as such."},
    footer = {"", "Exit codes: 0 signed in, 1 login service not running, 3 broker unreachable, 4 not signed in."})
final class WhoAmICommand extends BrokerCommand {
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
