package dev.skiff.platform.observe;

/**
 * Sees every request a server finishes and every attempt a client makes: the one hook through which
 * metrics, tracing and health follow the traffic, with no code in any handler.
 *
 * <p>Register with {@code ServerBuilder.observer} or {@code Client.Builder.observer}; a server passes its
 * observers on to the client its handlers call through. Callbacks run on transport and handler threads,
 * so they must be quick, must not block, and should not throw (an exception is logged and ignored).
 */
public interface RpcObserver {
  /**
   * A server finished with a request: answered it, refused it, or dropped it.
   *
   * @param event what happened
   */
  default void onServerRequest(ServerEvent event) {}

  /**
   * A client attempt ended: with a reply, an error, or a timeout. A call retried three times gives
   * three events.
   *
   * @param event what happened
   */
  default void onClientAttempt(ClientEvent event) {}

  /**
   * Asked when a client starts a new trace (a call made outside any request): whether to sample it.
   * The trace is sampled if any observer says so, or the call asks for it.
   *
   * @param service the called service
   * @param endpoint the called endpoint
   * @return true to record this trace
   */
  default boolean sampleNewTrace(String service, String endpoint) {
    return false;
  }
}
