package dev.skiff.kernel.login;

import com.codahale.metrics.Counter;
import com.codahale.metrics.MetricRegistry;
import com.nimbusds.jwt.JWTClaimsSet;
import dev.skiff.kernel.KernelContext;
import dev.skiff.kernel.KernelServiceBase;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.config.LayeredConfig;
import dev.skiff.platform.internal.Printable;
import dev.skiff.platform.internal.Release;
import dev.skiff.platform.internal.Threads;
import dev.skiff.platform.pubsub.PubSub;
import dev.skiff.platform.security.Access;
import dev.skiff.platform.security.AuditLog;
import dev.skiff.platform.security.LoginTokenVerifier;
import dev.skiff.platform.security.Role;
import dev.skiff.platform.security.ServiceIdentities;
import dev.skiff.platform.security.UserIdentity;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.RequestContext;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.server.ServerBuilder;
import dev.skiff.proto.v1.AddUserRequest;
import dev.skiff.proto.v1.ChangePasswordRequest;
import dev.skiff.proto.v1.KeysChanged;
import dev.skiff.proto.v1.KeysRequest;
import dev.skiff.proto.v1.KeysResponse;
import dev.skiff.proto.v1.ListUsersRequest;
import dev.skiff.proto.v1.LoginRequest;
import dev.skiff.proto.v1.LogoutRequest;
import dev.skiff.proto.v1.LogoutResponse;
import dev.skiff.proto.v1.RenewRequest;
import dev.skiff.proto.v1.Revocation;
import dev.skiff.proto.v1.RevocationsRequest;
import dev.skiff.proto.v1.RevocationsResponse;
import dev.skiff.proto.v1.Session;
import dev.skiff.proto.v1.SetRolesRequest;
import dev.skiff.proto.v1.ThrottleEvent;
import dev.skiff.proto.v1.UnlockUserRequest;
import dev.skiff.proto.v1.UserInfo;
import dev.skiff.proto.v1.UserList;
import dev.skiff.proto.v1.UserResponse;
import dev.skiff.proto.v1.WhoAmIRequest;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.Date;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The login kernel service, {@value #SERVICE}: people, their passwords and roles, and the signed session
 * tokens that prove them to every service (docs/security.md, "People log in"). Endpoints (messages in
 * {@code skiff/v1/login.proto}):
 *
 * <table>
 *   <caption>Endpoints</caption>
 *   <tr><th>endpoint</th><th>who may call</th><th>request → response</th></tr>
 *   <tr><td>login</td><td>anyone</td><td>LoginRequest → Session</td></tr>
 *   <tr><td>renew</td><td>signed in</td><td>RenewRequest → Session (a new token, same session)</td></tr>
 *   <tr><td>logout</td><td>signed in</td><td>LogoutRequest → LogoutResponse (the session ends everywhere)</td></tr>
 *   <tr><td>whoami</td><td>signed in</td><td>WhoAmIRequest → Session (without token)</td></tr>
 *   <tr><td>users.add</td><td>role ADMIN.USERS</td><td>AddUserRequest → UserResponse</td></tr>
 *   <tr><td>users.roles</td><td>role ADMIN.USERS</td><td>SetRolesRequest → UserResponse (the user's sessions end)</td></tr>
 *   <tr><td>users.passwd</td><td>signed in, for oneself with the old password; ADMIN.USERS for anyone</td>
 *       <td>ChangePasswordRequest → UserResponse (the user's sessions end)</td></tr>
 *   <tr><td>users.list</td><td>role ADMIN.USERS</td><td>ListUsersRequest → UserList</td></tr>
 *   <tr><td>users.unlock</td><td>role ADMIN.USERS</td><td>UnlockUserRequest → UserResponse (its failed logins forgotten)</td></tr>
 *   <tr><td>keys</td><td>anyone</td><td>KeysRequest → KeysResponse (the public JWKS)</td></tr>
 *   <tr><td>revocations</td><td>authenticated services</td><td>RevocationsRequest → RevocationsResponse</td></tr>
 * </table>
 *
 * <p>Passwords: {@link PasswordHasher} (Argon2id). Tokens: JWS ES256 by {@link SigningKeys}, claims
 * {@code iss sub roles sid iat exp}, checked everywhere by {@link LoginTokenVerifier}. Failed logins:
 * {@link LoginThrottle}, written to the {@link AuditLog}, and shared with the other copies of the service
 * on {@value #THROTTLE_TOPIC} (each copy counts the others' failures; a name's failures are forgotten at
 * every copy together). Revocations are stored, then published on
 * {@value LoginTokenVerifier#REVOKED_TOPIC} (an event that fails to go out is sent again every second).
 * Settings: {@link LoginSettings}. Store: {@link MemoryUserStore} unless {@code SKIFF_LOGIN_STORE=cassandra}
 * ({@link CassandraUserStore}); while the store cannot be reached, the endpoints answer UNAVAILABLE and
 * the service keeps trying to start it.
 *
 * <p>The first administrator: when the store has no user at all and {@code SKIFF_BOOTSTRAP_ADMIN_PASSWORD}
 * is set, the service creates user {@code admin} with role {@code ADMIN} with that password (logged,
 * without the password); once any user exists the variable is ignored. No other user or password ships.
 */
public final class LoginService extends KernelServiceBase {
  /** The RPC service name. */
  public static final String SERVICE = LoginTokenVerifier.SERVICE;
  /** The topic on which the copies of the service share failed logins ({@link ThrottleEvent}). */
  public static final String THROTTLE_TOPIC = "login.throttle";
  /** The role that manages users. */
  public static final Role USERS_ADMIN = Role.of("ADMIN.USERS");
  /** The first administrator's name. */
  public static final String BOOTSTRAP_ADMIN = "admin";
  /** Shortest and longest password. */
  static final int MIN_PASSWORD = 8;
  static final int MAX_PASSWORD = 1024;
  private static final int MAX_ROLES = 64;
  private static final int MAX_LISTED = 1000;
  private static final int MAX_REVOCATIONS_ANSWERED = 5000;
  private static final int MAX_PENDING_EVENTS = 10_000;
  /** Longer than any verifier's clock skew allowance: how long after a token's expiry a revocation is kept. */
  static final Duration KEEP_MARGIN = Duration.ofMinutes(5);
  private static final String WRONG = "wrong user name or password";

  private static final Logger log = LoggerFactory.getLogger(LoginService.class);

  private final LoginSettings settings;
  private final UserStore store;
  private final Clock clock;
  private final PasswordHasher hasher;
  private final SigningKeys keys;
  private final SecureRandom random = new SecureRandom();
  private final Semaphore delayed = new Semaphore(32);
  private final ArrayDeque<com.google.protobuf.Message> pending = new ArrayDeque<>();
  private LoginThrottle throttle;
  private PubSub events;
  private ScheduledExecutorService timer;
  private Counter logins;
  private Counter droppedEvents;
  private Counter refusedEvents;
  private ServiceIdentities identities;
  private String copy;
  private volatile boolean ready;
  private volatile String notReady = "starting";

  /**
   * A login service configured by the environment (see {@link LoginSettings}); what {@code skiff kernel} runs.
   *
   * @throws IllegalArgumentException naming a variable whose value is invalid
   */
  public LoginService() {
    this(System.getenv());
  }

  /**
   * A login service configured by the given variables instead of the process's environment (the same
   * names, {@link LoginSettings}): for running it inside another program, such as a test or the benchmarks.
   *
   * @param env the variables, e.g. {@code Map.of("SKIFF_BOOTSTRAP_ADMIN_PASSWORD", ...)}
   * @throws IllegalArgumentException naming a variable whose value is invalid
   */
  public LoginService(Map<String, String> env) {
    this(LoginSettings.fromEnvironment(env), env, Clock.systemUTC());
  }

  private LoginService(LoginSettings settings, Map<String, String> env, Clock clock) {
    this(settings, storeOf(settings, env, clock), clock);
  }

  /**
   * @param settings how it runs
   * @param store where it keeps users, sessions, revocations and keys (owned: closed with the service)
   * @param clock the time source
   */
  LoginService(LoginSettings settings, UserStore store, Clock clock) {
    super("login");
    this.settings = Objects.requireNonNull(settings, "settings");
    this.store = Objects.requireNonNull(store, "store");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.hasher = new PasswordHasher(Math.max(2, Runtime.getRuntime().availableProcessors()));
    this.keys = new SigningKeys(store, clock, settings.keyRotation(), settings.tokenTtl().plus(KEEP_MARGIN));
  }

  private static UserStore storeOf(LoginSettings s, Map<String, String> env, Clock clock) {
    if (s.store().equals("cassandra")) {
      try (LayeredConfig config = LayeredConfig.builder().environment(env).build()) {
        return new CassandraUserStore(config.current(), s.tokenTtl().plus(KEEP_MARGIN));
      }
    }
    return new MemoryUserStore(s.maxUsers(), s.maxSessions(), clock);
  }

  @Override
  protected void begin(KernelContext context) {
    MetricRegistry metrics = context.metrics();
    throttle = new LoginThrottle(settings.throttle(), metrics);
    logins = metrics.counter("skiff.login.logins");
    droppedEvents = metrics.counter("skiff.login.dropped-events");
    refusedEvents = metrics.counter("skiff.login.refused-events");
    identities = context.guard().identities();
    events = new PubSub(context.transport());
    closeAtEnd(store);
    if (store instanceof MemoryUserStore) {
      log.warn("login: users are kept in memory (SKIFF_LOGIN_STORE=memory): they are lost when the kernel stops and not shared "
          + "with other copies of the login service; set SKIFF_LOGIN_STORE=cassandra for real use");
    }
    timer = Executors.newSingleThreadScheduledExecutor(Threads.named("skiff-login-timer"));
    closeAtEnd((AutoCloseable) timer::shutdownNow);
    LoginTokenVerifier verifier = closeAtEnd(LoginTokenVerifier.builder().transport(context.transport()).source(new LocalSource())
        .identities(context.guard().identities()).metrics(metrics).clock(clock).build());
    ServerBuilder b = Server.builder(SERVICE).version(Release.version())
        .description("people: log in, renew, log out, users and roles; the keys that verify session tokens")
        .transport(context.transport())
        .identities(context.guard().identities())
        .tokenVerifier(verifier)
        .metrics(metrics)
        .concurrency(64)
        .endpoint(Endpoint.of("login", LoginRequest.class, Session.class, (r, ctx) -> login(r, ctx)).withAccess(Access.anyone()))
        .endpoint(Endpoint.of("renew", RenewRequest.class, Session.class, (r, ctx) -> renew(ctx)).withAccess(Access.signedIn()))
        .endpoint(Endpoint.of("logout", LogoutRequest.class, LogoutResponse.class, (r, ctx) -> logout(ctx)).withAccess(Access.signedIn()))
        .endpoint(Endpoint.of("whoami", WhoAmIRequest.class, Session.class, (r, ctx) -> whoami(ctx)).withAccess(Access.signedIn()))
        .endpoint(Endpoint.of("users.add", AddUserRequest.class, UserResponse.class, (r, ctx) -> addUser(r, ctx))
            .withAccess(Access.role(USERS_ADMIN)))
        .endpoint(Endpoint.of("users.roles", SetRolesRequest.class, UserResponse.class, (r, ctx) -> setRoles(r, ctx))
            .withAccess(Access.role(USERS_ADMIN)))
        .endpoint(Endpoint.of("users.passwd", ChangePasswordRequest.class, UserResponse.class, (r, ctx) -> changePassword(r, ctx))
            .withAccess(Access.signedIn()))
        .endpoint(Endpoint.of("users.list", ListUsersRequest.class, UserList.class, (r, ctx) -> listUsers())
            .withAccess(Access.role(USERS_ADMIN)).asIdempotent())
        .endpoint(Endpoint.of("users.unlock", UnlockUserRequest.class, UserResponse.class, (r, ctx) -> unlock(r, ctx))
            .withAccess(Access.role(USERS_ADMIN)).asIdempotent())
        .endpoint(Endpoint.of("keys", KeysRequest.class, KeysResponse.class,
            (r, ctx) -> KeysResponse.newBuilder().setJwksJson(readyKeys()).build()).withAccess(Access.anyone()).asIdempotent())
        .endpoint(Endpoint.of("revocations", RevocationsRequest.class, RevocationsResponse.class,
            (r, ctx) -> revocations(r.getSinceMs())).withAccess(Access.services()).asIdempotent());
    store.healthCheck().ifPresent(check -> b.healthCheck("login-store", check));
    b.healthCheck("login-ready", new dev.skiff.platform.health.HealthCheck() {
      @Override
      protected Result check() {
        return ready ? Result.healthy("signing with key " + keys.signingKid()) : Result.unhealthy("not ready: " + notReady);
      }
    });
    if (!tryInit()) {
      Threads.start("skiff-login-init", this::initLoop);
    }
    long keyCheck = Math.max(100, Math.min(settings.keyRotation().toMillis() / 4, 30_000));
    timer.scheduleWithFixedDelay(this::checkKeys, keyCheck, keyCheck, TimeUnit.MILLISECONDS);
    timer.scheduleWithFixedDelay(this::resendPending, 1000, 1000, TimeUnit.MILLISECONDS);
    Server server = b.build();
    copy = server.instanceId();
    // before the server starts: no failure it counts is missed by a copy that started earlier
    closeAtEnd(events.subscribeWithSender(THROTTLE_TOPIC, null, ThrottleEvent.class, this::onThrottleEvent));
    closeAtEnd(server.start());
    log.info("login service: {} ({} store), signing with key {}", settings, store.getClass().getSimpleName(),
        ready ? keys.signingKid() : "(not ready: " + notReady + ")");
  }

  private void initLoop() {
    long backoff = 500;
    while (isRunning() && !ready) {
      try {
        Thread.sleep(backoff);
      } catch (InterruptedException e) {
        return;
      }
      backoff = Math.min(10_000, backoff * 2);
      tryInit();
    }
  }

  /** Starts the store, loads or makes the keys, creates the first administrator if asked to. */
  private synchronized boolean tryInit() {
    if (ready) {
      return true;
    }
    try {
      hasher.warmUp();
      store.start();
      keys.refresh();
      bootstrap();
      ready = true;
      notReady = "";
      publish(KeysChanged.newBuilder().setJwksJson(keys.publicJwks()).build());
      return true;
    } catch (SkiffException e) {
      String why = e.code() + ": " + e.description();
      if (!why.equals(notReady)) {
        log.warn("login: the store cannot be used yet (retrying): {}", why);
      }
      notReady = why;
      return false;
    }
  }

  private void bootstrap() {
    String password = settings.bootstrapAdminPassword();
    if (password == null) {
      return;
    }
    if (store.hasAnyUser()) {
      log.info("login: {} is set but ignored: users exist already", LoginSettings.BOOTSTRAP_VARIABLE);
      return;
    }
    if (password.length() < MIN_PASSWORD || password.length() > MAX_PASSWORD) {
      log.error("login: {} is not used: a password has {} to {} characters", LoginSettings.BOOTSTRAP_VARIABLE, MIN_PASSWORD, MAX_PASSWORD);
      return;
    }
    boolean added = store.addUser(new UserStore.User(BOOTSTRAP_ADMIN, hasher.hash(password), List.of(Role.ADMIN.toString()), clock.millis(), 0));
    if (added) {
      log.warn("login: no user existed, so user '{}' with role {} was created from {} (change its password; the variable is "
          + "ignored from now on)", BOOTSTRAP_ADMIN, Role.ADMIN, LoginSettings.BOOTSTRAP_VARIABLE);
    }
  }

  /** Rotates keys when due and retires old ones (or picks up another copy's), publishing a change. */
  private void checkKeys() {
    try {
      if (ready && keys.refresh()) {
        publish(KeysChanged.newBuilder().setJwksJson(keys.publicJwks()).build());
      }
    } catch (RuntimeException e) {
      log.warn("login: checking the signing keys failed (retrying): {}", e instanceof SkiffException s ? s.description() : e.toString());
    }
  }

  private void ready() {
    if (!ready) {
      throw new SkiffException(ErrorCode.UNAVAILABLE, "the login service is not ready: " + notReady);
    }
  }

  private String readyKeys() {
    ready();
    return keys.publicJwks();
  }

  // ---- login ----

  private Session login(LoginRequest req, RequestContext ctx) {
    ready();
    String name = checkName(req.getUser());
    if (req.getPassword().length() > MAX_PASSWORD) {
      throw new SkiffException(ErrorCode.BAD_REQUEST, "a password has at most " + MAX_PASSWORD + " characters");
    }
    checkPassword(name, req.getPassword(), "login", ctx);
    forgetFailures(name);
    UserStore.User u = store.user(name).orElseThrow(() -> new SkiffException(ErrorCode.UNAUTHORIZED, WRONG));
    if (hasher.outdated(u.passwordHash())) {
      store.setPassword(name, hasher.hash(req.getPassword()), u.revokedBeforeMs());
    }
    long now = clock.millis();
    UserStore.Session s = new UserStore.Session(newSessionId(), name, now, now + settings.sessionMax().toMillis(), false);
    store.putSession(s);
    logins.inc();
    log.info("login: user '{}' signed in (session {})", name, s.id());
    return issue(u, s, now, true);
  }

  /**
   * Checks a password through the throttle: delays, lockouts and failures counted and audited alike
   * whether the user exists or not.
   */
  private void checkPassword(String name, String password, String what, RequestContext ctx) {
    long now = clock.millis();
    LoginThrottle.Verdict v = throttle.begin(name, now);
    if (v instanceof LoginThrottle.Verdict.Locked l) {
      deny(ctx, what, ErrorCode.CAPACITY, "user '" + name + "' is locked");
      throw locked(name, l.untilMillis(), clock.millis());
    }
    if (v instanceof LoginThrottle.Verdict.Busy b) {
      deny(ctx, what, ErrorCode.CAPACITY, b.why());
      throw new SkiffException(ErrorCode.CAPACITY, b.why());
    }
    long delay = ((LoginThrottle.Verdict.Go) v).delayMillis();
    try {
      if (delay > 0) {
        pause(name, delay, ctx);
      }
      Optional<UserStore.User> u = store.user(name);
      if (hasher.matches(password, u.map(UserStore.User::passwordHash).orElse(null))) {
        return;
      }
      long failedAt = clock.millis();
      long lockedUntil = throttle.failed(name, failedAt);
      publish(ThrottleEvent.newBuilder().setUser(name).setCopy(copy).setFailedAtMs(failedAt).build());
      deny(ctx, what, ErrorCode.UNAUTHORIZED, WRONG + " for user '" + name + "'" + (lockedUntil > 0 ? "; the user is now locked" : ""));
      if (lockedUntil > 0) {
        log.warn("login: user name '{}' locked until {} after too many failed logins", name, Instant.ofEpochMilli(lockedUntil));
        throw locked(name, lockedUntil, clock.millis());
      }
      throw new SkiffException(ErrorCode.UNAUTHORIZED, what.equals("login") ? WRONG : "the old password is wrong");
    } finally {
      throttle.end(name);
    }
  }

  /** Waits out a delay on this handler thread: bounded in count and by the request's deadline. */
  private void pause(String name, long delay, RequestContext ctx) {
    if (delay > ctx.remaining().toMillis() - 500) {
      throw new SkiffException(ErrorCode.CAPACITY, "too many failed logins for user '" + name + "': wait " + ((delay + 999) / 1000)
          + " s between attempts (this one was not checked)");
    }
    if (!delayed.tryAcquire()) {
      throw new SkiffException(ErrorCode.CAPACITY, "too many slowed-down logins at once: try again later");
    }
    try {
      Thread.sleep(delay);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new SkiffException(ErrorCode.UNAVAILABLE, "the login service is stopping");
    } finally {
      delayed.release();
    }
  }

  /** The answer to a name that is locked: when it unlocks, in words and as the time to wait (the gateway's Retry-After). */
  private static SkiffException locked(String name, long until, long now) {
    return new SkiffException(ErrorCode.CAPACITY, "user '" + name + "' is locked after too many failed logins until "
        + Instant.ofEpochMilli(until) + "; try again then, or ask an administrator to unlock it ('skiff users unlock " + name + "')")
        .withRetryAfter(java.time.Duration.ofMillis(until - now));
  }

  private static void deny(RequestContext ctx, String what, ErrorCode code, String reason) {
    AuditLog.denied(SERVICE, what, ctx.caller(), code.name(), reason, ctx.requestId());
  }

  private String newSessionId() {
    byte[] b = new byte[16];
    random.nextBytes(b);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }

  /** Signs a token for a session. Its issue time is never before the user's revocation time. */
  private Session issue(UserStore.User u, UserStore.Session s, long now, boolean withToken) {
    long iat = Math.max(now / 1000 * 1000, u.revokedBeforeMs());
    long exp = Math.min(now + settings.tokenTtl().toMillis(), s.endsAtMs()) / 1000 * 1000;
    JWTClaimsSet claims = new JWTClaimsSet.Builder()
        .issuer(LoginTokenVerifier.ISSUER)
        .subject(u.name())
        .claim(LoginTokenVerifier.ROLES_CLAIM, u.roles())
        .claim(LoginTokenVerifier.SESSION_CLAIM, s.id())
        .issueTime(new Date(iat))
        .expirationTime(new Date(exp))
        .build();
    Session.Builder out = Session.newBuilder().setUser(u.name()).addAllRoles(u.roles()).setSessionId(s.id()).setExpiresAtMs(exp)
        .setSessionEndsAtMs(s.endsAtMs());
    if (withToken) {
      out.setToken(keys.sign(claims));
    }
    return out.build();
  }

  private Session renew(RequestContext ctx) {
    ready();
    UserIdentity id = person(ctx);
    long now = clock.millis();
    UserStore.Session s = store.session(id.sessionId()).filter(x -> !x.revoked() && x.user().equals(id.user()))
        .orElseThrow(() -> new SkiffException(ErrorCode.UNAUTHORIZED, "the session has ended: sign in again"));
    UserStore.User u = store.user(id.user())
        .filter(x -> id.issuedAt().toEpochMilli() >= x.revokedBeforeMs())
        .orElseThrow(() -> new SkiffException(ErrorCode.UNAUTHORIZED, "the session has ended: sign in again"));
    if (now + 1000 >= s.endsAtMs()) {
      throw new SkiffException(ErrorCode.UNAUTHORIZED, "the session reached its longest (" + settings.sessionMax() + "): sign in again");
    }
    return issue(u, s, now, true);
  }

  private LogoutResponse logout(RequestContext ctx) {
    ready();
    UserIdentity id = person(ctx);
    long now = clock.millis();
    store.session(id.sessionId()).ifPresent(s -> store.putSession(new UserStore.Session(s.id(), s.user(), s.startedAtMs(), s.endsAtMs(), true)));
    revoke(Revocation.newBuilder().setSessionId(id.sessionId()).setRevokedAtMs(now).setKeepUntilMs(keepUntil(now)).build());
    log.info("login: user '{}' signed out (session {})", id.user(), id.sessionId());
    return LogoutResponse.getDefaultInstance();
  }

  private Session whoami(RequestContext ctx) {
    ready();
    UserIdentity id = person(ctx);
    Session.Builder s = Session.newBuilder().setUser(id.user()).setSessionId(id.sessionId()).setExpiresAtMs(id.expiresAt().toEpochMilli());
    id.roles().forEach(r -> s.addRoles(r.toString()));
    store.session(id.sessionId()).ifPresent(x -> s.setSessionEndsAtMs(x.endsAtMs()));
    return s.build();
  }

  private static UserIdentity person(RequestContext ctx) {
    return ctx.caller().user().orElseThrow(() -> new SkiffException(ErrorCode.UNAUTHORIZED, "sign in first"));
  }

  // ---- users ----

  private UserResponse addUser(AddUserRequest req, RequestContext ctx) {
    ready();
    String name = checkName(req.getUser());
    checkNewPassword(req.getPassword());
    List<String> roles = checkRoles(req.getRolesList());
    UserStore.User u = new UserStore.User(name, hasher.hash(req.getPassword()), roles, clock.millis(), 0);
    if (!store.addUser(u)) {
      throw new SkiffException(ErrorCode.CONFLICT, "user '" + name + "' exists already");
    }
    log.info("login: user '{}' added with roles {} by '{}'", name, roles, person(ctx).user());
    return UserResponse.newBuilder().setUser(info(u)).build();
  }

  private UserResponse setRoles(SetRolesRequest req, RequestContext ctx) {
    ready();
    String name = checkName(req.getUser());
    List<String> roles = checkRoles(req.getRolesList());
    long now = clock.millis();
    long before = revocationBoundary(name, now);
    if (!store.setRoles(name, roles, before)) {
      throw new SkiffException(ErrorCode.NOT_FOUND, "no user '" + name + "'");
    }
    revokeUser(name, before, now);
    log.info("login: roles of user '{}' set to {} by '{}'; their sessions ended", name, roles, person(ctx).user());
    return UserResponse.newBuilder().setUser(info(store.user(name).orElseThrow())).build();
  }

  private UserResponse changePassword(ChangePasswordRequest req, RequestContext ctx) {
    ready();
    UserIdentity caller = person(ctx);
    String name = req.getUser().isEmpty() ? caller.user() : checkName(req.getUser());
    checkNewPassword(req.getNewPassword());
    boolean admin = caller.hasRole(USERS_ADMIN);
    if (!admin) {
      if (!name.equals(caller.user())) {
        throw new SkiffException(ErrorCode.FORBIDDEN, "only an administrator (role " + USERS_ADMIN + ") may set another user's password");
      }
      if (req.getOldPassword().length() > MAX_PASSWORD) {
        throw new SkiffException(ErrorCode.BAD_REQUEST, "a password has at most " + MAX_PASSWORD + " characters");
      }
      checkPassword(name, req.getOldPassword(), "users.passwd", ctx);
    }
    long now = clock.millis();
    long before = revocationBoundary(name, now);
    if (!store.setPassword(name, hasher.hash(req.getNewPassword()), before)) {
      throw new SkiffException(ErrorCode.NOT_FOUND, "no user '" + name + "'");
    }
    forgetFailures(name);
    revokeUser(name, before, now);
    log.info("login: password of user '{}' changed by '{}'; their sessions ended", name, caller.user());
    return UserResponse.newBuilder().setUser(info(store.user(name).orElseThrow())).build();
  }

  private UserResponse unlock(UnlockUserRequest req, RequestContext ctx) {
    ready();
    String name = checkName(req.getUser());
    UserStore.User u = store.user(name).orElseThrow(() -> new SkiffException(ErrorCode.NOT_FOUND, "no user '" + name + "'"));
    boolean wasLocked = throttle.lockedUntil(name, clock.millis()) > 0;
    throttle.succeeded(name);
    publish(ThrottleEvent.newBuilder().setUser(name).setCopy(copy).build());
    log.info("login: failed logins of user '{}' forgotten by '{}'{}", name, person(ctx).user(), wasLocked ? "; it was locked" : "");
    return UserResponse.newBuilder().setUser(info(u)).build();
  }

  /** Forgets a name's failed logins here and, if there were any, at the other copies. */
  private void forgetFailures(String name) {
    if (throttle.succeeded(name)) {
      publish(ThrottleEvent.newBuilder().setUser(name).setCopy(copy).build());
    }
  }

  /** Another copy counted a failed login, or forgot a name's failures: do the same here. */
  private void onThrottleEvent(String topic, ThrottleEvent e, String sender) {
    if (!identities.mayActAs(sender, SERVICE)) {
      refusedEvents.inc();
      log.warn("login: ignored a failed-login event from {}: only {} may send it",
          sender == null ? "a sender with no proven identity" : "broker user '" + Printable.of(sender) + "'", SERVICE);
      return;
    }
    if (e.getCopy().equals(copy)) {
      return; // its own: counted when it happened
    }
    if (!LoginTokenVerifier.USER_NAME.matcher(e.getUser()).matches() || e.getFailedAtMs() < 0) {
      refusedEvents.inc();
      log.warn("login: ignored a failed-login event for '{}' (not a valid user name, or a negative time)", Printable.of(e.getUser()));
      return;
    }
    if (e.getFailedAtMs() == 0) {
      throttle.succeeded(e.getUser());
      return;
    }
    long lockedUntil = throttle.failedElsewhere(e.getUser(), e.getFailedAtMs(), clock.millis());
    if (lockedUntil > 0) {
      log.warn("login: user name '{}' locked until {} after too many failed logins (counted by every copy)", e.getUser(),
          Instant.ofEpochMilli(lockedUntil));
    }
  }

  private UserList listUsers() {
    ready();
    List<UserStore.User> all = new ArrayList<>(store.users(MAX_LISTED));
    all.sort(Comparator.comparing(UserStore.User::name));
    UserList.Builder out = UserList.newBuilder();
    all.forEach(u -> out.addUsers(info(u)));
    return out.build();
  }

  private UserInfo info(UserStore.User u) {
    return UserInfo.newBuilder().setUser(u.name()).addAllRoles(u.roles()).setCreatedAtMs(u.createdAtMs())
        .setLocked(throttle.lockedUntil(u.name(), clock.millis()) > 0).build();
  }

  /**
   * @param name a user name as given
   * @return it, when it is valid
   * @throws SkiffException BAD_REQUEST otherwise (the name is escaped in the message)
   */
  public static String checkName(String name) {
    if (!LoginTokenVerifier.USER_NAME.matcher(name).matches()) {
      throw new SkiffException(ErrorCode.BAD_REQUEST, "'" + Printable.of(name) + "' is not a valid user name: 1 to 64 of a-z, 0-9, "
          + "'.', '_' and '-', starting with a letter");
    }
    return name;
  }

  private static void checkNewPassword(String password) {
    if (password.length() < MIN_PASSWORD || password.length() > MAX_PASSWORD) {
      throw new SkiffException(ErrorCode.BAD_REQUEST, "a password has " + MIN_PASSWORD + " to " + MAX_PASSWORD + " characters");
    }
  }

  private static List<String> checkRoles(List<String> roles) {
    if (roles.size() > MAX_ROLES) {
      throw new SkiffException(ErrorCode.BAD_REQUEST, "at most " + MAX_ROLES + " roles");
    }
    LinkedHashSet<String> out = new LinkedHashSet<>();
    for (String r : roles) {
      try {
        out.add(Role.parse(r.trim()).toString());
      } catch (IllegalArgumentException e) {
        throw new SkiffException(ErrorCode.BAD_REQUEST, e.getMessage());
      }
    }
    return List.copyOf(out);
  }

  // ---- revocation ----

  /** @return the first whole second after a time: the precision of a token's issue time */
  static long nextSecond(long millis) {
    return (millis / 1000 + 1) * 1000;
  }

  /**
   * Where a revocation of every session of a user must reach: the next whole second, or past the
   * user's previous revocation when that is later. Tokens issued after a revocation carry it as their
   * issue time ({@link #issue}), so a second change within the same second must reach beyond it, or the
   * tokens issued between the two changes would stay valid.
   */
  private long revocationBoundary(String name, long now) {
    long before = nextSecond(now);
    long previous = store.user(name).map(UserStore.User::revokedBeforeMs).orElse(0L);
    return previous >= before ? previous + 1000 : before;
  }

  private long keepUntil(long now) {
    return now + settings.tokenTtl().toMillis() + KEEP_MARGIN.toMillis();
  }

  private void revokeUser(String name, long before, long now) {
    revoke(Revocation.newBuilder().setUser(name).setIssuedBeforeMs(before).setRevokedAtMs(now).setKeepUntilMs(keepUntil(now)).build());
  }

  /** Stores a revocation, then publishes it (again every second until it goes out). */
  private void revoke(Revocation r) {
    store.addRevocation(r);
    publish(r);
  }

  private void publish(com.google.protobuf.Message event) {
    String topic = event instanceof Revocation ? LoginTokenVerifier.REVOKED_TOPIC
        : event instanceof ThrottleEvent ? THROTTLE_TOPIC : LoginTokenVerifier.KEYS_TOPIC;
    try {
      events.publish(topic, event);
    } catch (SkiffException e) {
      log.warn("login: cannot publish {} now (sending it again every second): {}", topic, e.description());
      synchronized (pending) {
        if (pending.size() >= MAX_PENDING_EVENTS) {
          pending.removeFirst();
          droppedEvents.inc();
        }
        pending.addLast(event);
      }
    }
  }

  /** Sends again the events that could not be published. */
  private void resendPending() {
    List<com.google.protobuf.Message> again;
    synchronized (pending) {
      again = new ArrayList<>(pending);
      pending.clear();
    }
    again.forEach(this::publish);
  }

  private RevocationsResponse revocations(long since) {
    ready();
    long now = clock.millis();
    List<Revocation> list = store.revocationsSince(Math.max(0, since), now, MAX_REVOCATIONS_ANSWERED);
    boolean more = list.size() >= MAX_REVOCATIONS_ANSWERED;
    return RevocationsResponse.newBuilder().addAllRevocations(list).setMore(more)
        .setAsOfMs(more ? list.get(list.size() - 1).getRevokedAtMs() : now).build();
  }

  /** Keys and revocations from this service's own store, for its own server's token verifier. */
  private final class LocalSource implements LoginTokenVerifier.Source {
    @Override
    public CompletableFuture<String> keys() {
      try {
        ready();
        keys.refresh(); // another copy may have rotated
        return CompletableFuture.completedFuture(keys.publicJwks());
      } catch (RuntimeException e) {
        return CompletableFuture.failedFuture(e);
      }
    }

    @Override
    public CompletableFuture<RevocationsResponse> revocations(long sinceMillis) {
      try {
        return CompletableFuture.completedFuture(LoginService.this.revocations(sinceMillis));
      } catch (RuntimeException e) {
        return CompletableFuture.failedFuture(e);
      }
    }
  }

  /** @return the key id signing now (tests) */
  String signingKid() {
    return keys.signingKid();
  }

  /** Rotates now, whatever the key's age (tests): makes a new key and publishes the key set. */
  void rotateNow() {
    keys.forceRotation();
    publish(KeysChanged.newBuilder().setJwksJson(keys.publicJwks()).build());
  }

  /** @return this copy's server's instance id (tests) */
  String copy() {
    return copy;
  }

  /** @return the throttle (tests) */
  LoginThrottle throttle() {
    return throttle;
  }

  /** @return whether the store is started and keys are loaded */
  boolean isReady() {
    return ready;
  }
}
