package dev.skiff.service.zookeeper;

import com.codahale.metrics.Timer;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.service.internal.SettingChecks;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.curator.framework.recipes.locks.InterProcessSemaphoreMutex;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A lock shared by every process that uses the same name on the same ZooKeeper ensemble (Curator's
 * {@code InterProcessSemaphoreMutex}: not reentrant, not bound to a thread).
 *
 * <pre>{@code
 * DistributedLock lock = zookeeper.lock("nightly-report");
 * try (DistributedLock.Lease lease = lock.acquire(Duration.ofSeconds(5))) {
 *   ...                                      // check lease.isValid() before each step that must be exclusive
 * }
 * }</pre>
 *
 * <p>A held lock lives as long as this client's ZooKeeper session. When the connection is suspended
 * the lease can no longer be trusted, and when the session is lost (expired) the ensemble has released
 * the lock and another process may take it: {@link Lease#isValid()} turns false in both cases and stays
 * false. Closing a lease that is no longer valid does no harm. A node that an acquire or a release cut
 * by a disconnection leaves behind (an orphan, which would block every process until the session ends)
 * is deleted by this client after the acquire times out or fails, or after the reconnection
 * ({@code LockNodes}, counted in {@code NAME.lock.orphans}). Thread-safe.
 */
public final class DistributedLock {
  private static final Logger log = LoggerFactory.getLogger(DistributedLock.class);

  private final ZooKeeperClient client;
  private final String name;
  private final InterProcessSemaphoreMutex mutex;
  private final Timer acquireTimer;
  private final LockNodes nodes;
  private final String path;

  DistributedLock(ZooKeeperClient client, String name, Timer acquireTimer, LockNodes nodes) {
    this.client = client;
    this.name = name;
    this.path = "/locks/" + name;
    this.mutex = new InterProcessSemaphoreMutex(client.curator(), path);
    this.acquireTimer = acquireTimer;
    this.nodes = nodes;
  }

  /** @return the lock's name */
  public String name() {
    return name;
  }

  /**
   * Takes the lock, waiting up to {@code timeout}.
   *
   * @param timeout how long to wait (zero: try once), at most 24h
   * @return the lease, or empty when another process held the lock all that time
   * @throws SkiffException UNAVAILABLE when ZooKeeper cannot be reached: at once when it is known to be
   *     unreachable, else after at most {@code timeout} plus {@code connection-timeout}
   * @throws IllegalArgumentException when the timeout is negative or over 24h
   * @throws IllegalStateException when this lock object already holds the lock
   */
  public Optional<Lease> tryAcquire(Duration timeout) {
    Objects.requireNonNull(timeout, "timeout");
    if (timeout.isNegative() || timeout.compareTo(SettingChecks.MAX_TIMEOUT) > 0) {
      throw new IllegalArgumentException("lock '" + name + "': a timeout must be 0 to 24h, not " + timeout);
    }
    if (mutex.isAcquiredInThisProcess()) {
      throw new IllegalStateException("lock '" + name + "' is already held through this object (it is not reentrant)");
    }
    nodes.enter(path);
    boolean held = false;
    long epoch = client.lossEpoch();
    Timer.Context t = acquireTimer.time();
    try {
      String what = "could not take lock '" + name + "'";
      if (client.failFast(what, timeout.plus(client.connectionTimeout()), () -> mutex.acquire(timeout.toMillis(), TimeUnit.MILLISECONDS))) {
        held = true;
        return Optional.of(new Lease(epoch));
      }
      return Optional.empty();
    } catch (SkiffException e) {
      throw e;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new SkiffException(ErrorCode.UNAVAILABLE, "interrupted while taking lock '" + name + "'", e);
    } catch (Exception e) {
      throw new SkiffException(
          ErrorCode.UNAVAILABLE, "could not take lock '" + name + "': ZooKeeper " + client.describe() + ": " + e, e);
    } finally {
      t.stop();
      if (!held) {
        // timed out or failed: a node of this acquire may be left behind (an orphan), so a sweep is due
        nodes.leave(path, false);
      }
    }
  }

  /**
   * Takes the lock, waiting up to {@code timeout}.
   *
   * @param timeout how long to wait, at most 24h
   * @return the lease
   * @throws SkiffException TIMEOUT when another process held the lock all that time, UNAVAILABLE when
   *     ZooKeeper cannot be reached
   * @throws IllegalArgumentException when the timeout is negative or over 24h
   */
  public Lease acquire(Duration timeout) {
    return tryAcquire(timeout)
        .orElseThrow(() -> new SkiffException(ErrorCode.TIMEOUT, "lock '" + name + "' is held elsewhere; waited " + timeout));
  }

  /** A held lock; closing it releases the lock. */
  public final class Lease implements AutoCloseable {
    private final long epoch;
    private final AtomicBoolean released = new AtomicBoolean();

    private Lease(long epoch) {
      this.epoch = epoch;
    }

    /**
     * @return true while the lock is surely held: not released, the connection not suspended, and the
     *     session not lost since it was taken
     */
    public boolean isValid() {
      return !released.get() && client.isConnected() && client.lossEpoch() == epoch;
    }

    /** Releases the lock. Idempotent; never throws for a lock the ensemble already released. */
    @Override
    public void close() {
      if (!released.compareAndSet(false, true)) {
        return;
      }
      boolean clean = false;
      try {
        mutex.release();
        clean = true;
      } catch (Exception e) {
        log.info("lock '{}': release after the session was lost: {}", name, e.toString());
      } finally {
        nodes.leave(path, clean);
      }
    }
  }
}
