package dev.skiff.gateway;

import com.codahale.metrics.Meter;
import com.codahale.metrics.MetricRegistry;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import dev.skiff.kernel.http.RateLimiter;
import dev.skiff.kernel.http.RefusalCodes;
import dev.skiff.kernel.http.TrustedProxies;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.client.CallScope;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.config.Durations;
import dev.skiff.platform.internal.Ids;
import dev.skiff.platform.internal.JsonStrings;
import dev.skiff.platform.internal.Printable;
import dev.skiff.platform.internal.TraceContext;
import dev.skiff.platform.security.TokenRejectedException;
import dev.skiff.platform.security.TokenVerifier;
import dev.skiff.platform.security.UserIdentity;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletionException;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves one HTTP request (docs/gateway.md): CORS, the per-address rate limit (the client's address,
 * {@link TrustedProxies}), the route (a service's, an {@link AdminRoutes admin route} with its role check,
 * or a {@link SignInRoutes sign-in route}, the sign-in itself limited per address), the person's token
 * and the per-user rate limit, the deadline, the body (bounded), the request message; then the call,
 * without holding a thread while it runs, and the answer as JSON or one error format. Thread-safe.
 */
final class GatewayHandler extends Handler.Abstract {
  /** The request header that sets a call's deadline: a duration, {@code 500ms}, {@code 2s}. */
  static final String TIMEOUT_HEADER = "X-Skiff-Timeout";
  /** The response header carrying the request's id (also in every error body). */
  static final String REQUEST_ID_HEADER = "X-Request-Id";

  private static final Logger log = LoggerFactory.getLogger(GatewayHandler.class);
  private static final Logger access = LoggerFactory.getLogger("dev.skiff.gateway.access");
  private static final String JSON_TYPE = "application/json";
  /** A request body's {@code Content-Type} read as JSON: {@code application/json}, any case, with or without parameters. */
  private static final java.util.regex.Pattern JSON_MEDIA_TYPE = java.util.regex.Pattern.compile(
      "\\s*application/json\\s*(;.*)?", java.util.regex.Pattern.CASE_INSENSITIVE | java.util.regex.Pattern.DOTALL);
  /** The rate limits' metrics' names: {@code skiff.gateway.rate-limit.{address,user,sign-in}.{limited,evicted}}. */
  private static final String RATE_LIMIT = "skiff.gateway.rate-limit.";

  private final RouteTable routes;
  private final Client client;
  private final TokenVerifier verifier;
  private final GatewayOptions options;
  private final RateLimiter perAddress;
  private final RateLimiter perUser;
  private final AdminRoutes admin;
  private final SignInRoutes signIn;
  private final Client signInClient;
  private final RateLimiter signInsPerAddress;
  private final Meter requests;
  private final MetricRegistry metrics;
  private final Readiness readiness;

  /**
   * @param routes the services' routes
   * @param client the client of the services' calls and the admin routes'
   * @param signInClient the client of the sign-in routes' calls (no retries, a breaker that does not open)
   * @param verifier checks people's tokens
   * @param options the limits
   * @param metrics where {@code skiff.gateway.*} go
   */
  GatewayHandler(RouteTable routes, Client client, Client signInClient, TokenVerifier verifier, GatewayOptions options,
      MetricRegistry metrics, Readiness readiness) {
    this.readiness = readiness;
    this.routes = routes;
    this.client = client;
    this.signInClient = signInClient;
    this.verifier = verifier;
    this.options = options;
    this.metrics = metrics;
    this.perAddress = new RateLimiter(RATE_LIMIT + "address", options.ratePerAddress(), options.ratePerAddress(), options.maxRateKeys(),
        System::nanoTime, metrics);
    this.perUser = new RateLimiter(RATE_LIMIT + "user", options.ratePerUser(), options.ratePerUser(), options.maxRateKeys(), System::nanoTime, metrics);
    this.requests = metrics.meter("skiff.gateway.requests");
    this.admin = new AdminRoutes(metrics);
    this.signIn = new SignInRoutes();
    this.signInsPerAddress = RateLimiter.perMinute(RATE_LIMIT + "sign-in", options.signInsPerMinute(), options.maxRateKeys(), metrics);
  }

  /**
   * @return the OpenAPI document of what it serves now: its sign-in routes and the services' routes (served
   *     at {@value OpenApi#PATH}, and by the gateway's {@code openapi} endpoint)
   */
  String openApi() {
    List<Route> listed = new ArrayList<>(signIn.routes().all());
    listed.addAll(routes.all());
    return OpenApi.document(listed);
  }

