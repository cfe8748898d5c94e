package dev.skiff.platform.transport;

import java.util.function.Consumer;

/**
 * SPI: the broker topology behind routing by version and weight (docs/routing.md), for the binding
 * service, which decides what each service's routing should be and asks for it here; how it is built
 * (exchanges, queues, bindings and their names) is the transport's business.
 *
 * <p>A service S with running versions V has, always, each version's queue reachable by the key that
 * pins V. Without a rule, S's key reaches the service queue. Under a rule, S's key reaches the service's
 * <em>split</em>, which sends each request to one of the versions' <em>shares</em> at random by request
 * id, in proportion to their percentages; a share is identified by its version and percentage, so a
 * change of weight adds the new share before the old one leaves the split.
 *
 * <p>Each operation is idempotent and does its best: it returns whether the broker did it, and a failure
 * (say, unbinding from an exchange that is gone) is logged and does not stop the next operation.
 * Thread-safe. Obtained from {@link Transport#routing()}.
 */
public interface RoutingTopology extends AutoCloseable {
  /**
   * What an operation that binds a queue found: a queue that does not exist is told apart from other
   * failures, so that the binding service does not bind it again and again (each try costs the broker a
   * channel error) for instances announced without a queue (docs/security.md, "Hostile input").
   */
  enum Outcome {
    /** Done. */
    DONE,
    /** Not done: the queue (or the exchange) does not exist. */
    MISSING,
    /** Not done, for another reason (say, the broker cannot be reached). */
    FAILED
  }

  /**
   * @param service the service
   * @param version a version that runs
   * @return {@link Outcome#DONE} when calls pinned to the version now reach its queue
   */
  Outcome bindVersion(String service, String version);

  /**
   * @param service the service
   * @param version a version that no longer runs
   * @return whether its queue was deleted (not if it still has consumers or requests)
   */
  boolean deleteVersionIfIdle(String service, String version);

  /**
   * @param service the service
   * @return {@link Outcome#DONE} when the service's calls now reach its service queue (no rule)
   */
  Outcome routeToServiceQueue(String service);

  /**
   * @param service the service
   * @return whether it was done: the service's calls no longer reach its service queue
   */
  boolean stopRoutingToServiceQueue(String service);

  /**
   * Declares the service's split (replacing one left with other settings by an older Skiff).
   *
   * @param service the service
   * @return whether it exists now
   */
  boolean declareSplit(String service);

  /**
   * @param service the service
   * @return whether the service has a split, i.e. is under a rule
   * @throws dev.skiff.platform.SkiffException UNAVAILABLE when the broker cannot be asked
   */
  boolean splitExists(String service);

  /**
   * @param service the service
   * @return whether it was done: the service's calls reach its split
   */
  boolean routeToSplit(String service);

  /**
   * @param service the service
   * @return whether the split was deleted
   */
  boolean deleteSplit(String service);

  /**
   * Puts a version's share into the split: declared, bound to the version's queue, and bound into the
   * split with a weight of {@code percent}.
   *
   * @param service the service
   * @param version the version
   * @param percent its share, 0 to 100
   * @return whether it was done
   */
  boolean addShare(String service, String version, int percent);

  /**
   * Takes a share out of the split. Requests already routed to it may still pass through it for a
   * moment; delete it a little later ({@link #deleteShare}).
   *
   * @param service the service
   * @param version the version
   * @param percent the share's percentage
   * @return whether it was done
   */
  boolean removeShare(String service, String version, int percent);

  /**
   * @param service the service
   * @param version the version
   * @param percent the share's percentage
   * @return whether a share taken out of the split was deleted
   */
  boolean deleteShare(String service, String version, int percent);

  /**
   * Tries to take an exclusive lease: at most one holder at a time across every process on the broker.
   * The lease ends when it is closed or when its holder's connection goes.
   *
   * @param name the lease's name
   * @param onLost called (once, on a transport thread) if the lease is lost other than by closing it,
   *     with the reason
   * @return the lease, or null if another holds it (or the broker cannot be reached)
   */
  Lease tryLease(String name, Consumer<String> onLost);

  /**
   * Opens a durable, shared, append-only log (a RabbitMQ stream): every reader reads every entry from
   * the first, in order; entries survive restarts of the broker. Only entries appended by the same
   * identity as this transport's (the kernel's broker user) are read; others are ignored (logged).
   *
   * @param name the log's name
   * @param maxBytes how much of the log is kept (the oldest entries go first)
   * @param reader called with every entry, in order, on a transport thread
   * @return the open log
   * @throws dev.skiff.platform.SkiffException UNAVAILABLE when it cannot be opened
   */
  DurableLog openLog(String name, long maxBytes, Consumer<byte[]> reader);

  /** Releases what the topology opened (not what it built on the broker). Idempotent. */
  @Override
  void close();

  /** An exclusive lease, held until closed or lost. */
  interface Lease extends AutoCloseable {
    /** Gives the lease up. Idempotent. */
    @Override
    void close();
  }

  /** An open durable log. */
  interface DurableLog extends AutoCloseable {
    /**
     * Appends an entry and waits until the broker has stored it.
     *
     * @param entry the entry
     * @throws dev.skiff.platform.SkiffException UNAVAILABLE when it was not stored
     */
    void append(byte[] entry);

    /** Stops reading and releases the log's channels. Idempotent. */
    @Override
    void close();
  }
}
