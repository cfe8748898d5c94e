package dev.skiff.service.zookeeper;

import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import java.io.IOException;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderLatchListener;
import org.apache.curator.framework.recipes.leader.Participant;

/**
 * Leader election among the processes that use the same name (Curator's {@code LeaderLatch}): at most
 * one participant is leader at a time; when it closes, or its connection is suspended or its session
 * lost, it stops being leader and another takes over.
 *
 * <pre>{@code
 * LeaderElection election = zookeeper.leaderElection("bookings-sweeper", instanceId,
 *     leading -> log.info(leading ? "now leading" : "no longer leading")).start();
 * ... if (election.isLeader()) runTheJob();
 * }</pre>
 *
 * <p>Listeners run on a thread named {@code skiff-zookeeper-leader-NAME}. Thread-safe; lifecycle
 * {@code start()} then {@code close()}, each at most once (close is idempotent): a second start, a start
 * after close (of this participant or of its client) is refused with an IllegalStateException that says
 * which. Closed, a participant is not leader ({@link #isLeader()} false, {@link #awaitLeadership} false).
 */
public final class LeaderElection implements AutoCloseable {
  private final String name;
  private final String participantId;
  private final LeaderLatch latch;
  private final ZooKeeperClient client;
  /** The client's loss epoch when this participant last became leader ({@link ZooKeeperClient#lossEpoch}). */
  private volatile long leadEpoch = -1;
  private final AtomicBoolean started = new AtomicBoolean();
  private final AtomicBoolean closed = new AtomicBoolean();

  LeaderElection(ZooKeeperClient client, String name, String participantId, Consumer<Boolean> listener, Executor executor) {
    this.name = name;
    this.participantId = participantId;
    this.client = client;
    this.latch = new LeaderLatch(client.curator(), "/leaders/" + name, participantId, LeaderLatch.CloseMode.NOTIFY_LEADER);
    Objects.requireNonNull(listener, "listener");
    // on the latch's own thread, before the participant's listener hears of it
    latch.addListener(
        new LeaderLatchListener() {
          @Override
          public void isLeader() {
            leadEpoch = client.lossEpoch();
          }

          @Override
          public void notLeader() {}
        },
        Runnable::run);
    latch.addListener(
        new LeaderLatchListener() {
          @Override
          public void isLeader() {
            listener.accept(true);
          }

          @Override
          public void notLeader() {
            listener.accept(false);
          }
        },
        executor);
  }

  /**
   * Joins the election.
   *
   * @return this
   * @throws IllegalStateException if started before, closed, or its client is closed
   */
  public synchronized LeaderElection start() {
    client.checkStarted();
    if (closed.get()) {
      throw new IllegalStateException("leader election '" + name + "' is closed: make a new one with leaderElection(...)");
    }
    if (!started.compareAndSet(false, true)) {
      throw new IllegalStateException("leader election '" + name + "' was already started");
    }
    try {
      latch.start();
    } catch (Exception e) {
      throw new SkiffException(ErrorCode.UNAVAILABLE, "could not join leader election '" + name + "': " + e, e);
    }
    return this;
  }

  /** @return this participant's id */
  public String participantId() {
    return participantId;
  }

  /**
   * Whether this participant leads now: the latch says so, and the session it was won in is still the
   * client's. When the client moves to another ensemble (or rebuilds its connection), the session that
   * won is closed and another participant may lead at once, while the latch hears of it only once the
   * new connection reports (up to a session timeout later): from that moment this answers false, so a
   * job that checks it never runs on two leaders at once. The listener hears {@code false} when the latch
   * does.
   *
   * @return whether this participant leads now
   */
  public boolean isLeader() {
    return !closed.get() && latch.hasLeadership() && leadEpoch == client.lossEpoch();
  }

  /**
   * Waits until this participant leads.
   *
   * @param timeout how long to wait
   * @return whether it leads
   */
  public boolean awaitLeadership(Duration timeout) {
    if (closed.get() || !started.get()) {
      return false;
    }
    try {
      return latch.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /**
   * The current leader's id, as ZooKeeper has it.
   *
   * @return the leader's participant id, or empty when there is none or ZooKeeper cannot be asked
   */
  public Optional<String> leaderId() {
    try {
      Participant p = latch.getLeader();
      return p.isLeader() ? Optional.of(p.getId()) : Optional.empty();
    } catch (Exception e) {
      return Optional.empty();
    }
  }

  /** Leaves the election (a leader gives up leadership and is told). Idempotent. */
  @Override
  public synchronized void close() {
    if (closed.compareAndSet(false, true) && started.get()) {
      try {
        latch.close();
      } catch (IOException | IllegalStateException e) {
        // already closed underneath, e.g. by the client's close
      }
    }
  }
}