  /** The state of one request as it is served. */
  private static final class Exchange {
    final Request request;
    final Response response;
    final Callback callback;
    final String id = Ids.random128();
    final long startNanos = System.nanoTime();
    final String client;
    String user = "-";
    /** Whether the request's body has been read to its end, or dropped, or given up on. */
    boolean bodyDone;

    Exchange(Request request, Response response, Callback callback, TrustedProxies proxies) {
      this.request = request;
      this.response = response;
      this.callback = callback;
      this.client = proxies.any()
          ? proxies.client(Request.getRemoteAddr(request), request.getHeaders().getValuesList(proxies.headerName()))
          : Request.getRemoteAddr(request);
    }
  }

  @Override
  public boolean handle(Request request, Response response, Callback callback) {
    requests.mark();
    Exchange ex = new Exchange(request, response, callback, options.proxies());
    HttpFields.Mutable h = response.getHeaders();
    h.put(REQUEST_ID_HEADER, ex.id);
    everyAnswersHeaders(h);
    try {
      serve(ex);
    } catch (SkiffException e) {
      fail(ex, HttpErrors.status(e.code()), e.code().name(), e.description());
    } catch (RuntimeException e) {
      log.warn("{} {} failed (request {})", request.getMethod(), Printable.of(request.getHttpURI().getPath()), ex.id, e);
      fail(ex, 500, ErrorCode.INTERNAL.name(), "internal error in the gateway");
    }
    return true;
  }

