package dev.skiff.platform.metrics;

import com.codahale.metrics.Counter;
import com.codahale.metrics.LockFreeExponentiallyDecayingReservoir;
import com.codahale.metrics.Meter;
import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.Timer;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.observe.ClientEvent;
import dev.skiff.platform.observe.RpcObserver;
import dev.skiff.platform.observe.ServerEvent;
import java.util.Collection;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Per-endpoint metrics of every request a server finishes and every call a client makes, kept in a
 * Dropwizard {@link MetricRegistry} through the {@link RpcObserver} hook. A server adds one for itself
 * unless metrics are switched off; a standalone client gets its own with
 * {@code Client.builder().observer(new RpcMetrics(registry, Set.of()))}.
 *
 * <p>Names (each endpoint's objects are created once and cached, so a call costs map look-ups, a timer
 * or meter update, and no other allocation):
 * <ul>
 *   <li>{@code skiff.server.endpoint.E.requests} (meter): requests to endpoint E finished, answered or not.
 *       The handler's own time is the timer {@code skiff.server.endpoint.E}, kept by the server.
 *   <li>{@code skiff.server.endpoint.E.errors} (meter) and {@code skiff.server.endpoint.E.errors.CODE}
 *       (counter): those that ended with an error, in all and by code.
 *   <li>{@code skiff.client.call.S.E} (timer): attempts of calls to service S endpoint E, from sending
 *       to reply or timeout; {@code skiff.client.call.S.E.errors} and {@code ...errors.CODE} likewise.
 * </ul>
 * Requests naming an endpoint the service lacks count under the endpoint name {@code _unknown}; past
 * {@link #MAX_CLIENT_TARGETS} distinct call targets, further ones count under {@code _other._other}.
 *
 * <p>Thread-safe; its callbacks never block.
 */
public final class RpcMetrics implements RpcObserver {
  /** The most distinct service/endpoint pairs a client's calls are kept apart for. */
  public static final int MAX_CLIENT_TARGETS = 1000;

  private static final ErrorCode[] CODES = ErrorCode.values();

  private final MetricRegistry registry;
  private final Map<String, Side> server = new ConcurrentHashMap<>();
  private final Side unknownEndpoint;
  private final Map<String, Map<String, Side>> client = new ConcurrentHashMap<>();
  private final AtomicInteger clientTargets = new AtomicInteger();
  private volatile Side otherTarget;

  /**
   * @param registry where the metrics go
   * @param serverEndpoints the endpoints of the server it observes (empty for a client only)
   */
  public RpcMetrics(MetricRegistry registry, Collection<String> serverEndpoints) {
    this.registry = Objects.requireNonNull(registry, "registry");
    for (String e : serverEndpoints) {
      server.put(e, serverSide(e));
    }
    this.unknownEndpoint = serverSide("_unknown");
  }

  private Side serverSide(String endpoint) {
    String base = "skiff.server.endpoint." + endpoint;
    return new Side(registry, base, null, registry.meter(base + ".requests"));
  }

  /**
   * One endpoint's metrics, on one side of the call.
   */
  public static final class Side {
    private final MetricRegistry registry;
    private final String base;
    private final Timer timer;
    private final Meter requests;
    private final Meter errors;
    private final AtomicReferenceArray<Counter> byCode = new AtomicReferenceArray<>(CODES.length);

    Side(MetricRegistry registry, String base, Timer timer, Meter requests) {
      this.registry = registry;
      this.base = base;
      this.timer = timer;
      this.requests = requests;
      this.errors = registry.meter(base + ".errors");
    }

    void record(long nanos, ErrorCode error) {
      if (timer != null) {
        timer.update(nanos, TimeUnit.NANOSECONDS);
      } else {
        requests.mark();
      }
      if (error != null) {
        errors.mark();
        Counter c = byCode.get(error.ordinal());
        if (c == null) {
          byCode.compareAndSet(error.ordinal(), null, registry.counter(base + ".errors." + error.name()));
          c = byCode.get(error.ordinal());
        }
        c.inc();
      }
    }

    /** @return requests (or attempts) recorded */
    public long count() {
      return timer != null ? timer.getCount() : requests.getCount();
    }

    /** @return those that ended with an error */
    public long errors() {
      return errors.getCount();
    }

    /**
     * @param code an error code
     * @return how many ended with it
     */
    public long errors(ErrorCode code) {
      Counter c = byCode.get(code.ordinal());
      return c == null ? 0 : c.getCount();
    }

    /** @return the latency timer for a client side, or null for a server side (the server keeps its own) */
    public Timer timer() {
      return timer;
    }

    /** @return the 1-minute rate of requests, per second */
    public double rate1m() {
      return timer != null ? timer.getOneMinuteRate() : requests.getOneMinuteRate();
    }
  }

  @Override
  public void onServerRequest(ServerEvent event) {
    Side s = server.get(event.endpoint());
    (s == null ? unknownEndpoint : s).record(event.durationNanos(), event.error());
  }

  @Override
  public void onClientAttempt(ClientEvent event) {
    clientSide(event.service(), event.endpoint()).record(event.durationNanos(), event.error());
  }

  private Side clientSide(String service, String endpoint) {
    Map<String, Side> byEndpoint = client.get(service);
    if (byEndpoint != null) {
      Side s = byEndpoint.get(endpoint);
      if (s != null) {
        return s;
      }
    }
    return newClientSide(service, endpoint);
  }

  private Side newClientSide(String service, String endpoint) {
    if (clientTargets.get() >= MAX_CLIENT_TARGETS) {
      Side o = otherTarget;
      if (o == null) {
        synchronized (this) {
          if (otherTarget == null) {
            otherTarget = clientSideFor("_other", "_other");
          }
          o = otherTarget;
        }
      }
      return o;
    }
    return client.computeIfAbsent(service, k -> new ConcurrentHashMap<>())
        .computeIfAbsent(endpoint, e -> {
          clientTargets.incrementAndGet();
          return clientSideFor(service, e);
        });
  }

  private Side clientSideFor(String service, String endpoint) {
    String base = "skiff.client.call." + service + "." + endpoint;
    return new Side(registry, base, registry.timer(base, RpcMetrics::newTimer), null);
  }

  /**
   * A timer whose reservoir updates without a lock (the default one locks on every update): for a
   * timer updated on every request, {@code registry.timer(name, RpcMetrics::newTimer)}.
   *
   * @return a new timer
   */
  public static Timer newTimer() {
    return new Timer(LockFreeExponentiallyDecayingReservoir.builder().build());
  }

  /** @return the server endpoints' metrics, by endpoint name */
  public Map<String, Side> serverEndpoints() {
    return Map.copyOf(server);
  }

  /** @return the client calls' metrics, by "service/endpoint" */
  public Map<String, Side> clientCalls() {
    Map<String, Side> out = new java.util.TreeMap<>();
    client.forEach((svc, eps) -> eps.forEach((ep, side) -> out.put(svc + "/" + ep, side)));
    Side o = otherTarget;
    if (o != null) {
      out.put("_other/_other", o);
    }
    return out;
  }
}
