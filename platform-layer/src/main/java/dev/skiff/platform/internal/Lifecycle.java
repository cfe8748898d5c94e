package dev.skiff.platform.internal;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The one lifecycle rule of every Skiff component that owns resources (threads, connections, sessions):
 * built, then {@code start()} once, then {@code close()}, which is idempotent; using it before its start
 * or after its close is a clear {@link IllegalStateException} naming the component, never a
 * NullPointerException from inside. A start that fails leaves it closed, and its resources released
 * (Curator's rule, with Armeria's {@code StartStopSupport}'s rollback). Internal.
 *
 * <pre>{@code
 * NEW --start()--> RUNNING --close()--> CLOSING --> CLOSED
 *   \__________________close()_______________________/
 * }</pre>
 *
 * <p>Thread-safe.
 */
public final class Lifecycle {
  /** Where a component is in its life. */
  public enum State {
    /** Built, not started. */
    NEW,
    /** Started and serving. */
    RUNNING,
    /** Being closed. */
    CLOSING,
    /** Closed: its resources are released. */
    CLOSED
  }

  private final String name;
  private final AtomicReference<State> state = new AtomicReference<>(State.NEW);
  private final CountDownLatch closed = new CountDownLatch(1);

  /** @param name what the component is, for messages, e.g. {@code "server com.example.greeter"} */
  public Lifecycle(String name) {
    this.name = name;
  }

  /**
   * Starts the component: runs {@code start} if it is new; if that throws, the component is closed
   * ({@code release} runs) and the failure goes to the caller.
   *
   * @param start what starting does
   * @param release what releases the resources, run when the start fails
   * @throws IllegalStateException if it was started or closed before
   */
  public void start(Runnable start, Runnable release) {
    if (!state.compareAndSet(State.NEW, State.RUNNING)) {
      throw new IllegalStateException(name + (state.get() == State.RUNNING ? " was already started" : " is closed: it cannot be started again"));
    }
    try {
      start.run();
    } catch (RuntimeException | Error e) {
      state.set(State.CLOSED);
      try {
        release.run();
      } finally {
        closed.countDown();
      }
      throw e;
    }
  }

  /**
   * Begins closing. Exactly one caller gets {@link State#RUNNING} (it then does the work and calls
   * {@link #closed()}) or {@link State#NEW} (never started: it releases what it owns and calls
   * {@link #closed()}); every other caller waits until the component is closed and gets
   * {@link State#CLOSED}.
   *
   * @return the state the component was in when this caller began its close
   */
  public State beginClose() {
    if (state.compareAndSet(State.NEW, State.CLOSING)) {
      return State.NEW;
    }
    if (state.compareAndSet(State.RUNNING, State.CLOSING)) {
      return State.RUNNING;
    }
    awaitClosed();
    return State.CLOSED;
  }

  /** Marks the component closed and wakes those waiting for it. */
  public void closed() {
    state.set(State.CLOSED);
    closed.countDown();
  }

  /** @return the state now */
  public State state() {
    return state.get();
  }

  /** @return whether it is started and not closing */
  public boolean isRunning() {
    return state.get() == State.RUNNING;
  }

  /** @return whether it is closed */
  public boolean isClosed() {
    return state.get() == State.CLOSED;
  }

  /**
   * @param operation what the caller wants to do, for the message
   * @throws IllegalStateException unless the component is running
   */
  public void checkRunning(String operation) {
    State s = state.get();
    if (s != State.RUNNING) {
      throw new IllegalStateException(
          "cannot " + operation + ": " + name + (s == State.NEW ? " is not started (call start() first)" : " is closed"));
    }
  }

  /** Waits until the component is closed; returns at once if interrupted (keeping the interrupt). */
  public void awaitClosed() {
    try {
      closed.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Waits until the component is closed.
   *
   * @throws InterruptedException if interrupted while waiting
   */
  public void awaitClosedInterruptibly() throws InterruptedException {
    closed.await();
  }
}