  private void serve(Exchange ex) {
    Request request = ex.request;
    String method = request.getMethod();
    // HEAD is served wherever GET is, as GET, with the answer's headers and no body (done)
    String lookup = method.equals("HEAD") ? "GET" : method;
    String path = request.getHttpURI().getPath();
    if (lookup.equals("GET") && (path.equals(Readiness.LIVE_PATH) || path.equals(Readiness.READY_PATH))) {
      probe(ex, path.equals(Readiness.READY_PATH)); // before the rate limits: a load balancer's probes are never refused
      return;
    }
    String origin = request.getHeaders().get(HttpHeader.ORIGIN);
    boolean preflight = method.equals("OPTIONS") && origin != null
        && request.getHeaders().get(HttpHeader.ACCESS_CONTROL_REQUEST_METHOD) != null;
    if (origin != null && options.cors().allows(origin)) {
      ex.response.getHeaders().put(HttpHeader.ACCESS_CONTROL_ALLOW_ORIGIN, origin);
      ex.response.getHeaders().put(HttpHeader.ACCESS_CONTROL_EXPOSE_HEADERS, Cors.EXPOSE_HEADERS);
    }
    if (origin != null) {
      ex.response.getHeaders().add(HttpHeader.VARY, "Origin");
    }
    OptionalLong wait = perAddress.acquire(ex.client);
    if (wait.isPresent()) {
      tooMany(ex, wait.getAsLong(), "too many requests from this address");
      return;
    }
    if (preflight) {
      preflight(ex, origin, path);
      return;
    }
    if (lookup.equals("GET") && path.equals(OpenApi.PATH)) {
      send(ex, 200, openApi());
      return;
    }
    if (lookup.equals("GET") && path.equals(ExplorerPage.FAVICON)) {
      ex.response.setStatus(204);
      done(ex, null);
      return;
    }
    Optional<ExplorerPage.Asset> asset = lookup.equals("GET") ? ExplorerPage.asset(path) : Optional.empty();
    if (asset.isPresent()) {
      ex.response.setStatus(200);
      ex.response.getHeaders().put(HttpHeader.CONTENT_TYPE, asset.get().contentType());
      ex.response.getHeaders().put("Content-Security-Policy", ExplorerPage.CSP);
      ex.response.getHeaders().put("Referrer-Policy", "no-referrer");
      done(ex, new String(asset.get().bytes(), java.nio.charset.StandardCharsets.UTF_8));
      return;
    }
    boolean adminPath = admin.routes().covers(path);
    boolean signInPath = signIn.routes().covers(path);
    Optional<RouteTable.Match> found;
    try {
      found = adminPath ? admin.routes().find(lookup, path) : signInPath ? signIn.routes().find(lookup, path) : routes.find(lookup, path);
    } catch (IllegalArgumentException e) {
      // PathTemplate.decode: a malformed percent-encoding, or one that is not UTF-8
      fail(ex, 400, ErrorCode.BAD_REQUEST.name(), e.getMessage());
      return;
    }
    if (found.isEmpty()) {
      Set<String> allow = methodsAt(path);
      if (!allow.isEmpty()) {
        ex.response.getHeaders().put(HttpHeader.ALLOW, String.join(", ", allow));
        fail(ex, 405, "METHOD_NOT_ALLOWED", method + " is not served at this path");
      } else {
        fail(ex, 404, ErrorCode.NOT_FOUND.name(), "no route for " + method + " " + path);
      }
      return;
    }
    RouteTable.Match match = found.get();
    Route route = match.route();
    if (!match.live()) {
      ex.response.getHeaders().put(HttpHeader.RETRY_AFTER, "1");
      fail(ex, 503, ErrorCode.UNAVAILABLE.name(), route.service() + " is not running");
      return;
    }
    boolean signingIn = signInPath && signIn.isSignIn(route);
    if (signingIn) {
      OptionalLong signInWait = signInsPerAddress.acquire(ex.client);
      if (signInWait.isPresent()) {
        tooMany(ex, signInWait.getAsLong(), "too many sign-ins from this address");
        return;
      }
    }
    // a sign-in proves who someone is by their password: a token sent along (an old one, say) is not read
    String token = signingIn ? null : bearer(request);
    UserIdentity person = null;
    if (token != null) {
      try {
        person = verifier.verify(token);
      } catch (TokenRejectedException e) {
        if (e.reason() == TokenRejectedException.Reason.KEYS_UNAVAILABLE) {
          // the edge cannot check any token now (the login service's keys or ended sessions are out of
          // reach): passing, and not the token's fault, so no invalid_token telling the app to drop it
          ex.response.getHeaders().put(HttpHeader.RETRY_AFTER, "1");
          fail(ex, 503, ErrorCode.UNAVAILABLE.name(), "the token cannot be checked now; try again in a moment");
          return;
        }
        ex.response.getHeaders().put(HttpHeader.WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"");
        fail(ex, 401, ErrorCode.UNAUTHORIZED.name(), "the token was refused: " + e.reason());
        return;
      }
      ex.user = person.user();
      OptionalLong userWait = perUser.acquire(person.user());
      if (userWait.isPresent()) {
        tooMany(ex, userWait.getAsLong(), "too many requests from this person");
        return;
      }
    } else if (!signingIn && request.getHeaders().get(HttpHeader.AUTHORIZATION) != null) {
      ex.response.getHeaders().put(HttpHeader.WWW_AUTHENTICATE, "Bearer");
      fail(ex, 401, ErrorCode.UNAUTHORIZED.name(), "the Authorization header must be 'Bearer TOKEN'");
      return;
    }
    if (adminPath) {
      if (person == null) {
        ex.response.getHeaders().put(HttpHeader.WWW_AUTHENTICATE, "Bearer");
      }
      admin.check(route, person, null);
    }
    UserIdentity caller = person;
    Duration timeout = timeout(request, route);
    String traceparent = traceparent(request);
    long length = request.getLength();
    if (length > options.maxBodyBytes()) {
      fail(ex, 413, "TOO_LARGE", "the request body is over " + options.maxBodyBytes() + " bytes");
      return;
    }
    if (length != 0 && route.body() != null) {
      String type = request.getHeaders().get(HttpHeader.CONTENT_TYPE);
      if (type != null && !JSON_MEDIA_TYPE.matcher(type).matches()) {
        fail(ex, 415, "UNSUPPORTED_MEDIA_TYPE", "the request body must be application/json");
        return;
      }
    }
    readBody(ex, body -> {
      try {
        Message message = RequestMapper.map(route, match.pathValues(), request.getHttpURI().getQuery(), body);
        if (adminPath) {
          admin.check(route, caller, message);
          admin.checkRequest(route, message);
        }
        call(ex, signInPath ? signInClient : client, route, message, timeout, token, traceparent, adminPath);
      } catch (SkiffException e) {
        fail(ex, HttpErrors.status(e.code()), e.code().name(), e.description());
      } catch (RuntimeException e) {
        log.warn("{} {} failed (request {})", method, Printable.of(path), ex.id, e);
        fail(ex, 500, ErrorCode.INTERNAL.name(), "internal error in the gateway");
      }
    });
  }

