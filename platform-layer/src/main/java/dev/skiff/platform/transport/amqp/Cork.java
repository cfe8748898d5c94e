package dev.skiff.platform.transport.amqp;

import com.rabbitmq.client.WriteListener;
import com.rabbitmq.client.impl.Frame;
import com.rabbitmq.client.impl.FrameHandler;
import com.rabbitmq.client.impl.FrameHandlerFactory;
import java.io.IOException;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Sends several AMQP commands of one thread in one socket write, as TCP_CORK does for a socket: while a
 * thread runs {@link #run}, the flushes amqp-client makes after each command it writes are held back,
 * and one flush follows at the end. A server answering a request writes the reply on one channel and
 * the ack on another: corked, the broker gets both in one segment, and each side makes one system call
 * instead of two.
 *
 * <p>Order and safety are amqp-client's: frames still go through its one buffered stream per
 * connection, under its lock, in the order they were written. A flush by any thread that is not corked
 * sends everything buffered, its own frames and those of a corked thread alike. A corked thread only
 * delays its own frames, by the time the rest of its {@link #run} takes.
 *
 * <p>The thread that reads the connection's frames holds its flushes back too, until it has read all
 * that has arrived (see {@link Corked}): the replies of the handlers it runs itself (those that never
 * block) to the requests of one read leave together.
 *
 * <p>Wraps the frame handlers of one {@link com.rabbitmq.client.ConnectionFactory} ({@link #wrap}). Each
 * transport has two corks, one per connection: the serving connection's, held by the threads writing
 * replies and acks (a batch of handlers, {@code HandlerPool}), and the main connection's, held only by the
 * thread writing the clients' queued requests ({@link AmqpConnections#requests()}). Two, not one: a
 * corked thread running handlers that calls another service must send that request at once, as it then
 * waits for the reply.
 *
 * <p>Nothing that waits for the broker's answer (a synchronous AMQP method: opening a channel, declaring
 * a queue) may run in a corked run: its request would be held back with the rest, and the answer never
 * come.
 */
final class Cork {
  /** Set while the current thread is corked: the frame handler it holds a flush back for, if any. */
  private final ThreadLocal<Held> held = new ThreadLocal<>();
  /** The frame handlers of this cork's open connections, for {@link #flushAll}. */
  private final Set<Corked> open = ConcurrentHashMap.newKeySet();
  /** The most frames the reading thread reads while it holds a flush back. */
  static final int MAX_FRAMES_HELD = 64;
  /** Whether the thread reading a connection holds its flushes back until a read ends ({@link Corked}). */
  private final boolean holdsReaderFlushes;

  /** A cork for the serving connection: its reading thread, which runs handlers, holds its flushes back too. */
  Cork() {
    this(true);
  }

  private Cork(boolean holdsReaderFlushes) {
    this.holdsReaderFlushes = holdsReaderFlushes;
  }

  /**
   * @return a cork that holds back the flushes of corked threads only: for the main connection, whose
   *     reading thread runs no handlers and writes only what the protocol asks of it there (the
   *     close-ok that answers the broker's connection.close, after which it may read no more), which must
   *     not wait for a next read
   */
  static Cork writersOnly() {
    return new Cork(false);
  }

  /** A corked thread's held flush: the handler, once the thread has written something. */
  private static final class Held {
    Corked handler;
    /** What to write before the held flush goes out ({@link #atEnd}); null until there is something. */
    java.util.List<IoAction> atEnd;
  }

  /**
   * Runs an action with this thread's flushes held back, then flushes once. Nested calls flush at the
   * end of the outermost.
   *
   * @param action what writes the commands
   * @throws IOException when the final flush fails (the connection broke)
   */
  void run(IoAction action) throws IOException {
    if (held.get() != null) {
      action.run();
      return;
    }
    Held h = new Held();
    held.set(h);
    try {
      action.run();
    } finally {
      try {
        runAtEnd(h);
      } finally {
        held.remove();
        if (h.handler != null) {
          h.handler.flushHeld();
        }
      }
    }
  }

  /** Writes what a run was asked to write at its end ({@link #atEnd}), while its flush is still held. */
  private static void runAtEnd(Held h) throws IOException {
    if (h.atEnd == null) {
      return;
    }
    if (h.handler != null && h.handler.readBy(Thread.currentThread())) {
      // the thread reading the socket holds its flush until it has read all that arrived: what these
      // write waits for that too, with what the rest of the read adds
      h.handler.atReadEnd(h.atEnd);
      return;
    }
    for (int i = 0; i < h.atEnd.size(); i++) {
      h.atEnd.get(i).run();
    }
  }

  /**
   * Has the current thread's outermost {@link #run} write something just before its held flush, once
   * however often it is asked (the same action object); runs it now if the thread is not corked. On the
   * thread that reads the connection, it is written before that thread's own held flush, at the end of
   * what one read brought. What the acks due in a batch of replies use to leave as one command
   * ({@link Acknowledger}).
   *
   * @param action what writes
   * @throws IOException when run now and it fails
   */
  void atEnd(IoAction action) throws IOException {
    Held h = held.get();
    if (h == null) {
      action.run();
      return;
    }
    if (h.atEnd == null) {
      h.atEnd = new java.util.ArrayList<>(2);
    }
    for (IoAction a : h.atEnd) {
      if (a == action) {
        return;
      }
    }
    h.atEnd.add(action);
  }

  /**
   * Sends what every connection has buffered, held back by corked threads or not, from this thread:
   * for a thread that stays corked longer than expected (a handler that blocked in a held batch). The
   * corked threads flush again when they end, which sends nothing more than what was written since.
   */
  void flushAll() {
    for (Corked c : open) {
      try {
        c.flushNow();
      } catch (IOException e) {
        // the connection broke: its recovery deals with it, and what was held is lost with it
      }
    }
  }

  /** Something that writes to the broker. */
  @FunctionalInterface
  interface IoAction {
    void run() throws IOException;
  }

  /**
   * @param inner the connection factory's own frame handler factory
   * @return one whose frame handlers hold back the flushes of corked threads
   */
  FrameHandlerFactory wrap(FrameHandlerFactory inner) {
    return (address, connectionName) -> new Corked(inner.create(address, connectionName));
  }

  /**
   * A frame handler that holds back the flushes of a corked thread, and those of the thread that reads
   * the connection's frames until it has read all that has arrived: on the serving connection that
   * thread runs the handlers that never block, so the replies to the requests of one read leave in one
   * write, as Netty flushes at the end of a read (its {@code channelReadComplete}). The reading thread
   * flushes before each read that could wait, and at least every {@link #MAX_FRAMES_HELD} frames.
   */
  private final class Corked extends DelegatingFrameHandler {
    /**
     * The socket's buffered input: null when unknown or when this cork does not hold the reading
     * thread's flushes back, and then the reading thread holds nothing back.
     */
    private final java.io.DataInputStream input;
    /** The thread reading frames (amqp-client's main loop), from its first read. */
    private volatile Thread reader;
    /** Whether the reading thread holds a flush back (read and written by the reading thread only). */
    private boolean readerHolds;
    private int framesHeld;
    /** What the reading thread writes before its held flush ({@link #atEnd}); read and written by it only. */
    private final java.util.List<IoAction> readerAtEnd = new java.util.ArrayList<>(2);

    Corked(FrameHandler inner) {
      super(inner);
      this.input = holdsReaderFlushes ? socketInput() : null;
      open.add(this);
    }

    @Override
    public Frame readFrame() throws IOException {
      if (reader == null) {
        reader = Thread.currentThread();
      }
      if (readerHolds && (++framesHeld >= MAX_FRAMES_HELD || input.available() == 0)) {
        flushNow();
      }
      return inner.readFrame();
    }

    @Override
    public void close() {
      open.remove(this);
      super.close();
    }

    @Override
    public void flush(WriteListener listener) throws IOException {
      Held h = listener == null ? held.get() : null;
      if (h == null) {
        if (listener == null) {
          flushHeld();
        } else {
          inner.flush(listener);
        }
      } else if (h.handler != null && h.handler != this) {
        // a second connection in one corked run (not done by Skiff): no holding back across sockets
        flushHeld();
      } else {
        h.handler = this;
      }
    }

    /** Flushes, unless this is the reading thread, which flushes before its next read that could wait. */
    void flushHeld() throws IOException {
      if (input != null && Thread.currentThread() == reader) {
        readerHolds = true;
      } else {
        inner.flush(null);
      }
    }

    /** @return whether a thread is this connection's reading thread, holding its flushes until a read ends */
    boolean readBy(Thread t) {
      return input != null && t == reader;
    }

    /** Has the reading thread write these before its held flush; called by the reading thread. */
    void atReadEnd(java.util.List<IoAction> actions) {
      for (IoAction a : actions) {
        if (!readerAtEnd.contains(a)) {
          readerAtEnd.add(a);
        }
      }
    }

    /** Flushes now, whatever the thread; the reading thread first writes what it was asked to at the end. */
    void flushNow() throws IOException {
      if (Thread.currentThread() == reader) {
        try {
          for (int i = 0; i < readerAtEnd.size(); i++) {
            readerAtEnd.get(i).run();
          }
        } finally {
          readerAtEnd.clear();
        }
        readerHolds = false;
        framesHeld = 0;
      }
      inner.flush(null);
    }
  }
}
