package dev.skiff.platform.server;

import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.security.LoginTokenVerifier;
import dev.skiff.proto.v1.KeysRequest;
import dev.skiff.proto.v1.KeysResponse;
import dev.skiff.proto.v1.RevocationsRequest;
import dev.skiff.proto.v1.RevocationsResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/**
 * Where a server's {@link LoginTokenVerifier} gets the login service's keys and ended sessions: calls to
 * {@value LoginTokenVerifier#SERVICE}'s {@code keys} and {@code revocations} endpoints, made by the
 * server's own client (so the login service sees which service asks). Also the HTTP gateway's.
 */
public final class LoginServiceSource implements LoginTokenVerifier.Source {
  private final Client client;
  private final CallOptions options;

  /**
   * @param client the server's client
   * @param timeout how long one fetch may take
   */
  public LoginServiceSource(Client client, Duration timeout) {
    this.client = client;
    this.options = CallOptions.timeout(timeout).withIdempotent(true);
  }

  @Override
  public CompletableFuture<String> keys() {
    return client.callAsync(LoginTokenVerifier.SERVICE, "keys", KeysRequest.getDefaultInstance(), KeysResponse.class, options)
        .thenApply(KeysResponse::getJwksJson);
  }

  @Override
  public CompletableFuture<RevocationsResponse> revocations(long sinceMillis) {
    return client.callAsync(LoginTokenVerifier.SERVICE, "revocations", RevocationsRequest.newBuilder().setSinceMs(sinceMillis).build(),
        RevocationsResponse.class, options);
  }
}