  /**
   * Reads the request body, at most {@link GatewayOptions#maxBodyBytes()} (413 past it, whether declared or
   * streamed; 400 when it cannot be read), without holding a thread while waiting for it; then hands it on
   * (on a pool thread: Jetty runs a demand callback as blocking work, and what follows parses JSON).
   */
  private void readBody(Exchange ex, java.util.function.Consumer<byte[]> then) {
    BodyReader.keep(ex.request, options.maxBodyBytes(), (outcome, body) -> {
      switch (outcome) {
        case READ -> {
          ex.bodyDone = true;
          then.accept(body);
        }
        case TOO_LARGE -> {
          giveUpOnBody(ex);
          fail(ex, 413, "TOO_LARGE", "the request body is over " + options.maxBodyBytes() + " bytes");
        }
        case FAILED -> {
          giveUpOnBody(ex);
          fail(ex, 400, ErrorCode.BAD_REQUEST.name(), "the request body could not be read");
        }
      }
    });
  }

  /**
   * Reads and drops the body of a request answered before its body was read (refused by a check, or no
   * route), up to {@link GatewayOptions#maxBodyBytes()}, without holding a thread while waiting for it; then
   * runs {@code then}. Without it the server would close the HTTP/1.1 connection under a client still
   * sending its body (Tomcat's {@code maxSwallowSize} does the same). A body that is declared or turns out
   * larger, or that cannot be read, is not waited for: the answer says the connection closes.
   */
  private void dropBody(Exchange ex, Runnable then) {
    BodyReader.drop(ex.request, options.maxBodyBytes(), (outcome, none) -> {
      if (outcome == BodyReader.Outcome.READ) {
        ex.bodyDone = true;
      } else {
        giveUpOnBody(ex);
      }
      then.run();
    });
  }

  /** The rest of the body will not be read: over HTTP/1.x the answer says the connection closes after it. */
  private static void giveUpOnBody(Exchange ex) {
    ex.bodyDone = true;
    if (ex.request.getConnectionMetaData().getHttpVersion().getVersion() < 20) {
      ex.response.getHeaders().put(HttpHeader.CONNECTION, org.eclipse.jetty.http.HttpHeaderValue.CLOSE.asString());
    }
  }

  /**
   * Makes a route's call and answers with its reply or its error.
   *
   * @param kernel whether it is an admin route's, to a kernel service: when no copy of it answers (no queue,
   *     no reply in time, the client's breaker open: errors the client raised, not the service), 503
   *     {@code UNAVAILABLE} with {@code Retry-After}, as for a service that is gone, not 504
   */
  private void call(Exchange ex, Client via, Route route, Message message, Duration timeout, String token, String traceparent,
      boolean kernel) {
    Instant deadline = Instant.now().plus(timeout);
    Client scoped = via.withScope(new CallScope(deadline, traceparent, token));
    if (traceparent != null) {
      ex.response.getHeaders().put("traceparent", traceparent);
    }
    scoped.exchange(route.service(), route.endpoint(), message, DynamicMessage.getDefaultInstance(route.response()),
            CallOptions.timeout(timeout).withRequestId(ex.id))
        .whenComplete((reply, failure) -> {
          if (failure == null) {
            try {
              send(ex, 200, ResponseMapper.json(route, reply.value()));
            } catch (InvalidProtocolBufferException e) {
              fail(ex, 500, ErrorCode.INTERNAL.name(), "the answer cannot be written as JSON");
            }
            return;
          }
          SkiffException e = SkiffException.of(failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure);
          if (kernel && e.service().isEmpty() && (e.code() == ErrorCode.TIMEOUT || e.code() == ErrorCode.NOT_FOUND
              || e.code() == ErrorCode.UNAVAILABLE || e.code() == ErrorCode.CIRCUIT_OPEN)) {
            ex.response.getHeaders().put(HttpHeader.RETRY_AFTER, "1");
            fail(ex, 503, ErrorCode.UNAVAILABLE.name(), "the kernel service " + route.service() + " did not answer (" + e.code()
                + "): is the kernel running?");
            return;
          }
          if (e.code() == ErrorCode.NOT_FOUND && e.instance().isEmpty() && e.context().containsKey("service")) {
            // nobody answered: the client found no queue for the service
            ex.response.getHeaders().put(HttpHeader.RETRY_AFTER, "1");
            fail(ex, 503, ErrorCode.UNAVAILABLE.name(), route.service() + " is not running");
            return;
          }
          if (e.code() == ErrorCode.CAPACITY || e.code() == ErrorCode.UNAVAILABLE || e.code() == ErrorCode.CIRCUIT_OPEN) {
            // the service's own word on how long (a locked name: until it unlocks), else a second
            long seconds = e.retryAfter().map(d -> Math.max(1, (d.toMillis() + 999) / 1000)).orElse(1L);
            ex.response.getHeaders().put(HttpHeader.RETRY_AFTER, Long.toString(seconds));
          }
          fail(ex, HttpErrors.status(e.code()), e.code().name(), e.description());
        });
  }

