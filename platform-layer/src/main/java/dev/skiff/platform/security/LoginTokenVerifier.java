package dev.skiff.platform.security;

import com.codahale.metrics.Counter;
import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.RemovalCause;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSVerifier;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.internal.ExpiresAt;
import dev.skiff.platform.internal.Printable;
import dev.skiff.platform.pubsub.PubSub;
import dev.skiff.platform.security.TokenRejectedException.Reason;
import dev.skiff.platform.transport.Transport;
import dev.skiff.proto.v1.KeysChanged;
import dev.skiff.proto.v1.Revocation;
import dev.skiff.proto.v1.RevocationsResponse;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Date;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The platform's {@link TokenVerifier}: checks the session tokens the login service ({@value #SERVICE})
 * signs, with the public keys it publishes, and refuses the sessions it ended. Every {@code Server}
 * has one unless told otherwise ({@code ServerBuilder.tokenVerifier}); see docs/security.md.
 *
 * <p><b>What it accepts.</b> A compact JWS signed with ES256 (the header's {@code alg} must be exactly
 * that: {@code none}, HMAC and every other algorithm are refused before any key is looked at) by a key
 * whose {@code kid} the login service publishes, with claims {@code iss} = {@value #ISSUER}, {@code sub}
 * (the user), {@code sid} (the session), {@code roles} (a list of {@link Role} texts), {@code iat} and
 * {@code exp}; not expired (allowing {@link Builder#clockSkew} for clocks that differ), not issued in the
 * future, and not revoked.
 *
 * <p><b>Keys.</b> Fetched from the login service ({@link Source#keys()}) on the first token, replaced
 * whenever it publishes {@value #KEYS_TOPIC}, and fetched again (at most once per
 * {@link Builder#keyRefreshInterval}) when a token names a key this verifier does not know, so a key
 * rotated in elsewhere is learned at once. When the first fetch of keys or ended sessions fails, tokens
 * are refused ({@code KEYS_UNAVAILABLE}) until both are had: it tries again a refresh interval later, or
 * at once when the event comes (a login service that starts publishes its keys).
 *
 * <p><b>Revocation, within a second.</b> It subscribes to {@value #REVOKED_TOPIC}, believing only events
 * whose broker-proven sender may act as {@value #SERVICE} ({@link ServiceIdentities#mayActAs}; others
 * are counted and dropped), and catches up through {@link Source#revocations(long)} right after
 * subscribing, so that nothing ended before it listened is missed. The revocation check runs on every
 * call, cached token or not, so a revoked token is refused as soon as the event arrives (milliseconds
 * after the logout). While the broker connection that events arrive on is lost, and until it has caught
 * up after its recovery, it refuses every token ({@code KEYS_UNAVAILABLE}): it fails closed rather than
 * miss a revocation. The list is bounded ({@link Builder#maxRevocations}); see {@link RevocationList}
 * for what happens at the bound.
 *
 * <p><b>Cost.</b> Nothing until the first token: the subscriptions and the key fetch happen then (that
 * first call waits up to {@link Builder#keyWait} for the keys). A token verified once is cached
 * (bounded by {@link Builder#maxCacheBytes}, each entry dropped at its token's expiry), so a repeated
 * token costs a hash lookup and the revocation check, never a signature check.
 *
 * <p><b>Metrics</b> ({@code skiff.tokens.*} in the registry given): {@code verified} (signatures
 * checked), {@code cache-hits}, {@code refused.REASON}, {@code cache-evicted} (dropped at the cache's
 * bound), {@code revocations} (held), {@code revocations-overflow}, {@code refused-events} (from a sender
 * that may not act as the login service), {@code key-fetches}.
 *
 * <p>Thread-safe. {@link #close()} stops its subscriptions; it then refuses every token.
 */
public final class LoginTokenVerifier implements TokenVerifier, AutoCloseable {
  /** The login service. */
  public static final String SERVICE = "skiff.login";
  /** The {@code iss} claim of its tokens. */
  public static final String ISSUER = "skiff.login";
  /** The topic it publishes its key set on when it changes ({@code KeysChanged}). */
  public static final String KEYS_TOPIC = "login.keys";
  /** The topic it publishes ended sessions on ({@code Revocation}). */
  public static final String REVOKED_TOPIC = "login.revoked";
  /** The one signature algorithm accepted. */
  public static final JWSAlgorithm ALGORITHM = JWSAlgorithm.ES256;
  /** The claim holding the session id. */
  public static final String SESSION_CLAIM = "sid";
  /** The claim holding the roles, a list of role texts. */
  public static final String ROLES_CLAIM = "roles";

  /** What a user name looks like (the login service refuses to create others). */
  public static final Pattern USER_NAME = Pattern.compile("[a-z][a-z0-9._-]{0,63}");
  /** What a session id and a key id look like. */
  static final Pattern ID = Pattern.compile("[A-Za-z0-9_-]{8,64}");
  private static final int MAX_ROLES = 64;
  private static final int MAX_KEYS = 32;
  private static final int MAX_JWKS_CHARS = 64 * 1024;
  private static final int MAX_CATCH_UP_PAGES = 1000;
  /** How far back a catch-up after a lost connection reaches before the last answer (login services' clocks differ). */
  private static final long CATCH_UP_MARGIN_MS = 5 * 60_000;

  private static final Logger log = LoggerFactory.getLogger(LoginTokenVerifier.class);

  /**
   * Where the verifier gets the login service's keys and ended sessions: over RPC in every service (the
   * server's client calls {@value #SERVICE}'s {@code keys} and {@code revocations}); from its own store in
   * the login service itself.
   */
  public interface Source {
    /** @return the public keys, as a JSON Web Key Set, or a failure */
    CompletableFuture<String> keys();

    /**
     * @param sinceMillis the earliest revocation time wanted (ms since the epoch; 0 for all still in force)
     * @return the sessions ended since then, or a failure
     */
    CompletableFuture<RevocationsResponse> revocations(long sinceMillis);
  }

  private final Transport transport;
  private final Source source;
  private final ServiceIdentities identities;
  private final MetricRegistry metrics;
  private final Clock clock;
  private final long skewMillis;
  private final Duration keyWait;
  private final long refreshIntervalMillis;
  private final RevocationList revocations;
  private final Cache<String, UserIdentity> cache;
  /** Registered on the first token: a server that never sees one has none of these metrics. */
  private volatile Counters counters;

  /** Guards starting, closing and the metrics; may be held while subscribing (broker I/O). */
  private final Object lock = new Object();
  /** Guards the catching-up state; never held during I/O (connection notices take it on transport threads). */
  private final Object stateLock = new Object();
  private final List<AutoCloseable> subscriptions = new ArrayList<>();
  private volatile boolean started;
  private volatile boolean closed;
  private volatile Map<String, JWSVerifier> verifiers = Map.of();
  /** The first fetch of keys and revocations (again after it failed). */
  private volatile CompletableFuture<Void> ready;
  /** The catch-up with ended sessions that {@link #ready} waits for beside the keys. */
  private volatile CompletableFuture<Void> readyCatchUp;
  private volatile long readyStartedAt;
  private volatile CompletableFuture<Void> keyRefresh = CompletableFuture.completedFuture(null);
  private final AtomicLong keyRefreshAt = new AtomicLong(Long.MIN_VALUE / 2);
  private final AtomicLong subscribeFailedAt = new AtomicLong(Long.MIN_VALUE / 2);
  /** Non-null while events may have been missed: the connection is lost, or the catch-up after it runs. */
  private volatile CompletableFuture<Void> catchingUp;
  private volatile boolean connectionLost;
  private volatile long asOf;

  private LoginTokenVerifier(Builder b) {
    this.transport = Objects.requireNonNull(b.transport, "transport");
    this.source = Objects.requireNonNull(b.source, "source");
    this.identities = b.identities == null ? ServiceIdentities.fromEnvironment() : b.identities;
    this.metrics = b.metrics == null ? new MetricRegistry() : b.metrics;
    this.clock = b.clock;
    this.skewMillis = b.clockSkew.toMillis();
    this.keyWait = b.keyWait;
    this.refreshIntervalMillis = b.keyRefreshInterval.toMillis();
    this.revocations = new RevocationList(b.maxRevocations);
    this.cache = Caffeine.newBuilder()
        .maximumWeight(b.maxCacheBytes)
        .weigher((String token, UserIdentity id) -> 2 * token.length() + 512)
        .expireAfter(new ExpiresAt<String, UserIdentity>(clock, skewMillis, id -> id.expiresAt().toEpochMilli()))
        .executor(Runnable::run)
        .removalListener((String token, UserIdentity id, RemovalCause cause) -> {
          if (cause == RemovalCause.SIZE) {
            counters().evicted.inc();
          }
        })
        .build();
  }

  /** The verifier's metrics ({@code skiff.tokens.*}). */
  private static final class Counters {
    final Counter verified;
    final Counter cacheHits;
    final Counter evicted;
    final Counter overflows;
    final Counter refusedEvents;
    final Counter keyFetches;
    final Map<Reason, Counter> refused = new HashMap<>();

    Counters(MetricRegistry metrics, RevocationList revocations) {
      verified = metrics.counter("skiff.tokens.verified");
      cacheHits = metrics.counter("skiff.tokens.cache-hits");
      evicted = metrics.counter("skiff.tokens.cache-evicted");
      overflows = metrics.counter("skiff.tokens.revocations-overflow");
      refusedEvents = metrics.counter("skiff.tokens.refused-events");
      keyFetches = metrics.counter("skiff.tokens.key-fetches");
      for (Reason r : Reason.values()) {
        refused.put(r, metrics.counter("skiff.tokens.refused." + r.name()));
      }
      metrics.gauge("skiff.tokens.revocations", () -> (Gauge<Integer>) revocations::size);
    }
  }

  private Counters counters() {
    Counters c = counters;
    if (c == null) {
      synchronized (lock) {
        c = counters;
        if (c == null) {
          c = new Counters(metrics, revocations);
          counters = c;
        }
      }
    }
    return c;
  }

  /** @return a builder */
  public static Builder builder() {
    return new Builder();
  }

  @Override
  public UserIdentity verify(String token) throws TokenRejectedException {
    try {
      return check(token);
    } catch (TokenRejectedException e) {
      counters().refused.get(e.reason()).inc();
      throw e;
    }
  }

  private UserIdentity check(String token) throws TokenRejectedException {
    if (closed) {
      throw new TokenRejectedException(Reason.KEYS_UNAVAILABLE, "this service no longer verifies session tokens (closing)");
    }
    if (token == null || token.isEmpty()) {
      throw new TokenRejectedException(Reason.MALFORMED, "not a session token");
    }
    start();
    UserIdentity id = cache.getIfPresent(token);
    if (id != null) {
      if (clock.millis() >= id.expiresAt().toEpochMilli() + skewMillis) {
        cache.invalidate(token);
        throw new TokenRejectedException(Reason.EXPIRED, "the session token has expired: renew it or sign in again");
      }
      checkNotRevoked(id);
      counters().cacheHits.inc();
      return id;
    }
    SignedJWT jwt = parse(token); // a token that is not even a JWT is refused without waiting for keys
    awaitReady();
    id = verifySigned(jwt, clock.millis());
    checkNotRevoked(id);
    cache.put(token, id);
    return id;
  }

  private void checkNotRevoked(UserIdentity id) throws TokenRejectedException {
    CompletableFuture<Void> c = catchingUp;
    if (c != null) {
      if (connectionLost) {
        throw new TokenRejectedException(Reason.KEYS_UNAVAILABLE,
            "ended sessions cannot be checked while the broker connection is lost; try again in a moment");
      }
      await(c, "the list of ended sessions is being brought up to date");
    }
    String why = revocations.revoked(id);
    if (why != null) {
      throw new TokenRejectedException(Reason.REVOKED, "the session token was revoked: " + why);
    }
  }

  /** Subscribes and starts fetching, on the first token. */
  private void start() throws TokenRejectedException {
    if (started) {
      return;
    }
    synchronized (lock) {
      if (started || closed) {
        return;
      }
      long now = clock.millis();
      if (now - subscribeFailedAt.get() < refreshIntervalMillis) {
        throw new TokenRejectedException(Reason.KEYS_UNAVAILABLE, "the login service's events cannot be subscribed to now");
      }
      PubSub events = new PubSub(transport);
      try {
        subscriptions.add(transport.watchConnection(new Transport.ConnectionListener() {
          @Override
          public void lost() {
            connectionLost();
          }

          @Override
          public void recovered() {
            connectionRecovered();
          }
        }));
        subscriptions.add(events.subscribeWithSender(REVOKED_TOPIC, null, Revocation.class, this::onRevocation));
        subscriptions.add(events.subscribeWithSender(KEYS_TOPIC, null, KeysChanged.class, this::onKeys));
      } catch (SkiffException e) {
        subscribeFailedAt.set(now);
        closeSubscriptions();
        log.warn("cannot subscribe to the login service's events: {}", e.description());
        throw new TokenRejectedException(Reason.KEYS_UNAVAILABLE, "the login service's events cannot be subscribed to now");
      }
      counters();
      // subscribed first, then fetched: nothing published in between is missed
      ready = load();
      started = true;
    }
  }

  private CompletableFuture<Void> load() {
    readyStartedAt = clock.millis();
    CompletableFuture<Void> caughtUp = catchUp(0, 0);
    readyCatchUp = caughtUp;
    return CompletableFuture.allOf(refreshKeys(true), caughtUp);
  }

  /**
   * Starts the first load again after {@code failed}, unless another attempt replaced it meanwhile.
   *
   * @return the load in place now
   */
  private CompletableFuture<Void> loadAgain(CompletableFuture<Void> failed) {
    synchronized (lock) {
      if (ready == failed && !closed) {
        ready = load();
      }
      return ready;
    }
  }

  private void awaitReady() throws TokenRejectedException {
    CompletableFuture<Void> r = ready;
    if (r.isCompletedExceptionally() && keysCameAnotherWay()) {
      return;
    }
    if (r.isCompletedExceptionally() && clock.millis() - readyStartedAt >= refreshIntervalMillis) {
      r = loadAgain(r);
    }
    await(r, "the login service's keys cannot be had");
  }

  /**
   * Whether the first load failed for its keys only, and keys have come since (the login service's
   * {@value #KEYS_TOPIC} event when it started after this verifier asked, or a later fetch): then tokens
   * are checked at once rather than refused until the next attempt. Never when the ended sessions could
   * not be fetched: without them a revoked token would pass.
   */
  private boolean keysCameAnotherWay() {
    CompletableFuture<Void> c = readyCatchUp;
    return !verifiers.isEmpty() && c != null && c.isDone() && !c.isCompletedExceptionally();
  }

  private void await(CompletableFuture<Void> f, String what) throws TokenRejectedException {
    if (f.isDone() && !f.isCompletedExceptionally()) {
      return;
    }
    try {
      f.get(keyWait.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new TokenRejectedException(Reason.KEYS_UNAVAILABLE, what + " (interrupted)");
    } catch (ExecutionException e) {
      throw new TokenRejectedException(Reason.KEYS_UNAVAILABLE, what + ": " + brief(e.getCause()));
    } catch (TimeoutException e) {
      throw new TokenRejectedException(Reason.KEYS_UNAVAILABLE, what + ": no answer within " + keyWait.toMillis() + " ms");
    }
  }

  private static String brief(Throwable t) {
    if (t instanceof java.util.concurrent.CompletionException && t.getCause() != null) {
      t = t.getCause();
    }
    return t instanceof SkiffException s ? s.code() + " from " + SERVICE : t.getClass().getSimpleName();
  }

  /**
   * Fetches the key set; unless forced, at most once per refresh interval (an unknown kid asks for it).
   *
   * @return the fetch in flight or done
   */
  private CompletableFuture<Void> refreshKeys(boolean force) {
    long now = clock.millis();
    long last = keyRefreshAt.get();
    if (!force && (now - last < refreshIntervalMillis || !keyRefreshAt.compareAndSet(last, now))) {
      return keyRefresh;
    }
    keyRefreshAt.set(now);
    counters().keyFetches.inc();
    CompletableFuture<Void> f;
    try {
      f = source.keys().thenAccept(this::useKeys);
    } catch (RuntimeException e) {
      f = CompletableFuture.failedFuture(e);
    }
    keyRefresh = f;
    return f;
  }

  private void useKeys(String jwks) {
    Map<String, JWSVerifier> parsed = parseKeys(jwks);
    verifiers = parsed;
    log.debug("login keys now {}", parsed.keySet());
  }

  /**
   * @param jwks a JSON Web Key Set
   * @return a verifier for each ES256 P-256 signing key with a valid kid (public parts only)
   * @throws IllegalArgumentException when it does not parse
   */
  static Map<String, JWSVerifier> parseKeys(String jwks) {
    if (jwks == null || jwks.length() > MAX_JWKS_CHARS) {
      throw new IllegalArgumentException("the key set is missing or too large");
    }
    try {
      Map<String, JWSVerifier> out = new HashMap<>();
      for (JWK k : JWKSet.parse(jwks).getKeys()) {
        if (out.size() >= MAX_KEYS) {
          break;
        }
        if (k instanceof ECKey ec && Curve.P_256.equals(ec.getCurve()) && ec.getKeyID() != null && ID.matcher(ec.getKeyID()).matches()
            && (ec.getAlgorithm() == null || ALGORITHM.equals(ec.getAlgorithm()))
            && (ec.getKeyUse() == null || KeyUse.SIGNATURE.equals(ec.getKeyUse()))) {
          out.put(ec.getKeyID(), new ECDSAVerifier(ec.toPublicJWK()));
        }
      }
      return Map.copyOf(out);
    } catch (ParseException | JOSEException e) {
      throw new IllegalArgumentException("the key set does not parse: " + e.getMessage(), e);
    }
  }

  private CompletableFuture<Void> catchUp(long since, int page) {
    CompletableFuture<RevocationsResponse> f;
    try {
      f = source.revocations(since);
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
    return f.thenCompose(resp -> {
      long now = clock.millis();
      for (Revocation r : resp.getRevocationsList()) {
        addRevocation(r, now);
      }
      asOf = Math.max(asOf, resp.getAsOfMs());
      if (resp.getMore() && page < MAX_CATCH_UP_PAGES && resp.getAsOfMs() > since) {
        return catchUp(resp.getAsOfMs(), page + 1);
      }
      return CompletableFuture.completedFuture(null);
    });
  }

  private void addRevocation(Revocation r, long now) {
    if (!r.getSessionId().isEmpty() && !ID.matcher(r.getSessionId()).matches()
        || r.getSessionId().isEmpty() && !USER_NAME.matcher(r.getUser()).matches()) {
      log.warn("ignored a malformed revocation for user '{}'", Printable.of(r.getUser()));
      return;
    }
    if (!revocations.add(r, now)) {
      counters().overflows.inc();
      cache.invalidateAll();
      log.warn("more than {} ended sessions are in force: every token issued before now is refused (sign in again)",
          revocations.size());
    }
  }

  private void onRevocation(String topic, Revocation r, String sender) {
    if (!fromLoginService(sender, "revocation")) {
      return;
    }
    addRevocation(r, clock.millis());
  }

  private void onKeys(String topic, KeysChanged k, String sender) {
    if (!fromLoginService(sender, "key set")) {
      return;
    }
    try {
      useKeys(k.getJwksJson());
    } catch (IllegalArgumentException e) {
      log.warn("ignored a key set from {} that does not parse", SERVICE);
      return;
    }
    CompletableFuture<Void> r = ready;
    if (r != null && r.isCompletedExceptionally() && !keysCameAnotherWay()) {
      loadAgain(r); // the login service is there now: no waiting for the refresh interval
    }
  }

  private boolean fromLoginService(String sender, String what) {
    if (identities.mayActAs(sender, SERVICE)) {
      return true;
    }
    counters().refusedEvents.inc();
    log.warn("ignored a {} event from {}: only {} may send it", what,
        sender == null ? "a sender with no proven identity" : "broker user '" + Printable.of(sender) + "'", SERVICE);
    return false;
  }

  private void connectionLost() {
    synchronized (stateLock) {
      connectionLost = true;
      if (catchingUp == null) {
        catchingUp = new CompletableFuture<>();
      }
    }
  }

  private void connectionRecovered() {
    CompletableFuture<Void> waiting;
    synchronized (stateLock) {
      connectionLost = false;
      waiting = catchingUp;
      if (waiting == null) {
        waiting = new CompletableFuture<>();
        catchingUp = waiting;
      }
    }
    CompletableFuture<Void> done = waiting;
    refreshKeys(true);
    catchUp(Math.max(0, asOf - CATCH_UP_MARGIN_MS), 0).whenComplete((v, err) -> {
      if (err != null) {
        log.warn("cannot catch up with the sessions ended while the broker connection was lost ({}); tokens stay refused, retrying",
            brief(err));
        CompletableFuture.delayedExecutor(refreshIntervalMillis, TimeUnit.MILLISECONDS).execute(() -> {
          if (!closed && !connectionLost && catchingUp == done) {
            connectionRecovered();
          }
        });
        return;
      }
      synchronized (stateLock) {
        if (catchingUp == done && !connectionLost) {
          catchingUp = null;
        }
      }
      done.complete(null);
    });
  }

  /**
   * For a healthcheck: starts following the login service, as the first token would, if no token has yet,
   * and asks for its keys again when the last attempt failed longer than the refresh interval ago; never
   * waits.
   *
   * @return how many of the login service's signing keys it holds now (0 until the login service answered,
   *     and after close)
   */
  public int signingKeys() {
    if (closed) {
      return 0;
    }
    try {
      start();
    } catch (TokenRejectedException e) {
      return 0;
    }
    CompletableFuture<Void> r = ready;
    if (r != null && r.isCompletedExceptionally() && clock.millis() - readyStartedAt >= refreshIntervalMillis) {
      loadAgain(r);
    }
    return verifiers.size();
  }

  /** @return the public keys known now, by kid (for tests and diagnostics) */
  Set<String> knownKeys() {
    return new LinkedHashSet<>(verifiers.keySet());
  }

  /** @return the revocations held now */
  int revocationCount() {
    return revocations.size();
  }

  /** Parses a token not in the cache as a signed JWT, checking nothing else yet. */
  private static SignedJWT parse(String token) throws TokenRejectedException {
    try {
      return SignedJWT.parse(token);
    } catch (ParseException | RuntimeException e) {
      throw new TokenRejectedException(Reason.MALFORMED, "not a signed session token");
    }
  }

  /** Verifies the signature and claims of a token not in the cache. */
  private UserIdentity verifySigned(SignedJWT jwt, long now) throws TokenRejectedException {
    JWSHeader h = jwt.getHeader();
    if (!ALGORITHM.equals(h.getAlgorithm())) {
      throw new TokenRejectedException(Reason.BAD_SIGNATURE, "the session token is not signed with " + ALGORITHM);
    }
    if (h.getCriticalParams() != null && !h.getCriticalParams().isEmpty()) {
      throw new TokenRejectedException(Reason.MALFORMED, "the session token's header has critical parameters");
    }
    String kid = h.getKeyID();
    if (kid == null || !ID.matcher(kid).matches()) {
      throw new TokenRejectedException(Reason.MALFORMED, "the session token names no valid key id");
    }
    JWSVerifier v = verifiers.get(kid);
    if (v == null) {
      CompletableFuture<Void> f = refreshKeys(false);
      try {
        f.get(keyWait.toMillis(), TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (ExecutionException | TimeoutException e) {
        // refused below
      }
      v = verifiers.get(kid);
      if (v == null) {
        throw new TokenRejectedException(Reason.BAD_SIGNATURE, "the session token is signed by a key the login service does not publish");
      }
    }
    counters().verified.inc();
    boolean good;
    try {
      good = jwt.verify(v);
    } catch (JOSEException | RuntimeException e) {
      good = false;
    }
    if (!good) {
      throw new TokenRejectedException(Reason.BAD_SIGNATURE, "the session token's signature does not match");
    }
    return identity(jwt, now);
  }

  private UserIdentity identity(SignedJWT jwt, long now) throws TokenRejectedException {
    try {
      JWTClaimsSet c = jwt.getJWTClaimsSet();
      if (!ISSUER.equals(c.getIssuer())) {
        throw new TokenRejectedException(Reason.MALFORMED, "the session token was not issued by " + ISSUER);
      }
      String user = c.getSubject();
      String sid = c.getStringClaim(SESSION_CLAIM);
      Date iat = c.getIssueTime();
      Date exp = c.getExpirationTime();
      List<String> roleTexts = c.getStringListClaim(ROLES_CLAIM);
      if (user == null || !USER_NAME.matcher(user).matches() || sid == null || !ID.matcher(sid).matches() || iat == null || exp == null
          || roleTexts == null || roleTexts.size() > MAX_ROLES) {
        throw new TokenRejectedException(Reason.MALFORMED, "the session token lacks a claim or has an invalid one");
      }
      if (now >= exp.getTime() + skewMillis) {
        throw new TokenRejectedException(Reason.EXPIRED, "the session token has expired: renew it or sign in again");
      }
      if (iat.getTime() > now + skewMillis) {
        throw new TokenRejectedException(Reason.MALFORMED, "the session token was issued in the future");
      }
      Set<Role> roles = new LinkedHashSet<>();
      for (String r : roleTexts) {
        roles.add(Role.parse(r));
      }
      return new UserIdentity(user, roles, sid, iat.toInstant(), exp.toInstant());
    } catch (ParseException | IllegalArgumentException | NullPointerException e) {
      throw new TokenRejectedException(Reason.MALFORMED, "the session token lacks a claim or has an invalid one");
    }
  }

  /** Stops the subscriptions; every token is refused from now on. Idempotent. */
  @Override
  public void close() {
    synchronized (lock) {
      if (closed) {
        return;
      }
      closed = true;
      closeSubscriptions();
    }
    cache.invalidateAll();
  }

  private void closeSubscriptions() {
    for (AutoCloseable s : subscriptions) {
      try {
        s.close();
      } catch (Exception e) {
        log.debug("closing a subscription: {}", e.toString());
      }
    }
    subscriptions.clear();
  }

  /** Builds a {@link LoginTokenVerifier}. */
  public static final class Builder {
    private Transport transport;
    private Source source;
    private ServiceIdentities identities;
    private MetricRegistry metrics;
    private Clock clock = Clock.systemUTC();
    private Duration clockSkew = Duration.ofSeconds(5);
    private Duration keyWait = Duration.ofSeconds(5);
    private Duration keyRefreshInterval = Duration.ofSeconds(2);
    private long maxCacheBytes = 8L * 1024 * 1024;
    private int maxRevocations = 100_000;

    private Builder() {}

    /** @param transport where the login service's events arrive (not owned) @return this */
    public Builder transport(Transport transport) {
      this.transport = Objects.requireNonNull(transport, "transport");
      return this;
    }

    /** @param source where keys and ended sessions are fetched from @return this */
    public Builder source(Source source) {
      this.source = Objects.requireNonNull(source, "source");
      return this;
    }

    /** @param identities who may act as the login service (default: from the environment) @return this */
    public Builder identities(ServiceIdentities identities) {
      this.identities = Objects.requireNonNull(identities, "identities");
      return this;
    }

    /** @param metrics where its counters go (default: a registry of its own) @return this */
    public Builder metrics(MetricRegistry metrics) {
      this.metrics = Objects.requireNonNull(metrics, "metrics");
      return this;
    }

    /** @param clock the time source for expiry @return this */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** @param skew how far clocks may differ: a token is good until {@code exp} plus this (default 5 s) @return this */
    public Builder clockSkew(Duration skew) {
      if (skew.isNegative() || skew.compareTo(Duration.ofMinutes(5)) > 0) {
        throw new IllegalArgumentException("clockSkew must be from 0 to 5 minutes: " + skew);
      }
      this.clockSkew = skew;
      return this;
    }

    /** @param wait how long a call waits for the keys or a catch-up before refusing its token (default 5 s) @return this */
    public Builder keyWait(Duration wait) {
      if (wait.isNegative() || wait.isZero()) {
        throw new IllegalArgumentException("keyWait must be positive: " + wait);
      }
      this.keyWait = wait;
      return this;
    }

    /** @param interval the least time between two key fetches asked for by unknown key ids (default 2 s) @return this */
    public Builder keyRefreshInterval(Duration interval) {
      if (interval.isNegative()) {
        throw new IllegalArgumentException("keyRefreshInterval must not be negative: " + interval);
      }
      this.keyRefreshInterval = interval;
      return this;
    }

    /** @param bytes how much the cache of verified tokens may hold, about (default 8 MiB) @return this */
    public Builder maxCacheBytes(long bytes) {
      if (bytes < 0) {
        throw new IllegalArgumentException("maxCacheBytes must not be negative: " + bytes);
      }
      this.maxCacheBytes = bytes;
      return this;
    }

    /** @param max the most revocations held (default 100 000; beyond it, see {@link RevocationList}) @return this */
    public Builder maxRevocations(int max) {
      if (max < 1) {
        throw new IllegalArgumentException("maxRevocations must be positive: " + max);
      }
      this.maxRevocations = max;
      return this;
    }

    /**
     * @return the verifier; it subscribes and fetches nothing until it sees its first token
     * @throws NullPointerException when the transport or the source is missing
     */
    public LoginTokenVerifier build() {
      return new LoginTokenVerifier(this);
    }
  }
}
