package dev.skiff.platform;

/**
 * How far a failed request got, which decides whether it may be sent again (as grpc-java's
 * {@code RpcProgress} does for its retries). Known only to the side that sent the request; it never
 * crosses the wire.
 */
public enum RpcProgress {
  /**
   * The request certainly never left this process (the connection was recovering, or closed before
   * anything was written): sending it again cannot run it twice, whatever the endpoint.
   */
  NOT_SENT,
  /**
   * The request left this process but certainly reached no server: the broker (or the in-process
   * transport) had no queue for its target and said so (a NOT_FOUND "not running"). Sending it again
   * cannot run it twice, whatever the endpoint.
   */
  NOT_RECEIVED,
  /** The request left this process, or may have: it may have run. Only an idempotent endpoint may get it again. */
  SENT;

  /** @return whether no server can have run the request, so that sending it again is safe for any endpoint */
  public boolean reachedNoServer() {
    return this != SENT;
  }
}
