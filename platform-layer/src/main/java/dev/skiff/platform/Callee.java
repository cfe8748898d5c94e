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
 */
public record Callee(String service, String endpoint) {
  /**
   * @param service the service called
   * @param endpoint the endpoint called
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
