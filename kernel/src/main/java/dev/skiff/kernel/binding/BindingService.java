package dev.skiff.kernel.binding;

import com.codahale.metrics.Counter;
import com.google.protobuf.util.JsonFormat;
import dev.skiff.kernel.Bound;
import dev.skiff.kernel.Guard;
import dev.skiff.kernel.KernelContext;
import dev.skiff.kernel.KernelServiceBase;
import dev.skiff.kernel.WebServer;
import dev.skiff.kernel.discovery.Registry;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.Names;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.internal.JsonStrings;
import dev.skiff.platform.internal.Release;
import dev.skiff.platform.internal.Threads;
import dev.skiff.platform.security.Access;
import dev.skiff.platform.security.Caller;
import dev.skiff.platform.security.Role;
import dev.skiff.platform.transport.RoutingTopology;
import dev.skiff.platform.transport.Transport;
import dev.skiff.proto.v1.GetRouteRequest;
import dev.skiff.proto.v1.RouteRule;
import dev.skiff.proto.v1.RouteStatus;
import dev.skiff.proto.v1.SetRouteRequest;
import java.time.Clock;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The binding kernel service: keeps RabbitMQ's bindings equal to the registry and the routing rules
 * (docs/routing.md). Several copies may run: all of them keep the registry and the rules and answer
 * {@value #SERVICE} ({@code set_route}, {@code get_route}); one of them, the leader (the holder of the
 * exclusive consumer on queue {@value #LEADER_QUEUE}), changes bindings. When every copy is down,
 * traffic keeps flowing on the bindings as they are.
 *
 * <p>The leader applies a change of rule or of the registry at once, and repairs every service's
 * bindings every {@link #REPAIR}, or less often when a pass takes long (a binding deleted by hand comes
 * back within that time). All its
 * operations are idempotent declares, binds and unbinds.
 *
 * <p>A queue found missing as it is bound (an instance announced without one: a fake announcement, or
 * one that went away with its queue) is not bound again at every pass, since each try costs the broker a
 * channel error: it is tried again after {@link #MISSING_FIRST_RETRY}, then twice as long each time up
 * to {@link #MISSING_MAX_RETRY}, and after one {@link #MISSING_FIRST_RETRY} when the registry hears of a
 * change of its service; counted as {@value #MISSING_QUEUES}. Its registry is bounded like the discovery
 * service's ({@value #BOUND}, docs/security.md "Hostile input").
 */
public final class BindingService extends KernelServiceBase {
  /** The service name the routing API answers on. */
  public static final String SERVICE = "skiff.binding";
  /** The queue whose exclusive consumer is the leader. */
  public static final String LEADER_QUEUE = "skiff.binding.leader";
  /**
   * The role a person needs to change a service's routing rule: {@code ADMIN.ROUTES} for every service,
   * {@code ADMIN.ROUTES:SERVICE} for one (docs/security.md, "Roles"); {@code ADMIN} covers it.
   */
  public static final Role ROUTES_ADMIN = Role.of("ADMIN.ROUTES");
  /**
   * How often the leader re-applies every service's bindings, at most: when a full pass takes longer
   * than half of this, the pause after it is twice the pass, so that repairs take at most a third of
   * the leader's time and of the operations it sends the broker (a pass over 200 routed services took
   * about 2 s, and the leader repaired without pause). Changes are applied at once either way.
   */
  public static final Duration REPAIR = Duration.ofSeconds(1);
  /** How many services that once had a rule a pass checks for leftovers, at most. */
  static final int CLEANUP_SLICE = 20;
  /**
   * How long a weight exchange that left its route exchange's ring stays before it is deleted. A request
   * is routed in two steps, the ring's pick of a weight exchange and that exchange's own routing, and
   * RabbitMQ does not hold the pick still between them: a weight exchange deleted as it leaves the ring
   * loses the requests that picked it a moment before (about one call in 90,000 while rules changed under
   * load, docs/routing.md). Once out of the ring nothing new picks it; a second is far more than a routing step takes.
   */
  static final Duration RETIRE_AFTER = Duration.ofSeconds(1);
  /** How long the leader waits before it binds a queue found missing again, the first time. */
  public static final Duration MISSING_FIRST_RETRY = Duration.ofSeconds(1);
  /** How long the leader waits before it binds a queue found missing again, at most. */
  public static final Duration MISSING_MAX_RETRY = Duration.ofMinutes(1);
  /** The counter of binds that found their queue missing (each cost the broker a channel error). */
  public static final String MISSING_QUEUES = "skiff.kernel.binding.missing-queue";
  /** The name of the registry's bound: its metrics are {@code skiff.kernel.bound.binding-registry.*}. */
  public static final String BOUND = "binding-registry";
  private static final Logger log = LoggerFactory.getLogger(BindingService.class);

  private final Clock clock;
  private final Duration warmUp;
  private final Bound.Limits limits;
  /** Queues found missing, by service and version ("" for the service queue): when to try again. */
  private final Map<Version, Missing> missing = new ConcurrentHashMap<>();
  private volatile Counter missingQueues = new Counter();
  /** Services to reconcile, each at most once in the queue. */
  private final LinkedBlockingQueue<String> dirty = new LinkedBlockingQueue<>();
  private final Set<String> pending = ConcurrentHashMap.newKeySet();
  private final Set<String> versionsSeen = ConcurrentHashMap.newKeySet();
  private final Set<String> cleaned = ConcurrentHashMap.newKeySet();
  /** Shares this leader has taken out of their split (and not added since), by {@link #shareKey}. */
  private final Set<String> gone = ConcurrentHashMap.newKeySet();
  /** Shares out of their split and not yet deleted, by {@link #shareKey}. */
  private final Map<String, Retiring> retiring = new ConcurrentHashMap<>();
  /**
   * Versions that no longer run, whose queue is to be deleted once empty and unconsumed: a clean stop
   * announces itself before its instance stops consuming, so the first try usually finds the queue still
   * in use. Each as a {@link Version}.
   */
  private final Set<Version> unusedVersions = ConcurrentHashMap.newKeySet();
  private final AtomicLong reconciles = new AtomicLong();
  private final AtomicLong lastFullPassNanos = new AtomicLong();
  private final AtomicLong fullPasses = new AtomicLong();
  private volatile boolean leader;
  private RoutingTopology topology;
  private Registry registry;
  private RuleStore rules;
  private Server server;
  private Thread worker;
  private RoutingTopology.Lease lease;

  /**
   * For {@link java.util.ServiceLoader}: system clock, a warm-up of 3 s before a new leader acts, the
   * registry bounded as the environment says ({@link Registry#limitsFromEnvironment}).
   *
   * @throws IllegalArgumentException naming a variable whose value is invalid
   */
  public BindingService() {
    this(Clock.systemUTC(), Duration.ofSeconds(3), Registry.limitsFromEnvironment(System.getenv()));
  }

  /**
   * @param clock the time source
   * @param warmUp how long a new copy listens to announcements before it may change bindings, so that
   *     it does not act on a registry that has not heard every instance yet (longer than the heartbeat)
   */
  public BindingService(Clock clock, Duration warmUp) {
    this(clock, warmUp, Registry.DEFAULT_LIMITS);
  }

  /**
   * @param clock the time source
   * @param warmUp how long a new copy listens to announcements before it may change bindings
   * @param limits how many instances and bytes its registry holds at most
   */
  public BindingService(Clock clock, Duration warmUp, Bound.Limits limits) {
    super("binding");
    this.clock = clock;
    this.warmUp = warmUp;
    this.limits = limits;
  }


  @Override
  protected void begin(KernelContext context) {
    Transport t = context.transport();
    RoutingTopology routing = t.routing().orElse(null);
    if (routing == null) {
      log.warn("the binding service needs a transport that routes by version and weight (RabbitMQ); on {} it does nothing", t.describe());
      return;
    }
    topology = routing;
    missingQueues = context.metrics().counter(MISSING_QUEUES);
    Bound bound = new Bound(BOUND, limits, false).register(context.metrics());
    registry = new Registry(clock, bound);
    registry.onChange(s -> {
      retrySoon(s);
      markDirty(s);
    });
    registry.start(t, context.guard());
    rules = new RuleStore(routing, this::markDirty).start();
    server =
        Server.builder(SERVICE)
            .description("Routing rules: the share of traffic each version of a service gets")
            .version(Release.version())
            .transport(t)
            .metrics(context.metrics())
            .identities(context.guard().identities())
            .healthCheck("bounds", Bound.healthCheck(List.of(bound)))
            .endpoint(Endpoint.of("set_route", SetRouteRequest.class, RouteStatus.class, (req, ctx) -> {
              checkRole(context.guard(), ctx.caller(), req.getRule().getService());
              return setRoute(req);
            }).withAccess(Access.signedIn()))
            .endpoint(Endpoint.of("get_route", GetRouteRequest.class, RouteStatus.class, (req, ctx) -> getRoute(req.getService()))
                .withAccess(Guard.READ_VIEWS).asIdempotent())
            .build()
            .start();
    context.web().mount("/routing", "Routing rules", ex -> {
      if (!ex.getRequestMethod().equals("GET") && !ex.getRequestMethod().equals("HEAD")) {
        WebServer.methodNotAllowed(ex, "GET, HEAD");
        return;
      }
      String path = ex.getRequestURI().getPath();
      if (path.equals("/routing/api/rules")) {
        StringBuilder json = new StringBuilder("{");
        boolean first = true;
        for (String s : rules.rules().keySet().stream().sorted().toList()) {
          json.append(first ? "" : ",").append(JsonStrings.quote(s)).append(':').append(JsonFormat.printer().print(status(s)));
          first = false;
        }
        WebServer.send(ex, 200, "application/json", json.append('}').toString());
      } else if (path.equals("/routing") || path.equals("/routing/")) {
        java.util.TreeSet<String> services = new java.util.TreeSet<>(rules.rules().keySet());
        services.addAll(registry.services());
        WebServer.send(ex, 200, "text/html; charset=utf-8", RoutingPage.render(services.stream().map(this::status).toList()));
      } else {
        WebServer.notFound(ex, "not found (the page is /routing, the JSON /routing/api/rules)");
      }
    });
    worker = Threads.start("skiff-binding", this::run);
  }

  private void markDirty(String service) {
    if (pending.add(service)) {
      dirty.add(service);
    }
  }

  private String takeDirty(String s) {
    if (s != null) {
      pending.remove(s);
    }
    return s;
  }

  private void clearDirty() {
    dirty.clear();
    pending.clear();
  }

  /** @return whether this copy currently changes bindings */
  public boolean isLeader() {
    return leader;
  }

  /** @return the registry this copy keeps */
  public Registry registry() {
    return registry;
  }

  /** @return how long the leader's last full pass over every service took, in nanoseconds (0 before one) */
  public long lastFullPassNanos() {
    return lastFullPassNanos.get();
  }

  /** @return how many full passes over every service this copy has finished as the leader */
  public long fullPasses() {
    return fullPasses.get();
  }

  /** @return how many service reconciliations the leader has run */
  public long reconciles() {
    return reconciles.get();
  }

  // ---- the API ----

  /**
   * Refuses a route change from a person without {@link #ROUTES_ADMIN} for the rule's service
   * (docs/security.md): FORBIDDEN, counted by the guard. (The endpoint lets in signed-in people only, so
   * a caller without a session was already answered UNAUTHORIZED.)
   */
  private static void checkRole(Guard guard, Caller caller, String service) {
    if (service.isEmpty()) {
      throw new SkiffException(ErrorCode.BAD_REQUEST, "a routing rule needs a service");
    }
    Role required;
    try {
      Names.checkService(service);
      required = ROUTES_ADMIN.scopedTo(service);
    } catch (IllegalArgumentException e) {
      throw new SkiffException(ErrorCode.BAD_REQUEST, "a routing rule needs a valid service name: " + e.getMessage());
    }
    if (!guard.hasRole(Guard.ROUTE_CHANGE, caller, required)) {
      throw new SkiffException(ErrorCode.FORBIDDEN, "changing the routes of " + service + " needs role " + ROUTES_ADMIN
          + " (or " + required + ", or " + Role.ADMIN + "); " + caller.user().map(u -> "user " + u.user() + " has " + (u.roles().isEmpty() ? "no role"
              : "roles " + u.roles().stream().map(Role::toString).sorted().collect(java.util.stream.Collectors.joining(", ")))).orElse("no user"));
    }
  }

  /** The read view of one service's rule: BAD_REQUEST for an empty or invalid name (never "every instance"). */
  private RouteStatus getRoute(String service) {
    if (service.isEmpty()) {
      throw new SkiffException(ErrorCode.BAD_REQUEST, "get_route needs a service");
    }
    try {
      Names.checkService(service);
    } catch (IllegalArgumentException e) {
      throw new SkiffException(ErrorCode.BAD_REQUEST, "get_route needs a valid service name: " + e.getMessage());
    }
    return status(service);
  }

  RouteStatus setRoute(SetRouteRequest req) {
    RouteRule rule = req.getRule();
    String service = rule.getService();
    if (service.isEmpty()) {
      throw new SkiffException(ErrorCode.BAD_REQUEST, "a routing rule needs a service");
    }
    Map<String, Integer> running = registry.versions(service);
    if (!rule.getWeightsMap().isEmpty()) {
      if (running.isEmpty() && !req.getForce()) {
        throw new SkiffException(ErrorCode.NOT_FOUND,
            "service " + service + " has no running instance" + knownServices() + "; use --force to set the rule anyway")
            .withContext("service", service);
      }
      int sum = 0;
      for (Map.Entry<String, Integer> w : new TreeMap<>(rule.getWeightsMap()).entrySet()) {
        if (!Transport.VERSION.matcher(w.getKey()).matches()) {
          throw new SkiffException(ErrorCode.BAD_REQUEST, "invalid version '" + w.getKey() + "' in the rule for " + service);
        }
        if (w.getValue() < 0 || w.getValue() > 100) {
          throw new SkiffException(ErrorCode.BAD_REQUEST,
              "weight of version " + w.getKey() + " must be a percentage from 0 to 100, not " + w.getValue());
        }
        if (!running.containsKey(w.getKey()) && !req.getForce()) {
          throw new SkiffException(ErrorCode.BAD_REQUEST,
              "version " + w.getKey() + " of " + service + " is not running (running: " + running.keySet()
                  + "); use --force to set the rule anyway")
              .withContext("service", service);
        }
        sum += w.getValue();
      }
      if (sum != 100) {
        throw new SkiffException(ErrorCode.BAD_REQUEST,
            "the weights of a rule are percentages and must add up to 100; these add up to " + sum);
      }
    }
    long stamp = clock.millis();
    RouteRule stored = rule.toBuilder().setUpdatedMs(stamp).build();
    rules.append(stored);
    // answer once this copy has read it back, so that get_route right after shows it
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
    while (System.nanoTime() < until && !readBack(service, stored)) {
      try {
        Thread.sleep(5);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    log.info("routing rule for {} set: {}", service, rule.getWeightsMap().isEmpty() ? "none" : rule.getWeightsMap());
    return status(service);
  }

  private boolean readBack(String service, RouteRule stored) {
    RouteRule now = rules.rule(service);
    return stored.getWeightsMap().isEmpty() ? now == null || now.getUpdatedMs() >= stored.getUpdatedMs() && now.getWeightsMap().isEmpty()
        : now != null && now.getUpdatedMs() >= stored.getUpdatedMs();
  }

  private String knownServices() {
    Set<String> s = registry.services();
    return s.isEmpty() ? " (no service is running)" : " (running: " + s + ")";
  }

  RouteStatus status(String service) {
    RouteStatus.Builder b = RouteStatus.newBuilder();
    RouteRule rule = rules.rule(service);
    b.setRule(rule == null ? RouteRule.newBuilder().setService(service).build() : rule);
    Map<String, Integer> running = registry.versions(service);
    b.putAllInstances(running);
    b.putAllEffective(effective(rule, running));
    return b.build();
  }

  /** The rule's versions that run, with their weights; empty when none runs (the service is then unrouted). */
  static Map<String, Integer> effective(RouteRule rule, Map<String, Integer> running) {
    Map<String, Integer> e = new TreeMap<>();
    if (rule != null) {
      rule.getWeightsMap().forEach((v, w) -> {
        if (w > 0 && running.containsKey(v)) {
          e.put(v, w);
        }
      });
    }
    return e;
  }

  // ---- the leader's work ----

  private void run() {
    // the warm-up counts from taking the lead, every time: a copy that lost it with its connection (its node
    // died) missed the announcements of that outage, and its registry has forgotten the instances it did not
    // hear from; acting at once, it took their versions out of their split, or deleted the split and bound
    // the service queue, while they came back (requests then reached two queues and ran twice)
    long ledSince = System.nanoTime();
    long nextFull = 0;
    while (!!isRunning()) {
      try {
        if (!leader) {
          leader = tryLead();
          if (!leader) {
            if (dirty.poll(1, TimeUnit.SECONDS) != null) {
              clearDirty();
            }
            continue;
          }
          log.info("this binding service copy is now the leader");
          ledSince = System.nanoTime();
          nextFull = 0;
        }
        if (System.nanoTime() - ledSince < warmUp.toNanos() || !rules.caughtUp()) {
          Thread.sleep(50);
          continue;
        }
        if (System.nanoTime() >= nextFull) {
          long t0 = System.nanoTime();
          clearDirty(); // the pass covers them
          Set<String> all = new java.util.LinkedHashSet<>(registry.services());
          all.addAll(rules.rules().keySet());
          // then the services that once had a rule and now have neither rule nor instance: cleaned up once
          // (a slice per pass, so that a new leader's passes stay short and repairs stay prompt)
          int slice = CLEANUP_SLICE;
          for (String s : rules.servicesEver()) {
            if (slice > 0 && !all.contains(s) && !cleaned.contains(s)) {
              all.add(s);
              slice--;
            }
          }
          for (String s : all) {
            reconcile(s);
            // a change waits for at most one service's reconciliation, not for the whole pass
            for (String d = takeDirty(dirty.poll()); d != null; d = takeDirty(dirty.poll())) {
              reconcile(d);
            }
          }
          deleteUnusedVersionQueues();
          long pass = System.nanoTime() - t0;
          lastFullPassNanos.set(pass);
          fullPasses.incrementAndGet();
          nextFull = System.nanoTime() + Math.max(REPAIR.toNanos(), 2 * pass);
        }
        deleteRetired();
        long wait = Math.min(nextFull - System.nanoTime(), retiring.isEmpty() ? Long.MAX_VALUE : RETIRE_AFTER.toNanos() / 4);
        String s = takeDirty(dirty.poll(Math.max(1, wait / 1_000_000), TimeUnit.MILLISECONDS));
        for (; s != null; s = takeDirty(dirty.poll())) {
          reconcile(s);
        }
      } catch (InterruptedException e) {
        return;
      } catch (RuntimeException e) {
        log.warn("binding service: {}", e.toString());
        try {
          Thread.sleep(500);
        } catch (InterruptedException ie) {
          return;
        }
      }
    }
  }

  private boolean tryLead() {
    RoutingTopology.Lease held = topology.tryLease(LEADER_QUEUE, why -> {
      if (!!isRunning()) {
        log.warn("lost the binding leadership: {}", why);
        leader = false;
      }
    });
    if (held == null) {
      return false;
    }
    lease = held;
    return true;
  }

  /** Makes one service's bindings match its rule and its running versions. */
  void reconcile(String service) {
    reconciles.incrementAndGet();
    Map<String, Integer> running = registry.versions(service);
    RouteRule rule = rules.rule(service);
    if (rule == null && running.isEmpty() && cleaned.contains(service)) {
      return; // nothing runs, no rule, and its leftovers are gone already
    }
    Map<String, Integer> effective = effective(rule, running);
    // a version's queue takes the requests pinned to it
    for (String v : running.keySet()) {
      versionsSeen.add(service + "#" + v);
      unusedVersions.remove(new Version(service, v));
      bindQueue(new Version(service, v), () -> topology.bindVersion(service, v));
    }
    if (!effective.isEmpty()) {
      topology.declareSplit(service);
      // Each version's share enters the split through a share of its own per weight, so that a change of
      // weight adds a new destination before the old one goes: within the split a request always has
      // somewhere to go, and no queue is ever in the ring twice.
      for (Map.Entry<String, Integer> e : effective.entrySet()) {
        String share = shareKey(service, e.getKey(), e.getValue());
        gone.remove(share);
        retiring.remove(share); // back in use before it was deleted
        topology.addShare(service, e.getKey(), e.getValue());
      }
      removeShares(service, effective);
      topology.routeToSplit(service);
      topology.stopRoutingToServiceQueue(service);
    } else {
      if (!running.isEmpty()) {
        bindQueue(new Version(service, ""), () -> topology.routeToServiceQueue(service));
      }
      // the split goes last, so that while it exists its shares may still exist
      if (rules.servicesEver().contains(service) && topology.splitExists(service)) {
        topology.deleteSplit(service);
        removeShares(service, Map.of());
      }
    }
    if (running.isEmpty() && rule == null && rules.servicesEver().contains(service)) {
      cleaned.add(service); // only services that had a rule: cleaned holds no name a sender made up
    } else {
      cleaned.remove(service);
    }
    if (running.isEmpty()) {
      missing.keySet().removeIf(k -> k.service().equals(service));
    }
    // clean up after versions that no longer run: their queue goes once nobody consumes it and it is empty
    for (String key : Set.copyOf(versionsSeen)) {
      if (key.startsWith(service + "#")) {
        String v = key.substring(service.length() + 1);
        if (!running.containsKey(v)) {
          versionsSeen.remove(key);
          missing.remove(new Version(service, v));
          if (!topology.deleteVersionIfIdle(service, v)) {
            unusedVersions.add(new Version(service, v)); // in use or not empty: tried again at every full pass
          }
        }
      }
    }
  }

  /** Deletes the queues of versions that no longer run that are empty and unconsumed now; keeps the others for the next pass. */
  private void deleteUnusedVersionQueues() {
    for (Version v : unusedVersions) {
      if (topology.deleteVersionIfIdle(v.service(), v.version())) {
        unusedVersions.remove(v);
      }
    }
  }

  /** A version of a service ("" for the service queue). */
  private record Version(String service, String version) {}

  /**
   * A queue found missing.
   *
   * @param failures binds that found it missing in a row
   * @param lastNanos when it was last tried
   * @param nextNanos when to try it again
   */
  private record Missing(int failures, long lastNanos, long nextNanos) {}

  /**
   * Binds a queue unless it was found missing and its time to try again has not come; counts and
   * remembers when it is found missing.
   */
  private void bindQueue(Version queue, java.util.function.Supplier<RoutingTopology.Outcome> bind) {
    Missing m = missing.get(queue);
    long now = System.nanoTime();
    if (m != null && now - m.nextNanos() < 0) {
      return;
    }
    RoutingTopology.Outcome outcome = bind.get();
    if (outcome == RoutingTopology.Outcome.MISSING) {
      missingQueues.inc();
      int failures = m == null ? 1 : m.failures() + 1;
      long wait = Math.min(MISSING_MAX_RETRY.toNanos(), MISSING_FIRST_RETRY.toNanos() << Math.min(failures - 1, 20));
      missing.put(queue, new Missing(failures, now, now + wait));
      if (failures == 1) {
        log.debug("the queue of {} {} does not exist; not bound again before {}", queue.service(),
            queue.version().isEmpty() ? "(service queue)" : queue.version(), Duration.ofNanos(wait));
      }
    } else if (outcome == RoutingTopology.Outcome.DONE && m != null) {
      missing.remove(queue);
    }
  }

  /** A change of the service in the registry: its missing queues are tried again a little after their last try. */
  private void retrySoon(String service) {
    for (Map.Entry<Version, Missing> e : missing.entrySet()) {
      Missing m = e.getValue();
      long soon = m.lastNanos() + MISSING_FIRST_RETRY.toNanos();
      if (e.getKey().service().equals(service) && soon - m.nextNanos() < 0) {
        missing.replace(e.getKey(), m, new Missing(m.failures(), m.lastNanos(), soon));
      }
    }
  }

  /** Takes the shares of a service other than those of the effective weights out of its split. */
  private void removeShares(String service, Map<String, Integer> effective) {
    Set<String> versions = new HashSet<>(registry.versions(service).keySet());
    RouteRule r = rules.rule(service);
    if (r != null) {
      versions.addAll(r.getWeightsMap().keySet());
    }
    versions.addAll(rules.versionsEver(service));
    for (String v : versions) {
      for (int w : rules.weightsEver(service, v)) {
        Share share = new Share(service, v, w);
        if (!(effective.containsKey(v) && effective.get(v) == w) && gone.add(share.key())) {
          // out of the split now (synchronous), deleted once no routing can still be using it
          // (RETIRE_AFTER); done once per share by this leader (the unbind of a missing exchange
          // costs a channel)
          topology.removeShare(service, v, w);
          retiring.put(share.key(), new Retiring(share, System.nanoTime()));
        }
      }
    }
  }

  /** Deletes the shares that left their split at least {@link #RETIRE_AFTER} ago. */
  private void deleteRetired() {
    long now = System.nanoTime();
    for (Map.Entry<String, Retiring> e : retiring.entrySet()) {
      Retiring r = e.getValue();
      if (now - r.since() >= RETIRE_AFTER.toNanos() && retiring.remove(e.getKey(), r)) {
        topology.deleteShare(r.share().service(), r.share().version(), r.share().percent());
      }
    }
  }

  /** A version's share of a service's traffic, at one percentage. */
  private record Share(String service, String version, int percent) {
    String key() {
      return shareKey(service, version, percent);
    }
  }

  /** A share out of its split, waiting to be deleted. */
  private record Retiring(Share share, long since) {}

  private static String shareKey(String service, String version, int percent) {
    return service + "#" + version + "=" + percent;
  }

  @Override
  protected void end() {
    if (worker != null) {
      worker.interrupt();
      try {
        worker.join(2000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (server != null) {
      server.close();
    }
    RoutingTopology.Lease held = lease;
    if (held != null) {
      held.close();
    }
    leader = false;
    if (rules != null) {
      rules.close();
    }
    if (registry != null) {
      registry.close();
    }
  }
}
