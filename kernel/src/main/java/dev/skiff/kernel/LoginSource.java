package dev.skiff.kernel;

import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.client.CallScope;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.security.LoginTokenVerifier;
import dev.skiff.proto.v1.KeysRequest;
import dev.skiff.proto.v1.KeysResponse;
import dev.skiff.proto.v1.LoginRequest;
import dev.skiff.proto.v1.LogoutRequest;
import dev.skiff.proto.v1.LogoutResponse;
import dev.skiff.proto.v1.RevocationsRequest;
import dev.skiff.proto.v1.RevocationsResponse;
import dev.skiff.proto.v1.Session;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The login service as the kernel's pages use it, through the kernel's own client: the keys and ended
 * sessions its {@link LoginTokenVerifier} checks tokens with, and sign-in and sign-out at {@code /signin}.
 */
final class LoginSource implements LoginTokenVerifier.Source, WebServer.SignIn {
  private static final Logger log = LoggerFactory.getLogger(LoginSource.class);
  private static final CallOptions READ = CallOptions.timeout(Duration.ofSeconds(5)).withIdempotent(true);
  private static final CallOptions CHANGE = CallOptions.timeout(Duration.ofSeconds(5));

  private final Client client;

  /** @param client the kernel's client (not owned) */
  LoginSource(Client client) {
    this.client = client;
  }

  @Override
  public CompletableFuture<String> keys() {
    return client.callAsync(LoginTokenVerifier.SERVICE, "keys", KeysRequest.getDefaultInstance(), KeysResponse.class, READ)
        .thenApply(KeysResponse::getJwksJson);
  }

  @Override
  public CompletableFuture<RevocationsResponse> revocations(long sinceMillis) {
    return client.callAsync(LoginTokenVerifier.SERVICE, "revocations", RevocationsRequest.newBuilder().setSinceMs(sinceMillis).build(),
        RevocationsResponse.class, READ);
  }

  @Override
  public Session signIn(String user, String password) {
    return client.call(LoginTokenVerifier.SERVICE, "login", LoginRequest.newBuilder().setUser(user).setPassword(password).build(),
        Session.class, CHANGE);
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
