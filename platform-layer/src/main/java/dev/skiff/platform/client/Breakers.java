package dev.skiff.platform.client;

import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.RpcProgress;
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
            .slidingWindowType(CircuitBreakerConfig.SlidingWindowType.TIME_BASED)
            .slidingWindowSize((int) options.window().toSeconds())
            .minimumNumberOfCalls(options.minimumCalls())
            .failureRateThreshold(options.failureRatePercent())
            .waitDurationInOpenState(options.openFor())
            .permittedNumberOfCallsInHalfOpenState(options.trialCalls())
            .automaticTransitionFromOpenToHalfOpenEnabled(false)
            .build());
  }

  /** What the end of a call says about the health of the service it called. */
  enum Evidence {
    /** The service answered: a success, or the caller's own mistake (BAD_REQUEST, NOT_FOUND, ...). */
    SERVED,
    /** The service is failing: it timed out, was full, broke, or said it is unavailable. */
    FAILING,
    /**
     * Nothing about the service: an instance went away with the request (UNKNOWN_OUTCOME), the request
     * reached no server ({@link RpcProgress#reachedNoServer()}: it never left this process, or the broker
     * routed it to no queue), the broker connection was lost, or the breaker itself refused.
     */
    NONE
  }

  /**
   * @param error how a call ended, or null for a success
   * @return what it says about the service's health
   */
  static Evidence evidence(SkiffException error) {
    if (error == null) {
      return Evidence.SERVED;
    }
    if (error.progress().reachedNoServer()) {
      return Evidence.NONE;
    }
    return switch (error.code()) {
      case TIMEOUT, CAPACITY, INTERNAL -> Evidence.FAILING;
      // answered by an instance of the service; without one, it is this side's connection that failed
      case UNAVAILABLE -> error.instance().isEmpty() ? Evidence.NONE : Evidence.FAILING;
      case UNKNOWN_OUTCOME, CIRCUIT_OPEN -> Evidence.NONE;
      default -> Evidence.SERVED;
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
                "not sent: the circuit breaker for " + key + " is open: " + Math.round(cb.getMetrics().getFailureRate())
                    + "% of its calls in the last " + options.window().toSeconds() + " s failed; it lets a trial call through after "
                    + options.openFor().toMillis() + " ms")
            .withContext("service", service);
      }
    }

    /**
     * Records how a call that was let through ended (see {@link #evidence}).
     *
     * @param nanos how long it took
     * @param error its error, or null for a success
     */
    void record(long nanos, SkiffException error) {
      switch (evidence(error)) {
        case SERVED -> cb.onSuccess(nanos, TimeUnit.NANOSECONDS);
        case FAILING -> cb.onError(nanos, TimeUnit.NANOSECONDS, COUNTED);
        // the permission is handed back: not a trial's verdict, not counted in the window
        case NONE -> cb.releasePermission();
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
