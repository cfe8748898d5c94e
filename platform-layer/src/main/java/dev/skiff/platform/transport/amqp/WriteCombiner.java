package dev.skiff.platform.transport.amqp;

import java.io.IOException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes the replies and acks of a server's handler threads one thread at a time, without making any
 * of them wait (flat combining, or group commit). A thread with something to write queues it and, if
 * no other thread is writing, writes everything queued, its own and what others queued meanwhile, in
 * one {@link Cork corked} run: one system call for the lot. A thread that finds another writing leaves
 * at once; the writer takes its work before it stops.
 *
 * <p>Without it, sixteen handler threads answering at once queue up on the reply channel's lock, then
 * the consume channel's, then the socket's, parking and waking each other several times per request
 * (measured: 8.5 futex calls per request against 2 with a single delivery thread), and each reply and
 * each ack is a write of its own.
 *
 * <p>When one request is in flight, its handler thread writes its own reply at once, as before. Under
 * load, one handler thread writes for all while the others go back to their requests; on the serving
 * connection the queue is bounded by what the broker delivers unacknowledged (the prefetch).
 *
 * <p>A combiner that takes work whose amount nothing else bounds (the client's requests) is given a
 * bound in actions and bytes ({@link #bounded}): a thread that finds the queue over it does not leave,
 * but waits for the writer and then writes itself, as every thread waited for the socket before there
 * was a combiner, so that a writer stuck on a socket the broker stopped reading (a resource alarm) holds
 * back its submitters instead of letting them queue without end. {@link #waits()} counts those waits.
 */
final class WriteCombiner {
  private static final Logger log = LoggerFactory.getLogger(WriteCombiner.class);

  private final ConcurrentLinkedQueue<Queued> queue = new ConcurrentLinkedQueue<>();
  /** Held by the thread writing. */
  private final ReentrantLock writing = new ReentrantLock();
  private final Cork cork;
  /** Written at the end of the corked run that wrote queued work (the acks that came due: {@link Acknowledger}); null: nothing. */
  private final Cork.IoAction atEnd;
  /** The most actions queued before a submitter waits to write; 0: no bound. */
  private final int maxQueued;
  /** The most bytes queued before a submitter waits to write. */
  private final long maxQueuedBytes;
  private final AtomicLong queuedActions = new AtomicLong();
  private final AtomicLong queuedBytes = new AtomicLong();
  private final AtomicLong waits = new AtomicLong();

  /** The actions of the run under way that wait to learn whether their writes left; the writer's only. */
  private final java.util.List<Queued> awaitingFlush = new java.util.ArrayList<>();

  /** Told whether an action's writes left: after the flush that ends the corked run that wrote them. */
  @FunctionalInterface
  interface Flushed {
    /** @param failure null when the flush went through; else why it failed (the connection broke) */
    void flushed(Exception failure);
  }

  /** An action waiting to be written, with what it counts against the bound and who waits for its flush. */
  private record Queued(String what, Cork.IoAction action, int bytes, Flushed then) {
    /** Runs the action; a failure is logged, not thrown, so that the actions queued after it still run. */
    void run() {
      try {
        action.run();
      } catch (IOException | RuntimeException e) {
        log.debug("{} failed: {}", what, e.toString());
      }
    }
  }

  /**
   * A combiner without a bound, for work that something else bounds (the serving connection's replies
   * and acks: the prefetch).
   *
   * @param cork holds the flushes of a run of writes
   * @param atEnd written once at the end of the corked run in which queued work was written (the
   *     outermost: a batch of handlers'), just before its flush
   */
  WriteCombiner(Cork cork, Cork.IoAction atEnd) {
    this(cork, atEnd, 0, 0);
  }

  private WriteCombiner(Cork cork, Cork.IoAction atEnd, int maxQueued, long maxQueuedBytes) {
    this.cork = cork;
    this.atEnd = atEnd;
    this.maxQueued = maxQueued;
    this.maxQueuedBytes = maxQueuedBytes;
  }

  /**
   * A combiner whose submitters wait to write once the queue holds {@code maxQueued} actions or
   * {@code maxQueuedBytes} bytes.
   *
   * @param cork holds the flushes of a run of writes
   * @param maxQueued the most actions queued; at least 1
   * @param maxQueuedBytes the most bytes queued (as {@link #submit(String, int, Cork.IoAction, Flushed)} counts them)
   * @return the combiner
   */
  static WriteCombiner bounded(Cork cork, int maxQueued, long maxQueuedBytes) {
    if (maxQueued < 1 || maxQueuedBytes < 1) {
      throw new IllegalArgumentException("bounds must be positive: " + maxQueued + " actions, " + maxQueuedBytes + " bytes");
    }
    return new WriteCombiner(cork, null, maxQueued, maxQueuedBytes);
  }

  /** @return how many times a submitter found the queue at its bound and waited to write (0 without a bound) */
  long waits() {
    return waits.get();
  }

  /**
   * Writes an action now, or has the thread that is writing do it. Never throws: a failed write is
   * logged at debug level, as the connection's recovery deals with a broken socket.
   *
   * @param what names the action in the log
   * @param action the writes
   */
  void submit(String what, Cork.IoAction action) {
    submit(what, 0, action, null);
  }

  /**
   * Writes an action now, or has the thread that is writing do it; when the queue is at its bound,
   * waits for that thread and writes. Never throws: a failed write is logged at debug level, as the
   * connection's recovery deals with a broken socket.
   *
   * @param what names the action in the log
   * @param bytes what the action counts against the bound in bytes
   * @param action the writes
   * @param then told, on the writing thread, once the flush after the action's writes went through or
   *     failed; null: no one waits for it
   */
  void submit(String what, int bytes, Cork.IoAction action, Flushed then) {
    queue.add(new Queued(what, action, bytes, then));
    boolean full = maxQueued > 0 && (queuedActions.incrementAndGet() > maxQueued | queuedBytes.addAndGet(bytes) > maxQueuedBytes);
    if (writing.isHeldByCurrentThread()) {
      return; // submitted by an action being written: the run under way writes it next
    }
    if (full) {
      waits.incrementAndGet();
      writing.lock();
      write();
    }
    // Re-checked after each release: work queued while this thread was writing, by a thread whose
    // tryLock failed, is taken here rather than left behind.
    while (!queue.isEmpty() && writing.tryLock()) {
      write();
    }
  }

  /** Writes what is queued, corked; called holding the lock, which it releases. */
  private void write() {
    Exception failure = null;
    try {
      cork.run(this::drain);
    } catch (IOException | RuntimeException e) {
      failure = e;
      log.debug("flushing writes failed: {}", e.toString());
    } finally {
      try {
        for (int i = 0; i < awaitingFlush.size(); i++) {
          awaitingFlush.get(i).then.flushed(failure);
        }
      } finally {
        awaitingFlush.clear();
        writing.unlock();
      }
    }
  }

  private void drain() throws IOException {
    Queued next;
    while ((next = queue.poll()) != null) {
      if (maxQueued > 0) {
        queuedActions.decrementAndGet();
        queuedBytes.addAndGet(-next.bytes);
      }
      next.run();
      if (next.then != null) {
        awaitingFlush.add(next);
      }
    }
    if (atEnd != null) {
      cork.atEnd(atEnd);
    }
  }
}
