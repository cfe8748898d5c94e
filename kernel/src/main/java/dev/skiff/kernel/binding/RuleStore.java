package dev.skiff.kernel.binding;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.transport.RoutingTopology;
import dev.skiff.proto.v1.RouteRule;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The routing rules, stored durably as a log in a RabbitMQ stream ({@value #STREAM}, a queue type built
 * into RabbitMQ 3.9+): setting a rule appends it (persistent, confirmed); every reader consumes the
 * stream from its first entry, so each copy of the binding service folds the same log into the same
 * rules, survives a restart of the kernel (and of the broker), and hears of a change within
 * milliseconds. The latest entry for a service is its rule; an entry with no weights removes it.
 *
 * <p>Also remembers every weight a version ever had, so that a new leader can remove bindings an
 * earlier leader left behind. Thread-safe.
 */
final class RuleStore implements AutoCloseable {
  /** The stream that holds the rule log. */
  static final String STREAM = "skiff.routes";
  private static final Logger log = LoggerFactory.getLogger(RuleStore.class);

  /** How much of the log is kept: about half a million rule changes. */
  static final long MAX_BYTES = 64L << 20;

  private final RoutingTopology topology;
  private final Consumer<String> onChange;
  private final Map<String, RouteRule> rules = new ConcurrentHashMap<>();
  private final Map<String, Set<Integer>> history = new ConcurrentHashMap<>();
  private final String marker = "skiff.marker." + java.util.UUID.randomUUID();
  private final CountDownLatch caughtUp = new CountDownLatch(1);
  private RoutingTopology.DurableLog stream;

  RuleStore(RoutingTopology topology, Consumer<String> onChange) {
    this.topology = Objects.requireNonNull(topology, "topology");
    this.onChange = Objects.requireNonNull(onChange, "onChange");
  }

  RuleStore start() {
    try {
      stream = topology.openLog(STREAM, MAX_BYTES, this::take);
      // reading our own marker back means every rule appended before it has been read
      append(RouteRule.newBuilder().setService(marker).build());
    } catch (RuntimeException e) {
      throw new SkiffException(ErrorCode.UNAVAILABLE, "cannot open the routing rule stream " + STREAM + ": " + e.getMessage(), e);
    }
    return this;
  }

  private void take(byte[] body) {
    RouteRule r;
    try {
      r = RouteRule.parseFrom(body);
    } catch (InvalidProtocolBufferException e) {
      log.warn("skipped a malformed entry in {}: {}", STREAM, e.getMessage());
      return;
    }
    if (r.getService().startsWith("skiff.marker.")) {
      if (r.getService().equals(marker)) {
        caughtUp.countDown();
      }
      return;
    }
    if (r.getWeightsMap().isEmpty()) {
      rules.remove(r.getService());
    } else {
      rules.put(r.getService(), r);
      r.getWeightsMap().forEach((v, w) ->
          history.computeIfAbsent(r.getService() + "#" + v, k -> ConcurrentHashMap.newKeySet()).add(w));
    }
    onChange.accept(r.getService());
  }

  /**
   * Appends a rule and waits for the broker to confirm it is stored.
   *
   * @param rule the rule (no weights: remove the service's rule)
   */
  void append(RouteRule rule) {
    try {
      stream.append(rule.toByteArray());
    } catch (RuntimeException e) {
      throw new SkiffException(ErrorCode.UNAVAILABLE, "cannot store the routing rule: " + e.getMessage(), e);
    }
  }

  /**
   * @param timeoutMs how long to wait
   * @return true once the whole log as of start has been read
   */
  boolean awaitCaughtUp(long timeoutMs) {
    try {
      return caughtUp.await(timeoutMs, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** @return whether the whole log as of start has been read */
  boolean caughtUp() {
    return caughtUp.getCount() == 0;
  }

  /** @return the rules, by service */
  Map<String, RouteRule> rules() {
    return Map.copyOf(rules);
  }

  /**
   * @param service the service
   * @return its rule, or null
   */
  RouteRule rule(String service) {
    return rules.get(service);
  }

  /**
   * @param service the service
   * @param version one of its versions
   * @return every weight the version ever had in a rule
   */
  Set<Integer> weightsEver(String service, String version) {
    return Set.copyOf(history.getOrDefault(service + "#" + version, Set.of()));
  }

  /**
   * @param service the service
   * @return every version that ever had a weight in one of its rules
   */
  Set<String> versionsEver(String service) {
    Set<String> s = new java.util.TreeSet<>();
    history.keySet().stream().filter(k -> k.startsWith(service + "#")).forEach(k -> s.add(k.substring(service.length() + 1)));
    return s;
  }

  /** @return the services that ever had a rule */
  Set<String> servicesEver() {
    Set<String> s = new java.util.TreeSet<>();
    history.keySet().forEach(k -> s.add(k.substring(0, k.indexOf('#'))));
    return s;
  }

  @Override
  public void close() {
    RoutingTopology.DurableLog l = stream;
    if (l != null) {
      l.close();
    }
  }
}
