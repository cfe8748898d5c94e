package dev.skiff.platform.transport.amqp;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.impl.AMQContentHeader;
import com.rabbitmq.client.impl.AMQImpl;
import com.rabbitmq.client.impl.Frame;
import com.rabbitmq.client.impl.FrameHandler;
import com.rabbitmq.client.impl.FrameHandlerFactory;
import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Throws away, as it arrives, the body of a message larger than a connection may take, so that the
 * message reaches its consumer with an empty body and a mark saying how large it was
 * ({@link Headers#DISCARDED_BODY}): never buffered, and never fatal to the connection.
 *
 * <p>Why at the frame level: amqp-client's own limit ({@code ConnectionFactory#setMaxInboundMessageBodySize})
 * fails the whole connection when a content header announces a larger body. Recovery then consumes again,
 * the broker delivers the same unacknowledged message again, and the connection fails again: one message
 * sent to a service by anybody took the service offline (issue 17). Here the content header is read
 * first (it carries the body's size), and when the size is over the limit the header is passed on
 * saying "no body" with the mark added, and the body frames that follow on that channel are read from the
 * socket and dropped, one frame (at most the negotiated frame size, 128 KiB by default) at a time. The
 * consumer then settles the message like any other (the server answers BAD_REQUEST and sets it aside).
 *
 * <p>The mark carries a random token of this process, so that a sender cannot make a message look
 * discarded. Frames are read by one thread per connection; each connection (and each recovery of it) has
 * its own frame handler, and so its own state.
 */
final class InboundLimit {
  /** The token of this process's marks: a sender cannot guess it. */
  static final String TOKEN = Long.toHexString(new java.security.SecureRandom().nextLong() | 1L);

  /** Where the frame payload of a content header holds the body size: after class id and weight. */
  private static final int BODY_SIZE_OFFSET = 4;

  private volatile int maxBodyBytes;
  private final AtomicLong discardedBodies;
  private final AtomicLong discardedBytes;

  /**
   * @param maxBodyBytes the largest body passed on
   * @param discardedBodies counts the bodies thrown away
   * @param discardedBytes counts their bytes
   */
  InboundLimit(int maxBodyBytes, AtomicLong discardedBodies, AtomicLong discardedBytes) {
    this.maxBodyBytes = maxBodyBytes;
    this.discardedBodies = discardedBodies;
    this.discardedBytes = discardedBytes;
  }

  /** @return the largest body passed on */
  int maxBodyBytes() {
    return maxBodyBytes;
  }

  /**
   * Changes the limit, for the messages whose header arrives from now on.
   *
   * @param bytes the largest body passed on
   */
  void maxBodyBytes(int bytes) {
    this.maxBodyBytes = bytes;
  }

  /**
   * @param inner the connection factory's frame handler factory
   * @return one whose handlers apply this limit
   */
  FrameHandlerFactory wrap(FrameHandlerFactory inner) {
    return (address, connectionName) -> new Limited(inner.create(address, connectionName));
  }

  /** The value of the mark: the body's size, and this process's token. */
  static String mark(long bodySize) {
    return bodySize + ";" + TOKEN;
  }

  /**
   * @param mark a {@link Headers#DISCARDED_BODY} value as it arrived
   * @return the size of the body thrown away, or 0 when the value is not a mark made here
   */
  static long discarded(String mark) {
    int sep = mark.indexOf(';');
    if (sep <= 0 || !mark.regionMatches(sep + 1, TOKEN, 0, TOKEN.length()) || mark.length() != sep + 1 + TOKEN.length()) {
      return 0;
    }
    try {
      return Math.max(0, Long.parseLong(mark.substring(0, sep)));
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  /** A connection's frames, with the bodies over the limit left out. */
  private final class Limited extends DelegatingFrameHandler {
    /** Channel number to the bytes of a discarded body still to come on it. */
    private final Map<Integer, Long> skipping = new HashMap<>();

    Limited(FrameHandler inner) {
      super(inner);
    }

    @Override
    public Frame readFrame() throws IOException {
      while (true) {
        Frame f = inner.readFrame();
        if (f == null) {
          return null; // a read timeout: amqp-client's heartbeat logic
        }
        if (f.getType() == AMQP.FRAME_HEADER) {
          long size = bodySize(f.getPayload());
          if (size <= maxBodyBytes) {
            return f;
          }
          discardedBodies.incrementAndGet();
          discardedBytes.addAndGet(size);
          skipping.put(f.getChannel(), size);
          return withoutBody(f, size);
        }
        if (f.getType() != AMQP.FRAME_BODY || skipping.isEmpty()) {
          return f;
        }
        Long left = skipping.get(f.getChannel());
        if (left == null) {
          return f;
        }
        long rest = left - f.getPayload().length;
        if (rest > 0) {
          skipping.put(f.getChannel(), rest);
        } else {
          skipping.remove(f.getChannel());
        }
        // dropped: read the next frame
      }
    }
  }

  private static long bodySize(byte[] payload) {
    if (payload.length < BODY_SIZE_OFFSET + 8) {
      return 0; // malformed: amqp-client reports it
    }
    long v = 0;
    for (int i = BODY_SIZE_OFFSET; i < BODY_SIZE_OFFSET + 8; i++) {
      v = (v << 8) | (payload[i] & 0xff);
    }
    return v < 0 ? Long.MAX_VALUE : v;
  }

  /** The content header of a discarded body: the same properties, the mark added, a body of 0 bytes. */
  private static Frame withoutBody(Frame header, long size) throws IOException {
    AMQContentHeader h = AMQImpl.readContentHeaderFrom(new DataInputStream(new ByteArrayInputStream(header.getPayload())));
    AMQP.BasicProperties p = (AMQP.BasicProperties) h;
    Map<String, Object> headers = p.getHeaders() == null ? new HashMap<>(2) : new HashMap<>(p.getHeaders());
    headers.put(Headers.DISCARDED_BODY, mark(size));
    AMQContentHeader marked = (AMQContentHeader) p.builder().headers(headers).build();
    return new Frame(AMQP.FRAME_HEADER, header.getChannel(), marked.toFrame(header.getChannel(), 0).getPayload());
  }
}
