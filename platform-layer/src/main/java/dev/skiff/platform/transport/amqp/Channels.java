package dev.skiff.platform.transport.amqp;

import com.rabbitmq.client.AlreadyClosedException;
import com.rabbitmq.client.Channel;
import dev.skiff.platform.internal.Redaction;
import java.io.IOException;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Small helpers around amqp-client channels and their failures, shared by the transport's parts. */
final class Channels {
  private static final Logger log = LoggerFactory.getLogger(Channels.class);

  private Channels() {}

  /** An operation on the broker that may fail with an IOException. */
  @FunctionalInterface
  interface IoAction {
    void run() throws IOException;
  }

  /**
   * @param e a failure
   * @return the messages of a failure and its causes, e.g. an IOException whose cause names the missing
   *     vhost, with the password of any URI in them hidden
   */
  static String causes(Throwable e) {
    StringBuilder b = new StringBuilder();
    for (Throwable t = e; t != null && b.length() < 500; t = t.getCause()) {
      if (b.length() > 0) {
        b.append("; caused by ");
      }
      b.append(t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage());
    }
    return Redaction.text(b.toString());
  }

  /**
   * @param cause why a channel or connection was shut down
   * @return the broker's words for it, e.g. {@code PRECONDITION_FAILED - message size ... is larger than ...}
   */
  static String reason(com.rabbitmq.client.ShutdownSignalException cause) {
    Object m = cause.getReason();
    if (m instanceof com.rabbitmq.client.AMQP.Channel.Close c) {
      return c.getReplyText();
    }
    if (m instanceof com.rabbitmq.client.AMQP.Connection.Close c) {
      return c.getReplyText();
    }
    return String.valueOf(cause.getMessage());
  }

  /**
   * @param e a failure of a channel or connection operation
   * @param causes its chain of causes, as {@link #causes} gives it
   * @return the broker's own words for why it closed the channel, when the chain holds them (e.g.
   *     {@code ACCESS_REFUSED - access to queue '...' refused for user '...'}), else {@code causes}
   */
  static String brokerWords(Throwable e, String causes) {
    com.rabbitmq.client.ShutdownSignalException s = closeIn(e);
    return s == null ? causes : Redaction.text(reason(s));
  }

  /**
   * @param e a failure
   * @return the reply code the broker closed a channel or connection with, found in the failure's chain
   *     (e.g. {@link com.rabbitmq.client.AMQP#ACCESS_REFUSED}), or 0 when the broker gave none
   */
  static int replyCode(Throwable e) {
    com.rabbitmq.client.ShutdownSignalException s = closeIn(e);
    Object m = s == null ? null : s.getReason();
    if (m instanceof com.rabbitmq.client.AMQP.Channel.Close c) {
      return c.getReplyCode();
    }
    if (m instanceof com.rabbitmq.client.AMQP.Connection.Close c) {
      return c.getReplyCode();
    }
    return 0;
  }

  /** @return the broker's close of a channel or connection in a failure's chain, or null */
  private static com.rabbitmq.client.ShutdownSignalException closeIn(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof com.rabbitmq.client.ShutdownSignalException s) {
        return s;
      }
    }
    return null;
  }

  /** Closes a channel if it is open, aborting it when a clean close cannot finish. */
  static void close(Channel ch) throws IOException {
    if (ch != null && ch.isOpen()) {
      try {
        ch.close();
      } catch (TimeoutException | AlreadyClosedException e) {
        ch.abort();
      }
    }
  }

  /** Runs an action whose failure matters to nobody (closing what is going away), logging it at debug. */
  static void quietly(String what, IoAction a) {
    try {
      a.run();
    } catch (IOException | RuntimeException e) {
      log.debug("{} failed: {}", what, e.toString());
    }
  }
}
