package dev.skiff.cli;

import dev.skiff.kernel.login.LoginService;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.internal.Printable;
import dev.skiff.proto.v1.LoginRequest;
import dev.skiff.proto.v1.Session;
import java.io.PrintWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code skiff login USER}: signs in at the login service and keeps the session for later commands. */
@Command(
    name = "login",
    header = "Signs in: keeps a session that every later skiff command sends.",
    description = {
      "Asks for USER's password (typed without echo at a terminal, else the first line of standard input), "
          + "signs in at the login kernel service (" + LoginService.SERVICE + ") and keeps the session in "
          + "$" + SessionFile.ENV + ", else $XDG_CONFIG_HOME/skiff/token, else ~/.config/skiff/token, readable by "
          + "you only. Every skiff command then sends it, and renews it when it nears its expiry, until "
          + "'skiff logout'. The password is never shown, kept or logged. See docs/security.md."
    },
    footer = {
      "",
      "Examples:",
      "  skiff login admin",
      "  printf '%%s\\n' \"$PASSWORD\" | skiff login ci-bot",
      "",
      "Exit codes: 0 signed in, 1 refused (e.g. locked out for a while) or login service not running, "
          + "2 usage error, 3 no connection to the broker, 4 wrong user or password."
    })
final class LoginCommand extends BrokerCommand {
  @Parameters(index = "0", paramLabel = "USER", description = "Who signs in.")
  String user;

  @Override
  public Integer call() {
    PrintWriter out = out();
    PrintWriter err = err();
    String password = new PasswordPrompt(root().in(), spec).read("Password for " + user + ": ", "password");
    Session s;
    try (Client client = clientOn(broker().connectTransport()).ownTransport().build()) {
      s = client.call(LoginService.SERVICE, "login", LoginRequest.newBuilder().setUser(user).setPassword(password).build(),
          Session.class, KERNEL_CALL);
    } catch (SkiffException e) {
      if (e.code() == ErrorCode.UNAUTHORIZED) {
        err.println("UNAUTHORIZED: " + e.description());
      } else {
        SkiffCli.printError(err, e);
      }
      return SkiffCli.exitCode(e);
    }
    SessionFile file = sessionFile();
    file.write(s);
    out.println("signed in as " + Printable.of(s.getUser()) + " (roles: " + WhoAmICommand.roles(s) + ") until "
        + WhoAmICommand.time(s.getExpiresAtMs()) + ", renewed by each command until "
        + WhoAmICommand.time(s.getSessionEndsAtMs()) + "; session kept in " + file.path());
    return SkiffCli.EXIT_OK;
  }
}
