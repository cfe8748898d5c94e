package ${package};

import dev.skiff.platform.health.HealthCheck;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A healthcheck of the service's own: what it reports shows in {@code skiff health ${service}} and on the
 * kernel's dashboard. This one reports how many requests were served and when the last one was; make it
 * look at what your handlers need (a connection, a file, a queue) and say unhealthy when that is broken.
 */
final class ReadyCheck extends HealthCheck {
  private final AtomicLong served = new AtomicLong();
  private final AtomicReference<Instant> last = new AtomicReference<>();

  /** Counts one request served. */
  void served() {
    served.incrementAndGet();
    last.set(Instant.now().truncatedTo(ChronoUnit.SECONDS));
  }

  @Override
  protected Result check() {
    long n = served.get();
    return Result.healthy(n == 0 ? "ready, nothing served yet" : "ready, " + n + " served, the last at " + last.get());
  }
}
