package dev.skiff.kernel;

import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.client.CallScope;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.security.LoginTokenVerifier;
import dev.skiff.proto.v1.LoginRequest;
import dev.skiff.proto.v1.LogoutRequest;
import dev.skiff.proto.v1.LogoutResponse;
import dev.skiff.proto.v1.RenewRequest;
import dev.skiff.proto.v1.Session;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sign-in, renewal and sign-out at the kernel's {@code /signin} and {@code /signout} pages: calls to the login
 * service through the kernel's sign-in client ({@link SignInClients}: no retries, no breaker that locked
 * names could open). (The keys and ended sessions the pages' verifier checks tokens
 * with come from the platform's {@link dev.skiff.platform.server.LoginServiceSource}, as a server's do.)
 */
final class PageSignIn implements WebServer.SignIn {
  private static final Logger log = LoggerFactory.getLogger(PageSignIn.class);
  private static final CallOptions CHANGE = CallOptions.timeout(Duration.ofSeconds(5));
  /** A renewal holds up a page's answer: it may take less (it is tried again later when it fails). */
  private static final CallOptions RENEW = CallOptions.timeout(Duration.ofSeconds(2));

  private final Client client;

  /** @param client the kernel's sign-in client (not owned) */
  PageSignIn(Client client) {
    this.client = client;
  }

  @Override
  public Session signIn(String user, String password) {
    return client.call(LoginTokenVerifier.SERVICE, "login", LoginRequest.newBuilder().setUser(user).setPassword(password).build(),
        Session.class, CHANGE);
  }

  @Override
  public Session renew(String token) {
    return client.withScope(CallScope.forUser(token))
        .call(LoginTokenVerifier.SERVICE, "renew", RenewRequest.getDefaultInstance(), Session.class, RENEW);
  }

  @Override
  public void signOut(String token) {
    try {
      client.withScope(CallScope.forUser(token))
          .call(LoginTokenVerifier.SERVICE, "logout", LogoutRequest.getDefaultInstance(), LogoutResponse.class, CHANGE);
    } catch (RuntimeException e) {
      log.debug("signing out of a page session: {}", e.toString());
    }
  }
}
