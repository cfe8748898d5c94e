package dev.skiff.platform.client;

import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import java.util.concurrent.TimeUnit;

/**
 * A client's circuit breakers, one per service and endpoint, after {@link BreakerOptions}. Built on
 * resilience4j's breaker, which stays behind this class: nothing of it is in Skiff's API. Thread-safe.
 */
final class Breakers {
  /** What a breaker is told a counted failure was (resilience4j asks for a throwable; it keeps none). */
  private static final SkiffException COUNTED = new SkiffException(ErrorCode.UNAVAILABLE, "a failure the service is to blame for");

  private final CircuitBreakerRegistry registry;
  private final BreakerOptions options;

  /** @param options how they behave */
  Breakers(BreakerOptions options) {
    this.options = options;
    this.registry = CircuitBreakerRegistry.of(
        CircuitBreakerConfig.custom()
            .slidingWindowType(CircuitBreakerConfig.SlidingWindowType.COUNT_BASED)
            .slidingWindowSize(options.windowCalls())
            .minimumNumberOfCalls(options.minimumCalls())
            .failureRateThreshold(options.failureRatePercent())
            .waitDurationInOpenState(options.openFor())
            .permittedNumberOfCallsInHalfOpenState(options.trialCalls())
            .automaticTransitionFromOpenToHalfOpenEnabled(false)
            .build());
  }

  /** Errors that say the service is unhealthy, as opposed to the request being wrong. */
  static boolean countsAgainstService(ErrorCode code) {
    return switch (code) {
      case TIMEOUT, UNAVAILABLE, CAPACITY, INTERNAL, UNKNOWN_OUTCOME -> true;
      default -> false;
    };
  }

  /** One service endpoint's breaker. */
  final class Breaker {
    private final String key;
    private final CircuitBreaker cb;

    private Breaker(String key, CircuitBreaker cb) {
      this.key = key;
      this.cb = cb;
    }

    /**
     * Asks to send a call.
     *
     * @param service the service, for the error's context
     * @throws SkiffException CIRCUIT_OPEN when the breaker is open (or its trial calls are out)
     */
    void acquire(String service) {
      if (!cb.tryAcquirePermission()) {
        throw new SkiffException(
                ErrorCode.CIRCUIT_OPEN,
                "not sent: the circuit breaker for " + key + " is open after " + Math.round(cb.getMetrics().getFailureRate())
                    + "% of recent calls failed; it lets a trial call through after " + options.openFor().toMillis() + " ms")
            .withContext("service", service);
      }
    }

    /**
     * Records how a call that was let through ended.
     *
     * @param nanos how long it took
     * @param error its error, or null for a success
     */
    void record(long nanos, ErrorCode error) {
      if (error != null && countsAgainstService(error)) {
        cb.onError(nanos, TimeUnit.NANOSECONDS, COUNTED);
      } else {
        cb.onSuccess(nanos, TimeUnit.NANOSECONDS);
      }
    }
  }

  /**
   * @param key {@code SERVICE/ENDPOINT}
   * @return its breaker
   */
  Breaker forKey(String key) {
    return new Breaker(key, registry.circuitBreaker(key));
  }

  /** @return how many breakers are open now */
  int open() {
    return (int) registry.getAllCircuitBreakers().stream().filter(b -> b.getState() == CircuitBreaker.State.OPEN).count();
  }
}
