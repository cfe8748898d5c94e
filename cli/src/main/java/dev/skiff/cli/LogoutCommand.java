package dev.skiff.cli;

import dev.skiff.kernel.login.LoginService;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.internal.Printable;
import dev.skiff.proto.v1.LogoutRequest;
import dev.skiff.proto.v1.LogoutResponse;
import dev.skiff.proto.v1.Session;
import java.time.Instant;
import java.util.Optional;
import picocli.CommandLine.Command;

/** {@code skiff logout}: ends the session kept, everywhere, and forgets it. */
@Command(
    name = "logout",
    header = "Signs out: ends the session everywhere and forgets it here.",
    description = {
      "Asks the login service to revoke the session kept by 'skiff login' (every service then refuses it "
          + "within a second) and removes it from this machine. When the broker cannot be reached the "
          + "session is still removed here, and stays valid until it expires."
    },
    footer = {"", "Exit codes: 0 signed out (or was not signed in), 1 not revoked, 3 no connection to the broker (removed here only)."})
final class LogoutCommand extends BrokerCommand {
  @Override
  public Integer call() {
    SessionFile file = sessionFile();
    Optional<Session> kept = file.read();
    if (kept.isEmpty()) {
      out().println("not signed in");
      return SkiffCli.EXIT_OK;
    }
    Session s = kept.get();
    String until = "it stays valid until " + Instant.ofEpochMilli(s.getExpiresAtMs()) + " at most";
    try (Client client = clientOn(broker().connectTransport()).ownTransport().userToken(s.getToken()).build()) {
      client.call(LoginService.SERVICE, "logout", LogoutRequest.getDefaultInstance(), LogoutResponse.class, KERNEL_CALL);
    } catch (BrokerUnreachable e) {
      file.delete();
      err().println("the session was removed here but not revoked (the command could not connect to the broker): " + until);
      throw e;
    } catch (SkiffException e) {
      file.delete();
      if (e.code() == ErrorCode.UNAUTHORIZED) {
        out().println("signed out (the session had already ended: " + e.description() + ")");
        return SkiffCli.EXIT_OK;
      }
      SkiffCli.printError(err(), e);
      err().println("the session was removed here but not revoked: " + until);
      return SkiffCli.EXIT_CALL_FAILED;
    }
    file.delete();
    out().println("signed out " + Printable.of(s.getUser()) + ": the session is revoked everywhere");
    return SkiffCli.EXIT_OK;
  }
}
