package dev.skiff.gateway;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Request;

/**
 * Reads one request's body as it arrives, up to a number of bytes, without holding a thread while it
 * waits for more (Jetty calls back when there is): keeping it, to map into a request, or dropping it, for
 * a request answered before its body was read, so that the connection can serve the next one.
 */
final class BodyReader {
  /** How a read ended. */
  enum Outcome {
    /** The whole body arrived within the bound. */
    READ,
    /** The body went past the bound; the rest of it is not read. */
    TOO_LARGE,
    /** The body could not be read (the client went away, a malformed chunk). */
    FAILED
  }

  /** Told how the read ended, once. */
  @FunctionalInterface
  interface Done {
    /**
     * @param outcome how it ended
     * @param body the body when it was kept and {@link Outcome#READ}; else null
     */
    void accept(Outcome outcome, byte[] body);
  }

  private final Request request;
  private final long max;
  private final ByteArrayOutputStream kept;
  private final Done done;
  private long read;

  private BodyReader(Request request, long max, ByteArrayOutputStream kept, Done done) {
    this.request = request;
    this.max = max;
    this.kept = kept;
    this.done = done;
  }

  /**
   * Reads a body and keeps it.
   *
   * @param request the request
   * @param max the most bytes it may have
   * @param done told the outcome and the body, on the thread the last of it arrived on
   */
  static void keep(Request request, long max, Done done) {
    long declared = request.getLength();
    new BodyReader(request, max, new ByteArrayOutputStream(declared > 0 ? (int) Math.min(declared, max) : 256), done).next();
  }

  /**
   * Reads a body and throws it away.
   *
   * @param request the request
   * @param max the most bytes to read: a body declared or found larger is {@link Outcome#TOO_LARGE}
   * @param done told the outcome
   */
  static void drop(Request request, long max, Done done) {
    if (request.getLength() > max) {
      done.accept(Outcome.TOO_LARGE, null);
      return;
    }
    new BodyReader(request, max, null, done).next();
  }

  private void next() {
    while (true) {
      Content.Chunk chunk = request.read();
      if (chunk == null) {
        request.demand(this::next);
        return;
      }
      if (Content.Chunk.isFailure(chunk)) {
        done.accept(Outcome.FAILED, null);
        return;
      }
      ByteBuffer buffer = chunk.getByteBuffer();
      if (read + buffer.remaining() > max) {
        chunk.release();
        done.accept(Outcome.TOO_LARGE, null);
        return;
      }
      read += buffer.remaining();
      if (kept != null) {
        byte[] bytes = new byte[buffer.remaining()];
        buffer.get(bytes);
        kept.write(bytes, 0, bytes.length);
      }
      boolean last = chunk.isLast();
      chunk.release();
      if (last) {
        done.accept(Outcome.READ, kept == null ? null : kept.toByteArray());
        return;
      }
    }
  }
}
