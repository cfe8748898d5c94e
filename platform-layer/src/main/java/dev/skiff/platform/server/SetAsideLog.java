package dev.skiff.platform.server;

import dev.skiff.platform.internal.Printable;
import dev.skiff.platform.transport.RequestMessage;
import java.time.Clock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Logs the requests a server sets aside: one WARN line each, with no stack trace and every value from
 * the request escaped, at most one line a second; the lines left out are counted in the next one. A
 * flood of hostile messages then costs a line a second, not a line (or a stack trace) each. Thread-safe.
 */
final class SetAsideLog {
  private static final Logger log = LoggerFactory.getLogger(SetAsideLog.class);
  private static final long INTERVAL_MILLIS = 1000;

  private final String service;
  private final Clock clock;
  private long lastLineMillis = Long.MIN_VALUE;
  private long unlogged;

  /**
   * @param service the service, for the lines
   * @param clock the clock
   */
  SetAsideLog(String service, Clock clock) {
    this.service = service;
    this.clock = clock;
  }

  /**
   * A request was set aside.
   *
   * @param req the request
   * @param code why, in short
   * @param reason why
   */
  void setAside(RequestMessage req, String code, String reason) {
    long more;
    synchronized (this) {
      long now = clock.millis();
      if (lastLineMillis != Long.MIN_VALUE && now - lastLineMillis < INTERVAL_MILLIS) {
        unlogged++;
        return;
      }
      lastLineMillis = now;
      more = unlogged;
      unlogged = 0;
    }
    log.warn("{}: request {} to endpoint {} from {} set aside ({}): {}; see it with: skiff dead-letters list {}{}",
        service, Printable.of(req.requestId()), Printable.of(req.endpoint()), Printable.of(req.userId()), code, reason, service,
        more == 0 ? "" : " (and " + more + " more set aside since the last line)");
  }
}
