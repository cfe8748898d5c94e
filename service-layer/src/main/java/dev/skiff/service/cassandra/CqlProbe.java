package dev.skiff.service.cassandra;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.List;

/**
 * Asks a node plainly, without the driver, whether it serves CQL: a fresh TCP connection, a protocol v4
 * OPTIONS frame, and a SUPPORTED frame back. The native transport opens only once a node is ready, so
 * an answer means the node would take a new connection now. Plain text only: behind TLS it never
 * answers.
 */
final class CqlProbe {
  private static final byte[] OPTIONS = {0x04, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00};
  private static final int RESPONSE_V4 = 0x84;
  private static final int SUPPORTED = 0x06;

  private CqlProbe() {}

  /**
   * @param hosts contact points
   * @param timeout for connecting and for the answer, each (at most 2 s is used)
   * @return whether one of them answers
   */
  static boolean anyAnswers(List<InetSocketAddress> hosts, Duration timeout) {
    int ms = (int) Math.max(1, Math.min(timeout.toMillis(), 2000));
    return hosts.stream().anyMatch(h -> answers(h, ms));
  }

  private static boolean answers(InetSocketAddress host, int timeoutMillis) {
    try (Socket s = new Socket()) {
      s.connect(host, timeoutMillis);
      s.setSoTimeout(timeoutMillis);
      s.getOutputStream().write(OPTIONS);
      s.getOutputStream().flush();
      InputStream in = s.getInputStream();
      byte[] header = in.readNBytes(OPTIONS.length);
      return header.length == OPTIONS.length && (header[0] & 0xff) == RESPONSE_V4 && header[4] == SUPPORTED;
    } catch (IOException e) {
      return false;
    }
  }
}
