package dev.skiff.service.zookeeper;

import com.codahale.metrics.Counter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.utils.ZKPaths;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finds and deletes orphan lock znodes of one client's session: the nodes under a lock's path
 * ({@code /locks/NAME/locks/*} and {@code /locks/NAME/leases/*}, Curator's semaphore) owned by this
 * session while no acquire of this client is running on that lock and no lease of it is held.
 *
 * <p>Such a node is left when an operation is cut by a disconnection: an acquire whose create reached
 * the ensemble but whose answer did not, or a release whose delete failed. It lives as long as the
 * session, and the session survives a member's loss. Curator's own clean-up (protected mode, guaranteed
 * deletes) was seen not to remove it: with this sweep switched off, such a node was still there 45 s after
 * the ensemble's leader died, and no process could take the lock (docs/operations.md). The
 * sweep runs when it is due (after an acquire that failed or timed out, a release that failed, or a
 * reconnection): at once if no acquire of this lock is running here, else before the next one starts.
 *
 * <p>Safety: a path is swept only under this object's monitor with no acquire running and no lease
 * held through this client (both counted by {@link #enter}/{@link #leave}, which wait for a sweep
 * under way), so no node backing a live acquire or lease of this client is ever deleted; other
 * sessions' nodes are never touched. Counted in {@code NAME.lock.orphans}. Thread-safe.
 */
final class LockNodes {
  private static final Logger log = LoggerFactory.getLogger(LockNodes.class);

  /** Runs one ZooKeeper operation of a sweep (the client fails it fast while disconnected). */
  interface Runner {
    <T> T run(String what, Callable<T> op) throws Exception;
  }

  private final CuratorFramework curator;
  private final Runner runner;
  private final Counter orphans;
  /** Acquires running plus leases held, per lock path. Guarded by this. */
  private final Map<String, Integer> active = new HashMap<>();
  /** Lock paths to sweep before the next acquire. Guarded by this. */
  private final Set<String> due = new HashSet<>();
  /** Every lock path this client used. Guarded by this. */
  private final Set<String> known = new HashSet<>();

  LockNodes(CuratorFramework curator, Runner runner, Counter orphans) {
    this.curator = curator;
    this.runner = runner;
    this.orphans = orphans;
  }

  /** An acquire starts on {@code path}: first sweeps it if a sweep is due and nothing else uses it. */
  synchronized void enter(String path) {
    known.add(path);
    if (due.contains(path) && !active.containsKey(path)) {
      sweepNow(path, "before an acquire");
    }
    active.merge(path, 1, Integer::sum);
  }

  /**
   * An acquire that did not take the lock, or a lease, ends on {@code path}.
   *
   * @param clean false when the operation failed, timed out or its delete failed: a sweep is due
   */
  synchronized void leave(String path, boolean clean) {
    active.computeIfPresent(path, (p, n) -> n == 1 ? null : n - 1);
    if (!clean) {
      due.add(path);
    }
    if (due.contains(path) && !active.containsKey(path)) {
      sweepNow(path, clean ? "after a release" : "after an acquire that failed or timed out, or a release that failed");
    }
  }

  /** The connection came back: every lock this client used is swept now, or before its next acquire. */
  synchronized void reconnected() {
    due.addAll(known);
    for (String path : known) {
      if (!active.containsKey(path)) {
        sweepNow(path, "on reconnection");
      }
    }
  }

  /** Sweeps {@code path}; on success it is no longer due. Called with the monitor held. */
  private void sweepNow(String path, String when) {
    try {
      long session = curator.getZookeeperClient().getZooKeeper().getSessionId();
      if (session == 0) {
        return; // no session yet: nothing of ours to find (and 0 is a persistent node's owner); still due
      }
      List<String> deleted = new ArrayList<>();
      for (String child : children(path)) {
        String folder = ZKPaths.makePath(path, child);
        for (String node : children(folder)) {
          String nodePath = ZKPaths.makePath(folder, node);
          Stat stat = runner.run("could not read lock node " + nodePath, () -> curator.checkExists().forPath(nodePath));
          if (stat != null && stat.getEphemeralOwner() == session && delete(nodePath)) {
            deleted.add(child + "/" + node);
          }
        }
      }
      due.remove(path);
      if (!deleted.isEmpty()) {
        orphans.inc(deleted.size());
        log.info("lock {}: {}, deleted {} orphan node(s) of this client's session 0x{} (left by an operation a disconnection cut): {}",
            path, when, deleted.size(), Long.toHexString(session), deleted);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Exception e) {
      log.debug("lock {}: sweep for orphan nodes failed, tried again before the next acquire: {}", path, e.toString());
    }
  }

  private List<String> children(String path) throws Exception {
    try {
      return runner.run("could not list lock nodes " + path, () -> curator.getChildren().forPath(path));
    } catch (KeeperException.NoNodeException e) {
      return List.of();
    }
  }

  private boolean delete(String nodePath) throws Exception {
    try {
      runner.run("could not delete orphan lock node " + nodePath, () -> curator.delete().forPath(nodePath));
      return true;
    } catch (KeeperException.NoNodeException e) {
      return false; // Curator's own background delete came first
    }
  }
}
