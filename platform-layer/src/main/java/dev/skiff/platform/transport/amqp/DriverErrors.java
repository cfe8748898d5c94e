package dev.skiff.platform.transport.amqp;

import com.rabbitmq.client.Connection;
import com.rabbitmq.client.impl.DefaultExceptionHandler;
import java.io.EOFException;
import java.io.IOException;
import java.net.SocketException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * amqp-client's exception handler, but a connection lost the ordinary way (the broker stopped or
 * restarted, the network went: a broken pipe, a reset, an end of stream) is one warning line, not an
 * ERROR with a 25-line stack trace in every service's log and on the terminal of every {@code skiff}
 * command running at that moment; recovery follows as before. Anything else is logged as amqp-client does.
 */
final class DriverErrors extends DefaultExceptionHandler {
  private static final Logger log = LoggerFactory.getLogger(DriverErrors.class);

  @Override
  public void handleUnexpectedConnectionDriverException(Connection conn, Throwable exception) {
    if (ordinaryLoss(exception)) {
      log.warn("connection '{}' to the broker ended: {} (an established connection recovers on its own)", conn.getClientProvidedName(),
          exception.toString());
      return;
    }
    super.handleUnexpectedConnectionDriverException(conn, exception);
  }

  /**
   * @param e what the connection's reading or writing thread met
   * @return whether it is how a connection ends when its broker or the network goes away
   */
  static boolean ordinaryLoss(Throwable e) {
    return e instanceof SocketException || e instanceof EOFException
        || (e instanceof IOException && e.getCause() instanceof SocketException);
  }
}
