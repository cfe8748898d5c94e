package dev.skiff.platform.health;

/**
 * A server's live load, as the built-in capacity check reads it: typed figures the server exposes to its
 * monitor (rather than metric names the monitor would look up, which a rename would silently turn into
 * zeros). Implemented by the server; thread-safe.
 */
public interface ServerLoad {
  /** @return requests taken and not yet answered: waiting for a handler or running */
  int inFlight();

  /** @return requests waiting in the server for a handler thread */
  int queued();

  /** @return requests refused so far for having waited longer than the queue-wait bound */
  long refusedForWaiting();

  /** @return requests dropped so far because their deadline passed before they started */
  long droppedExpired();

  /** @return requests this instance has set aside so far (dead-lettered: too large, or over the delivery limit) */
  default long setAside() {
    return 0;
  }

  /**
   * @return requests of the service (set aside by any of its instances) waiting in its dead-letter
   *     queue to be inspected, or -1 when unknown; may ask the broker
   */
  default long setAsideWaiting() {
    return -1;
  }
}