  private void preflight(Exchange ex, String origin, String path) {
    if (!options.cors().allows(origin)) {
      fail(ex, 403, ErrorCode.FORBIDDEN.name(), "this origin may not call the gateway");
      return;
    }
    Set<String> methods = methodsAt(path);
    HttpFields.Mutable h = ex.response.getHeaders();
    if (methods.isEmpty()) {
      // nothing to allow: no CORS header at all, so the browser's preflight fails as it should
      h.remove(HttpHeader.ACCESS_CONTROL_ALLOW_ORIGIN);
      h.remove(HttpHeader.ACCESS_CONTROL_EXPOSE_HEADERS);
      fail(ex, 404, ErrorCode.NOT_FOUND.name(), "no route at " + path);
      return;
    }
    h.put(HttpHeader.ACCESS_CONTROL_ALLOW_METHODS, String.join(", ", methods));
    h.put(HttpHeader.ACCESS_CONTROL_ALLOW_HEADERS, Cors.ALLOW_HEADERS);
    h.put(HttpHeader.ACCESS_CONTROL_MAX_AGE, Cors.MAX_AGE);
    ex.response.setStatus(204);
    done(ex, null);
  }

  /**
   * @param path a request's path
   * @return the methods served at it, sorted, {@code HEAD} wherever {@code GET} is (for 405's {@code Allow}
   *     and preflights' {@code Access-Control-Allow-Methods}): the gateway's own GET paths' ({@value OpenApi#PATH},
   *     the explorer, the probes), the admin or sign-in routes' under their prefixes, else the services'
   *     routes'; empty when nothing is served there (or the path is malformed)
   */
  private Set<String> methodsAt(String path) {
    Set<String> methods = new TreeSet<>();
    if (path.equals(OpenApi.PATH) || path.equals(Readiness.LIVE_PATH) || path.equals(Readiness.READY_PATH)
        || ExplorerPage.paths().contains(path)) {
      methods.add("GET");
    }
    try {
      methods.addAll(admin.routes().covers(path) ? admin.routes().methodsFor(path)
          : signIn.routes().covers(path) ? signIn.routes().methodsFor(path) : routes.methodsFor(path));
    } catch (IllegalArgumentException e) {
      // a malformed percent-encoding: no route matches it
    }
    if (methods.contains("GET")) {
      methods.add("HEAD");
    }
    return methods;
  }

  private void tooMany(Exchange ex, long waitNanos, String message) {
    ex.response.getHeaders().put(HttpHeader.RETRY_AFTER, Long.toString(RateLimiter.retryAfterSeconds(waitNanos)));
    fail(ex, 429, "RATE_LIMITED", message);
  }

  private static Duration timeout(Request request, Route route) {
    String header = request.getHeaders().get(TIMEOUT_HEADER);
    if (header == null) {
      return route.timeout();
    }
    Duration d;
    try {
      d = Durations.parse(header);
    } catch (IllegalArgumentException e) {
      throw new SkiffException(ErrorCode.BAD_REQUEST, TIMEOUT_HEADER + " must be a duration such as 500ms or 2s");
    }
    if (d.isZero() || d.isNegative() || d.compareTo(Gateway.MAX_TIMEOUT) > 0) {
      throw new SkiffException(ErrorCode.BAD_REQUEST, TIMEOUT_HEADER + " must be more than 0 and at most " + Gateway.MAX_TIMEOUT.toSeconds() + "s");
    }
    return d;
  }

  /**
   * @return the request's W3C trace context when it is valid ({@link TraceContext#parse}: version {@code 00},
   *     lower-case hex, neither id all zeros), else null: a new trace is started, and none is returned
   */
  private static String traceparent(Request request) {
    String t = request.getHeaders().get("traceparent");
    return TraceContext.parse(t) == null ? null : t;
  }

