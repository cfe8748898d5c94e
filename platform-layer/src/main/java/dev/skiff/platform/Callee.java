package dev.skiff.platform;

import java.util.Objects;

/**
 * The endpoint a call was made to, as the client that made it names it: the mark a client puts on
 * every {@link SkiffException} a call fails with ({@link SkiffException#callee()}). A server reads it
 * when such an error escapes a handler, so that a nested call's failure is not answered to the
 * handler's caller as if that caller had erred (docs/wire-protocol.md, "Errors from nested calls").
 * Local: it never crosses the wire.
 *
 * @param service the service called
 * @param endpoint the endpoint called
 * @param forUser whether the call carried a user's session token (made on behalf of the user who called
 *     the handler): an access refusal of such a call ({@code UNAUTHORIZED}, {@code FORBIDDEN}) is about
 *     that user
 */
public record Callee(String service, String endpoint, boolean forUser) {
  /**
   * @param service the service called
   * @param endpoint the endpoint called
   * @param forUser whether the call carried a user's session token
   */
  public Callee {
    Objects.requireNonNull(service, "service");
    Objects.requireNonNull(endpoint, "endpoint");
  }

  /** @return {@code SERVICE/ENDPOINT} */
  @Override
  public String toString() {
    return service + "/" + endpoint;
  }
}
