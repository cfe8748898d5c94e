package dev.skiff.kernel;

import com.codahale.metrics.MetricRegistry;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import dev.skiff.kernel.http.Tls;
import dev.skiff.kernel.http.TrustedProxies;
import dev.skiff.platform.internal.JsonStrings;
import dev.skiff.platform.internal.Printable;
import dev.skiff.platform.security.Role;
import dev.skiff.platform.security.TokenVerifier;
import dev.skiff.platform.security.UserIdentity;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentSkipListMap;
import org.eclipse.jetty.http.HttpURI;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.SizeLimitHandler;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The kernel's web server: kernel services mount their pages and JSON APIs on it, and {@code /} lists
 * what is mounted. Default port 8090 ({@code SKIFF_HTTP_PORT}).
 *
 * <p>It runs on Jetty (docs/security.md, "The kernel's pages"): a bounded thread pool, idle connections
 * that hold no thread and are closed after {@link Options#idleTimeout()}, a cap on request headers and
 * bodies, and a cap on open connections. Every response carries {@link #SECURITY_HEADERS}. Who may see a
 * page is decided here, before its handler runs: in {@link Options.Auth#REQUIRED} mode every page needs a
 * signed-in person with {@link #PAGES_ROLE}; in {@link Options.Auth#OPEN} mode (development) the
 * read-only requests ({@code GET}, {@code HEAD}) are open; a request that may change anything (any other
 * method) always needs the role. People sign in at {@code /signin} (a session cookie) or send
 * {@code Authorization: Bearer TOKEN}; a handler reads who with {@link #user(HttpExchange)}.
 *
 * <p>Handlers are the JDK's {@link HttpHandler}: the same API as before the move to Jetty.
 *
 * <p>Thread-safe. Owned by the {@link Kernel}.
 */
public final class WebServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(WebServer.class);

  /**
   * The head element every page carries so that a phone lays it out at its own width rather than at 980 px
   * shrunk to a third (text of about 6 px).
   */
  public static final String VIEWPORT = "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">";

  /**
   * The headers every response carries. The pages' scripts are served files ({@code script-src 'self'});
   * inline styles are allowed (the trace diagrams colour SVG elements with {@code style} attributes), inline
   * scripts, plug-ins, framing and other origins are not.
   */
  public static final Map<String, String> SECURITY_HEADERS = Map.of(
      "Content-Security-Policy",
      "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; "
          + "base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
      "X-Content-Type-Options", "nosniff",
      "X-Frame-Options", "DENY",
      "Referrer-Policy", "same-origin", // not no-referrer: with it browsers send "Origin: null" on the pages' own form posts
      "Cache-Control", "no-store");

  /** The role a person needs for the pages that need one ({@code ADMIN} covers it). */
  public static final Role PAGES_ROLE = Role.of("ADMIN.PAGES");

  /** The idle timeout of every open connection once {@link Options#maxConnections()} are open. */
  public static final Duration LIMITED_IDLE_TIMEOUT = Duration.ofSeconds(2);

  /** The most bytes of a request body a page accepts (a sign-in form, a change's parameters). */
  static final int MAX_BODY_BYTES = 64 * 1024;

  private final LimitedJetty jetty;
  private final PageGate gate;
  private final Map<String, HttpHandler> handlers = new ConcurrentSkipListMap<>();
  private final Map<String, String> titles = new ConcurrentSkipListMap<>();

  private WebServer(Options options, PageGate gate, String host, int port) {
    this.gate = gate;
    jetty = LimitedJetty.create("skiff-web", options, host, port);
    SizeLimitHandler bodies = new SizeLimitHandler(MAX_BODY_BYTES, -1);
    bodies.setHandler(new Handler.Abstract() {
      @Override
      public boolean handle(Request request, Response response, Callback callback) {
        serve(request, response, callback);
        return true;
      }
    });
    jetty.handler(bodies);
  }

  /**
   * Starts a web server with the default {@link Options} and open pages (development), verifying no
   * session tokens: for tests and tools that mount pages of their own.
   *
   * @param host the address to bind, e.g. {@code 0.0.0.0} or {@code 127.0.0.1}
   * @param port the port, or 0 for any free one
   * @return the running server
   * @throws dev.skiff.kernel.http.CannotListen naming the address when it cannot be bound
   */
  public static WebServer start(String host, int port) {
    return start(host, port, Options.defaults(), TokenVerifier.refusingAll(), SignIn.UNAVAILABLE);
  }

  /**
   * Starts a web server.
   *
   * @param host the address to bind, e.g. {@code 0.0.0.0} or {@code 127.0.0.1}
   * @param port the port, or 0 for any free one
   * @param options its limits and who may see the pages
   * @param verifier checks the session tokens people send (not owned)
   * @param signIn signs people in and out at {@code /signin} (not owned)
   * @return the running server
   * @throws dev.skiff.kernel.http.CannotListen naming the address when it cannot be bound
   */
  public static WebServer start(String host, int port, Options options, TokenVerifier verifier, SignIn signIn) {
    return start(host, port, options, verifier, signIn, new MetricRegistry());
  }

  /**
   * Starts a web server whose own counters (the sign-in pace's) go to the given registry.
   *
   * @param host the address to bind, e.g. {@code 0.0.0.0} or {@code 127.0.0.1}
   * @param port the port, or 0 for any free one
   * @param options its limits and who may see the pages
   * @param verifier checks the session tokens people send (not owned)
   * @param signIn signs people in and out at {@code /signin} (not owned)
   * @param metrics where its counters go ({@code skiff.pages.rate-limit.sign-in.*})
   * @return the running server
   * @throws dev.skiff.kernel.http.CannotListen naming the address when it cannot be bound
   */
  public static WebServer start(String host, int port, Options options, TokenVerifier verifier, SignIn signIn, MetricRegistry metrics) {
    Objects.requireNonNull(options, "options");
    WebServer w = new WebServer(options, new PageGate(options, verifier, signIn, metrics), host, port);
    try {
      w.jetty.start();
    } catch (RuntimeException e) {
      w.close();
      throw e;
    }
    return w;
  }

  /** @return the port it listens on */
  public int port() {
    return jetty.connector().getLocalPort();
  }

  /**
   * Mounts a handler under a path.
   *
   * @param path e.g. {@code /monitoring}; requests to it and below go to the handler
   * @param title what the index page calls it, or null to leave it off the index
   * @param handler the handler
   */
  public void mount(String path, String title, HttpHandler handler) {
    if (!path.startsWith("/") || path.equals("/") || path.endsWith("/")) {
      throw new IllegalArgumentException("mount path must start with / and not end with one: " + path);
    }
    handlers.put(path, Objects.requireNonNull(handler, "handler"));
    if (title != null) {
      titles.put(path, title);
    }
  }

  /**
   * @param exchange a request being served by this server
   * @return the signed-in person who sent it, if any
   */
  public static Optional<UserIdentity> user(HttpExchange exchange) {
    return exchange.getAttribute(PageGate.USER) instanceof UserIdentity u ? Optional.of(u) : Optional.empty();
  }

  private void serve(Request request, Response response, Callback callback) {
    SECURITY_HEADERS.forEach((k, v) -> response.getHeaders().put(k, v));
    HttpURI httpUri = request.getHttpURI();
    URI uri;
    try {
      uri = new URI(httpUri.getPathQuery());
    } catch (URISyntaxException | RuntimeException e) {
      Response.writeError(request, response, callback, 400, "bad request target");
      return;
    }
    JettyExchange ex = new JettyExchange(request, response, uri);
    try {
      String path = uri.getPath();
      if (path.equals("/favicon.ico")) {
        // browsers ask for it on every page: "none", not a 404 (or a 401 under SKIFF_PAGES_AUTH=required) in their logs
        send(ex, 204, "image/x-icon", "");
      } else if (gate.handles(path)) {
        gate.serve(ex);
      } else if (gate.admit(ex)) {
        dispatch(path, ex);
      }
      ex.close();
      callback.succeeded();
    } catch (RuntimeException | IOException e) {
      log.warn("{} {} failed", request.getMethod(), Printable.of(uri.getPath()), e);
      if (ex.sent()) {
        callback.failed(e);
        return;
      }
      try {
        if (isApi(uri.getPath())) {
          sendError(ex, 500, "INTERNAL", "internal error: " + e.getClass().getSimpleName());
        } else {
          send(ex, 500, "text/plain; charset=utf-8", "internal error: " + e.getClass().getSimpleName());
        }
        callback.succeeded();
      } catch (IOException | RuntimeException again) {
        callback.failed(again);
      }
    }
  }

  private void dispatch(String path, HttpExchange ex) throws IOException {
    if (path.equals("/")) {
      index(ex);
      return;
    }
    for (String p = path; !p.isEmpty(); p = p.substring(0, Math.max(0, p.lastIndexOf('/')))) {
      HttpHandler h = handlers.get(p);
      if (h != null) {
        h.handle(ex);
        return;
      }
    }
    notFound(ex, "not found: " + path);
  }

  private void index(HttpExchange exchange) throws IOException {
    StringBuilder html = new StringBuilder("<!doctype html><html><head><meta charset=\"utf-8\">" + VIEWPORT + "<title>Skiff kernel</title>"
        + "<style>body{font-family:system-ui,sans-serif;margin:2em}a{display:block;margin:.4em 0}</style></head><body>"
        + "<h1>Skiff kernel</h1>");
    titles.forEach((path, title) -> html.append("<a href=\"").append(escape(path)).append("\">").append(escape(title)).append("</a>"));
    html.append(PageGate.signedInAs(user(exchange).orElse(null)));
    html.append("</body></html>");
    send(exchange, 200, "text/html; charset=utf-8", html.toString());
  }

  /**
   * @param exchange a request
   * @return its query's fields, decoded (the first of a name wins; malformed pairs are skipped)
   */
  public static Map<String, String> query(HttpExchange exchange) {
    return PageGate.query(exchange);
  }

  /**
   * Reads a posted form of at most 4096 bytes; a larger one is answered 413 here.
   *
   * @param exchange a POST of an {@code application/x-www-form-urlencoded} body
   * @param what the form, as the 413 answer names it ({@code the form})
   * @return its fields, decoded (the first of a name wins; malformed pairs are skipped), or empty when it
   *     was too large (answered)
   * @throws IOException if the client went away
   */
  public static Optional<Map<String, String>> readForm(HttpExchange exchange, String what) throws IOException {
    return PageGate.readForm(exchange, what);
  }

  /**
   * Sends a whole response.
   *
   * @param exchange the exchange
   * @param status the HTTP status
   * @param contentType the content type
   * @param body the body
   * @throws IOException if the client went away
   */
  public static void send(HttpExchange exchange, int status, String contentType, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", contentType);
    exchange.getResponseHeaders().set("Cache-Control", "no-store");
    boolean head = "HEAD".equals(exchange.getRequestMethod());
    exchange.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      if (!head) {
        out.write(bytes);
      }
    }
  }

  /**
   * Whether a path is one of the pages' JSON APIs: {@code /MOUNT/api} and below ({@code /config/api/SERVICE},
   * {@code /monitoring/api/services}, {@code /discovery/api/services}, {@code /routing/api/rules},
   * {@code /traces/api/...}). Their errors, the page gate's 401 and 403 included, are answered with
   * {@link #sendError} as JSON; the HTML pages' as HTML or text.
   *
   * @param path a request's path
   * @return whether it is a JSON API's
   */
  public static boolean isApi(String path) {
    int second = path.indexOf('/', 1);
    return second > 1 && path.startsWith("/api", second) && (path.length() == second + 4 || path.charAt(second + 4) == '/');
  }

  /**
   * Sends an error of a JSON API in the one shape, {@code {"error":"CODE","message":"..."}}
   * ({@code application/json}; {@code < > &} escaped too, so that it is never markup, whatever reads it).
   *
   * @param exchange the exchange
   * @param status the HTTP status
   * @param code the error's code: a Skiff {@code ErrorCode}'s name, or {@code METHOD_NOT_ALLOWED}
   * @param message for a person
   * @throws IOException if the client went away
   */
  public static void sendError(HttpExchange exchange, int status, String code, String message) throws IOException {
    send(exchange, status, "application/json", errorJson(code, message));
  }

  /**
   * @param code the error's code
   * @param message for a person
   * @return the one shape of a JSON API's error, {@code {"error":"CODE","message":"..."}}, {@code < > &}
   *     escaped too
   */
  public static String errorJson(String code, String message) {
    StringBuilder json = new StringBuilder("{\"error\":");
    JsonStrings.quote(json, code).append(",\"message\":");
    JsonStrings.quote(json, message).append('}');
    return htmlSafe(json.toString());
  }

  /**
   * Answers a method a path does not serve: 405 with {@code Allow}, as JSON on a JSON API's path
   * ({@link #isApi}), as text on a page's.
   *
   * @param exchange the exchange
   * @param allow the methods served there, e.g. {@code GET, HEAD}
   * @throws IOException if the client went away
   */
  public static void methodNotAllowed(HttpExchange exchange, String allow) throws IOException {
    exchange.getResponseHeaders().set("Allow", allow);
    String message = exchange.getRequestMethod() + " is not served here (only " + allow + ")";
    if (isApi(exchange.getRequestURI().getPath())) {
      sendError(exchange, 405, "METHOD_NOT_ALLOWED", message);
    } else {
      send(exchange, 405, "text/plain; charset=utf-8", message);
    }
  }

  /**
   * Answers a path nothing serves: 404, as JSON on a JSON API's path ({@link #isApi}), as text on a page's.
   *
   * @param exchange the exchange
   * @param message what is served instead, for a person
   * @throws IOException if the client went away
   */
  public static void notFound(HttpExchange exchange, String message) throws IOException {
    if (isApi(exchange.getRequestURI().getPath())) {
      sendError(exchange, 404, "NOT_FOUND", message);
    } else {
      send(exchange, 404, "text/plain; charset=utf-8", message);
    }
  }

  /**
   * @param json JSON text
   * @return it with {@code < > &} escaped (they only occur in its strings): never markup, whatever reads it
   */
  public static String htmlSafe(String json) {
    return json.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026");
  }

  /**
   * A whole HTML page in the kernel's look: a link back to the index, the title as a heading, then the body.
   *
   * @param title the title (text: it is escaped)
   * @param body the body (HTML: escape every value in it with {@link #escape(String)})
   * @return the page
   */
  public static String page(String title, String body) {
    return "<!doctype html><html><head><meta charset=\"utf-8\">" + VIEWPORT + "<title>" + escape(title) + "</title>" + PAGE_STYLE + "</head><body>"
        + "<nav><a href=\"/\">Kernel</a></nav><h1>" + escape(title) + "</h1>" + body + "</body></html>";
  }

  private static final String PAGE_STYLE = "<style>body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}"
      + "table{border-collapse:collapse;font-size:14px;margin:.5em 0 1.5em}td,th{padding:3px 10px;border-bottom:1px solid #e3e3e3;"
      + "text-align:left;vertical-align:top}th{background:#f3f5f8}.ok{color:#2e7d32}.warn{color:#ef6c00}.err{color:#d64541}"
      + ".muted{color:#666}nav a{margin-right:1.2em}h2{margin:1.2em 0 .2em;font-size:1.15em}"
      // one long value or name wraps instead of widening the whole page (a 3000-character config value made it 38,000 px)
      + "td,th,code,p,li,h1,h2{overflow-wrap:anywhere}@media (max-width:600px){body{margin:.8em}td,th{padding:3px 4px}}</style>";

  /**
   * Escapes untrusted text for HTML: the five characters HTML gives a meaning to, and control and format
   * characters (a bidi override would reorder the rest of the paragraph, a zero-width one hide text) written
   * visibly as {@code \}{@code uXXXX}, as the command line shows them ({@link Printable#keepingLines}).
   *
   * @param s the text
   * @return the escaped text
   */
  public static String escape(String s) {
    return Printable.keepingLines(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;")
        .replace("'", "&#39;");
  }

  @Override
  public void close() {
    try {
      jetty.server().stop();
    } catch (Exception e) {
      log.debug("stopping the web server: {}", e.toString());
    }
  }

  /**
   * Signs people in and out for the pages: the login service, called by the kernel's own client.
   */
  public interface SignIn {
    /** Refuses every sign-in: no login service is known. */
    SignIn UNAVAILABLE = new SignIn() {
      @Override
      public dev.skiff.proto.v1.Session signIn(String user, String password) {
        throw new dev.skiff.platform.SkiffException(dev.skiff.platform.ErrorCode.UNAVAILABLE, "no login service on this server");
      }

      @Override
      public void signOut(String token) {}
    };

    /**
     * @param user the user name, as typed (untrusted)
     * @param password the password, as typed (never logged)
     * @return the new session
     * @throws dev.skiff.platform.SkiffException when the login service refuses or cannot be reached
     */
    dev.skiff.proto.v1.Session signIn(String user, String password);

    /**
     * Ends a session everywhere (the login service's {@code logout}); failures are ignored.
     *
     * @param token the session's token
     */
    void signOut(String token);

    /**
     * A new token for the same session (the login service's {@code renew}), so that a person using the
     * pages is not sent to sign in again at each token's end, up to the session's own end.
     *
     * @param token the session's current token, verified
     * @return the session with its new token
     * @throws dev.skiff.platform.SkiffException when the login service refuses (the session has reached its
     *     end, or was ended) or cannot be reached; this default: UNAVAILABLE
     */
    default dev.skiff.proto.v1.Session renew(String token) {
      throw new dev.skiff.platform.SkiffException(dev.skiff.platform.ErrorCode.UNAVAILABLE, "no login service on this server");
    }
  }

  /**
   * The web server's limits and who may see the pages.
   *
   * @param idleTimeout how long a connection may send nothing (a half-sent header included) before it is
   *     closed ({@code SKIFF_HTTP_IDLE_TIMEOUT}, seconds; default 30)
   * @param maxConnections the most connections open at once; beyond it new ones wait in the accept queue
   *     and idle ones are closed after 2 s ({@code SKIFF_HTTP_MAX_CONNECTIONS}; default 256)
   * @param maxThreads the most threads serving requests ({@code SKIFF_HTTP_MAX_THREADS}; default 32; idle
   *     connections hold none)
   * @param maxHeaderBytes the largest request line and headers, bytes; larger is refused with 431
   *     ({@code SKIFF_HTTP_MAX_HEADER_BYTES}; default 8192)
   * @param auth who may see the pages ({@code SKIFF_PAGES_AUTH}: {@code open}, the default, or
   *     {@code required})
   * @param proxies the load balancers whose forwarding header names the client, for the sign-in pace
   *     ({@code SKIFF_HTTP_TRUSTED_PROXIES}, CIDRs, default none; {@code SKIFF_HTTP_FORWARDED_HEADER},
   *     {@code X-Forwarded-For} or {@code Forwarded}); see {@link TrustedProxies}
   * @param signInsPerMinute sign-ins a minute per client address ({@code SKIFF_HTTP_SIGN_INS_PER_MINUTE},
   *     default 60), with a burst of a sixth as many (at least 1); past it, 429 with {@code Retry-After}. On top of
   *     the login service's own slowing down and locking of a name that fails again and again
   * @param tls the key store the port serves HTTPS with ({@code SKIFF_HTTP_TLS_KEYSTORE} and
   *     {@code SKIFF_HTTP_TLS_KEYSTORE_PASSWORD}); empty, the default, for plain HTTP. See {@link Tls}
   */
  public record Options(Duration idleTimeout, int maxConnections, int maxThreads, int maxHeaderBytes, Auth auth,
      TrustedProxies proxies, int signInsPerMinute, Optional<Tls> tls) {
    /** Who may see the pages. */
    public enum Auth {
      /** Development: read-only requests are open; any other needs a signed-in person with the role. */
      OPEN,
      /** Production: every request needs a signed-in person with the role. */
      REQUIRED
    }

    /** Checks the limits. */
    public Options {
      if (idleTimeout.isNegative() || idleTimeout.isZero() || idleTimeout.compareTo(Duration.ofHours(1)) > 0) {
        throw new IllegalArgumentException("idleTimeout must be from 1 ms to 1 hour: " + idleTimeout);
      }
      if (maxConnections < 1) {
        throw new IllegalArgumentException("maxConnections must be positive: " + maxConnections);
      }
      if (maxThreads < 8) {
        throw new IllegalArgumentException("maxThreads must be at least 8: " + maxThreads);
      }
      if (maxHeaderBytes < 1024 || maxHeaderBytes > 1024 * 1024) {
        throw new IllegalArgumentException("maxHeaderBytes must be from 1024 to 1048576: " + maxHeaderBytes);
      }
      Objects.requireNonNull(auth, "auth");
      Objects.requireNonNull(proxies, "proxies");
      Objects.requireNonNull(tls, "tls");
      if (signInsPerMinute < 1) {
        throw new IllegalArgumentException("signInsPerMinute must be positive: " + signInsPerMinute);
      }
    }

    /**
     * @return 30 s idle timeout, 256 connections, 32 threads, 8 KiB of headers, open pages, no trusted proxy,
     *     60 sign-ins a minute, plain HTTP
     */
    public static Options defaults() {
      return new Options(Duration.ofSeconds(30), 256, 32, 8192, Auth.OPEN, TrustedProxies.none(), 60, Optional.empty());
    }

    /**
     * @param env the environment ({@code SKIFF_HTTP_IDLE_TIMEOUT}, {@code SKIFF_HTTP_MAX_CONNECTIONS},
     *     {@code SKIFF_HTTP_MAX_THREADS}, {@code SKIFF_HTTP_MAX_HEADER_BYTES}, {@code SKIFF_HTTP_TRUSTED_PROXIES},
     *     {@code SKIFF_HTTP_FORWARDED_HEADER}, {@code SKIFF_HTTP_SIGN_INS_PER_MINUTE}, {@code SKIFF_HTTP_TLS_KEYSTORE},
     *     {@code SKIFF_HTTP_TLS_KEYSTORE_PASSWORD}, {@code SKIFF_PAGES_AUTH})
     * @return the options it sets, defaults for the rest
     * @throws IllegalArgumentException naming the variable whose value is wrong
     */
    public static Options fromEnvironment(Map<String, String> env) {
      return fromEnvironment(env, "SKIFF_HTTP_");
    }

    /**
     * @param env the environment
     * @param prefix the limits' variables' prefix: {@code SKIFF_HTTP_} for the kernel's pages (then
     *     {@code SKIFF_HTTP_IDLE_TIMEOUT} and so on), {@code SKIFF_GATEWAY_} for the gateway (then
     *     {@code SKIFF_GATEWAY_SIGN_INS_PER_MINUTE}, the pace of its {@code /auth/v1/login})
     * @return the options it sets, defaults for the rest ({@code SKIFF_PAGES_AUTH} is read whatever the prefix)
     * @throws IllegalArgumentException naming the variable whose value is wrong
     */
    public static Options fromEnvironment(Map<String, String> env, String prefix) {
      Options d = defaults();
      String mode = env.getOrDefault("SKIFF_PAGES_AUTH", "").trim();
      Auth auth = switch (mode) {
        case "", "open" -> Auth.OPEN;
        case "required" -> Auth.REQUIRED;
        default -> throw new IllegalArgumentException("SKIFF_PAGES_AUTH must be 'open' or 'required', not '" + Printable.of(mode) + "'");
      };
      return new Options(
          Duration.ofSeconds(number(env, prefix + "IDLE_TIMEOUT", d.idleTimeout().toSeconds(), 1, 3600)),
          (int) number(env, prefix + "MAX_CONNECTIONS", d.maxConnections(), 1, 1_000_000),
          (int) number(env, prefix + "MAX_THREADS", d.maxThreads(), 8, 10_000),
          (int) number(env, prefix + "MAX_HEADER_BYTES", d.maxHeaderBytes(), 1024, 1024 * 1024),
          auth,
          TrustedProxies.fromEnvironment(env, prefix),
          (int) number(env, prefix + "SIGN_INS_PER_MINUTE", d.signInsPerMinute(), 1, 1_000_000),
          Tls.fromEnvironment(env, prefix));
    }

    /**
     * @param max the most connections open at once
     * @return these options with that
     */
    public Options withMaxConnections(int max) {
      return new Options(idleTimeout, max, maxThreads, maxHeaderBytes, auth, proxies, signInsPerMinute, tls);
    }

    /**
     * @param auth who may see the pages
     * @return these options with that
     */
    public Options withAuth(Auth auth) {
      return new Options(idleTimeout, maxConnections, maxThreads, maxHeaderBytes, auth, proxies, signInsPerMinute, tls);
    }

    /**
     * @param proxies the load balancers whose forwarding header names the client
     * @return these options with them
     */
    public Options withTrustedProxies(TrustedProxies proxies) {
      return new Options(idleTimeout, maxConnections, maxThreads, maxHeaderBytes, auth, proxies, signInsPerMinute, tls);
    }

    /**
     * @param perMinute sign-ins a minute per client address
     * @return these options with it
     */
    public Options withSignInsPerMinute(int perMinute) {
      return new Options(idleTimeout, maxConnections, maxThreads, maxHeaderBytes, auth, proxies, perMinute, tls);
    }

    /**
     * @param tls the key store to serve HTTPS with, or null for plain HTTP
     * @return these options with it
     */
    public Options withTls(Tls tls) {
      return new Options(idleTimeout, maxConnections, maxThreads, maxHeaderBytes, auth, proxies, signInsPerMinute, Optional.ofNullable(tls));
    }

    /**
     * Reads a whole number from the environment (the HTTP limits' variables, here and in the gateway).
     *
     * @param env the environment
     * @param name the variable
     * @param dflt its value when unset or blank
     * @param min the least value allowed
     * @param max the most value allowed
     * @return the value
     * @throws IllegalArgumentException naming the variable when its value is not a number from min to max
     */
    public static long number(Map<String, String> env, String name, long dflt, long min, long max) {
      String v = env.get(name);
      if (v == null || v.isBlank()) {
        return dflt;
      }
      try {
        long n = Long.parseLong(v.trim());
        if (n >= min && n <= max) {
          return n;
        }
      } catch (NumberFormatException e) {
        // reported below
      }
      throw new IllegalArgumentException(name + " must be a number from " + min + " to " + max + ", not '" + Printable.of(v) + "'");
    }
  }
}