  /** Puts the headers every answer carries, the gateway's and Jetty's own refusals alike (besides the request id). */
  private static void everyAnswersHeaders(HttpFields.Mutable h) {
    h.put("X-Content-Type-Options", "nosniff");
    h.put("Cache-Control", "no-store");
    h.put("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
  }

  private static String bearer(Request request) {
    String h = request.getHeaders().get(HttpHeader.AUTHORIZATION);
    if (h == null || h.length() < 7 || !h.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return null;
    }
    String t = h.substring(7).trim();
    return t.isEmpty() ? null : t;
  }

  /** Answers a load balancer's probe ({@link Readiness}): 200, or 503 naming what is not ready. */
  private void probe(Exchange ex, boolean ready) {
    List<String> notReady = ready ? readiness.notReady() : List.of();
    if (notReady.isEmpty()) {
      send(ex, 200, ready ? "{\"status\":\"ready\"}" : "{\"status\":\"live\"}");
      return;
    }
    ex.response.getHeaders().put(HttpHeader.RETRY_AFTER, "1");
    send(ex, 503, "{\"status\":\"not ready\",\"failing\":["
        + notReady.stream().map(JsonStrings::quote).collect(java.util.stream.Collectors.joining(",")) + "]}");
  }

  private void fail(Exchange ex, int status, String code, String message) {
    if (status == 401 && !ex.response.getHeaders().contains(HttpHeader.WWW_AUTHENTICATE)) {
      // RFC 9110: every 401 names a scheme, a service's own UNAUTHORIZED too (an endpoint for signed-in people)
      ex.response.getHeaders().put(HttpHeader.WWW_AUTHENTICATE, "Bearer");
    }
    send(ex, status, HttpErrors.body(code, message, ex.id));
  }

  private void send(Exchange ex, int status, String json) {
    ex.response.setStatus(status);
    ex.response.getHeaders().put(HttpHeader.CONTENT_TYPE, JSON_TYPE);
    done(ex, json);
  }

  private void done(Exchange ex, String body) {
    int status = ex.response.getStatus();
    metrics.meter("skiff.gateway.responses." + status / 100 + "xx").mark();
    if (access.isInfoEnabled()) {
      access.info("{} {} {} {} {}us {} {}", ex.client, ex.request.getMethod(),
          Printable.of(ex.request.getHttpURI().getPath(), 200), status, (System.nanoTime() - ex.startNanos) / 1000, ex.user, ex.id);
    }
    if (!ex.bodyDone && ex.request.getLength() != 0) {
      // answered before the body was read: read it first, so the connection can serve the next request
      dropBody(ex, () -> write(ex, body));
      return;
    }
    write(ex, body);
  }

  private void write(Exchange ex, String body) {
    if (body == null) {
      ex.response.write(true, null, ex.callback);
    } else if (ex.request.getMethod().equals("HEAD")) {
      ex.response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.getBytes(java.nio.charset.StandardCharsets.UTF_8).length);
      ex.response.write(true, null, ex.callback);
    } else {
      Content.Sink.write(ex.response, true, body, ex.callback);
    }
  }

  /**
   * @return the server's error handler: Jetty's own refusals (a malformed request 400, a request line too
   *     long 414, headers too large 431, ...) in the gateway's error format, with the headers of every answer
   */
  Request.Handler errorHandler() {
    return new ErrorHandler() {
      @Override
      public boolean handle(Request request, Response response, Callback callback) {
        int status = request.getAttribute(ERROR_STATUS) instanceof Integer s ? s : response.getStatus();
        String code = RefusalCodes.of(status);
        String id = response.getHeaders().get(REQUEST_ID_HEADER);
        if (id == null) {
          id = Ids.random128();
          response.getHeaders().put(REQUEST_ID_HEADER, id);
        }
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, JSON_TYPE);
        everyAnswersHeaders(response.getHeaders());
        String reason = org.eclipse.jetty.http.HttpStatus.getMessage(status);
        // Jetty's own reason, when it gave one ("Ambiguous URI path segment", "Bad UTF-8 encoding"), says why
        String why = request.getAttribute(ERROR_MESSAGE) instanceof String m && !m.isBlank() && !m.equals(reason) ? ": " + m : "";
        Content.Sink.write(response, true, HttpErrors.body(code, "HTTP " + status + " " + reason + why, id), callback);
        return true;
      }
    };
  }
}
