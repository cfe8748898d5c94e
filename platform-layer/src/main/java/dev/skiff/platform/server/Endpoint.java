package dev.skiff.platform.server;

import com.google.protobuf.Internal;
import com.google.protobuf.Message;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * One endpoint of a service: its name, request and response types, and handler. Immutable.
 *
 * @param name the endpoint's name, e.g. {@code hello}
 * @param requestType the request's protobuf class
 * @param responseType the response's protobuf class
 * @param handler the code
 * @param idempotent whether running a request twice has the same effect as once (safe to retry)
 * @param <Q> the request type
 * @param <R> the response type
 */
public record Endpoint<Q extends Message, R extends Message>(
    String name, Class<Q> requestType, Class<R> responseType, Handler<Q, R> handler, boolean idempotent) {
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,254}");

  /** Checks the arguments. */
  public Endpoint {
    Objects.requireNonNull(name, "name");
    if (!NAME.matcher(name).matches()) {
      throw new IllegalArgumentException(
          "invalid endpoint name '" + name + "': use letters, digits, '.', '_' and '-'");
    }
    Objects.requireNonNull(requestType, "requestType");
    Objects.requireNonNull(responseType, "responseType");
    Objects.requireNonNull(handler, "handler");
  }

  /**
   * An endpoint that is not declared idempotent.
   *
   * @param name the name
   * @param requestType the request class
   * @param responseType the response class
   * @param handler the code
   * @param <Q> the request type
   * @param <R> the response type
   * @return the endpoint
   */
  public static <Q extends Message, R extends Message> Endpoint<Q, R> of(
      String name, Class<Q> requestType, Class<R> responseType, Handler<Q, R> handler) {
    return new Endpoint<>(name, requestType, responseType, handler, false);
  }

  /** @return a copy declared idempotent */
  public Endpoint<Q, R> asIdempotent() {
    return new Endpoint<>(name, requestType, responseType, handler, true);
  }

  /** @return the request type's default instance, used to decode requests */
  public Q requestPrototype() {
    return Internal.getDefaultInstance(requestType);
  }
}
