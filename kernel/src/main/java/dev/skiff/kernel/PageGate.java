package dev.skiff.kernel;

import static dev.skiff.kernel.WebServer.escape;

import com.codahale.metrics.MetricRegistry;
import com.sun.net.httpserver.HttpExchange;
import dev.skiff.kernel.http.RateLimiter;
import dev.skiff.kernel.http.TrustedProxies;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.security.TokenRejectedException;
import dev.skiff.platform.security.TokenVerifier;
import dev.skiff.platform.security.UserIdentity;
import dev.skiff.proto.v1.Session;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Who may see a kernel page, decided before its handler runs, and the sign-in and sign-out pages
 * ({@code /signin}, {@code /signout}). A request proves a person with {@code Authorization: Bearer TOKEN}
 * or with the session cookie {@value #COOKIE} that {@code /signin} sets (HttpOnly, SameSite=Strict, Secure
 * over TLS, here or at a proxy in front that says so), renewed while the pages are used (at less than half its life left).
 * A request that may change anything (not {@code GET}/{@code HEAD}) and comes with the cookie must
 * also come from the pages' own origin ({@code Origin}), the defence against cross-site requests besides
 * SameSite. Sign-ins are paced per client address ({@link WebServer.Options#signInsPerMinute()}; the
 * address is the peer's, or the forwarded client's behind {@link WebServer.Options#proxies() trusted
 * proxies}), refused past it with 429 before the login service is asked; refusals are counted in
 * {@value #SIGN_IN_METRIC}{@code .limited}. Thread-safe.
 */
final class PageGate {
  /** The sign-in pace's metrics' name. */
  static final String SIGN_IN_METRIC = "skiff.pages.rate-limit.sign-in";
  /** The most client addresses the sign-in pace remembers (least recently seen forgotten first). */
  static final int MAX_SIGN_IN_ADDRESSES = 100_000;

  /** The exchange attribute holding the signed-in person. */
  static final String USER = "skiff.user";
  /** The session cookie's name. */
  static final String COOKIE = "skiff_session";

  /** How long renewals pause after one failed. */
  static final long RENEWAL_PAUSE_MILLIS = 30_000;

  private static final Logger log = LoggerFactory.getLogger(PageGate.class);
  private static final int MAX_FORM_BYTES = 4096;
  private static final String STYLE = "<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
      + "label{display:block;margin:.6em 0}.err{color:#d64541}</style>";

  private final WebServer.Options.Auth mode;
  private final TokenVerifier verifier;
  private final WebServer.SignIn signIn;
  private final TrustedProxies proxies;
  private final RateLimiter signInPace;
  /** No renewal is tried before this (epoch ms): one was refused or failed lately. */
  private volatile long renewalsPausedUntil;

  /**
   * @param options who may see the pages, the trusted proxies and the sign-in pace
   * @param verifier checks session tokens (not owned)
   * @param signIn signs people in and out (not owned)
   * @param metrics where the sign-in pace's counters go
   */
  PageGate(WebServer.Options options, TokenVerifier verifier, WebServer.SignIn signIn, MetricRegistry metrics) {
    this.mode = options.auth();
    this.verifier = verifier;
    this.signIn = signIn;
    this.proxies = options.proxies();
    this.signInPace = RateLimiter.perMinute(SIGN_IN_METRIC, options.signInsPerMinute(), MAX_SIGN_IN_ADDRESSES, metrics);
  }

  /** @return whether the path is one of the gate's own pages */
  boolean handles(String path) {
    return path.equals("/signin") || path.equals("/signout");
  }

  /**
   * Decides whether the request may go to its page, answering it when not.
   *
   * @return true when it may; false when it has been answered (401, 403)
   */
  boolean admit(HttpExchange ex) throws IOException {
    boolean reads = isRead(ex.getRequestMethod());
    String bearer = bearer(ex);
    UserIdentity user = null;
    String fromCookie = null; // the verified cookie's token, renewed once the request is let through
    if (bearer != null) {
      try {
        user = verifier.verify(bearer);
      } catch (TokenRejectedException e) {
        ex.getResponseHeaders().set("WWW-Authenticate", "Bearer error=\"invalid_token\"");
        refuse(ex, 401, "UNAUTHORIZED", "the token was refused: " + e.reason());
        return false;
      }
    } else {
      String cookie = cookie(ex);
      if (cookie != null) {
        try {
          user = verifier.verify(cookie);
        } catch (TokenRejectedException e) {
          log.debug("a page's session cookie was refused: {}", e.reason());
        }
        if (user != null && !reads && !sameOrigin(ex)) {
          refuse(ex, 403, "FORBIDDEN", "refused: a change must come from these pages (Origin)");
          return false;
        }
        if (user != null) {
          fromCookie = cookie;
        }
      }
    }
    if (user != null) {
      ex.setAttribute(USER, user);
    }
    if (!(reads && mode == WebServer.Options.Auth.OPEN) && !mayEnter(ex, user)) {
      return false;
    }
    if (fromCookie != null) {
      renewIfDue(ex, user, fromCookie);
    }
    return true;
  }

  /** Sends a refusal: as JSON on a JSON API's path ({@link WebServer#isApi}), as text on a page's. */
  private static void refuse(HttpExchange ex, int status, String code, String message) throws IOException {
    if (WebServer.isApi(ex.getRequestURI().getPath())) {
      WebServer.sendError(ex, status, code, message);
    } else {
      WebServer.send(ex, status, "text/plain; charset=utf-8", message);
    }
  }

  /** Answers 401 or 403 unless the person may see the pages that need a signed-in administrator. */
  private boolean mayEnter(HttpExchange ex, UserIdentity user) throws IOException {
    if (user == null) {
      ex.getResponseHeaders().set("WWW-Authenticate", "Bearer");
      if (WebServer.isApi(ex.getRequestURI().getPath())) {
        WebServer.sendError(ex, 401, "UNAUTHORIZED", "this needs a signed-in person with role " + WebServer.PAGES_ROLE.path()
            + ": send Authorization: Bearer TOKEN, or sign in at /signin");
        return false;
      }
      String next = URLEncoder.encode(returnTo(ex), StandardCharsets.UTF_8);
      WebServer.send(ex, 401, "text/html; charset=utf-8", page("Sign in needed",
          "<p>This page needs a signed-in person with role " + WebServer.PAGES_ROLE.path() + ".</p>"
              + "<p><a href=\"/signin?next=" + escape(next) + "\">Sign in</a></p>"));
      return false;
    }
    if (!user.hasRole(WebServer.PAGES_ROLE)) {
      if (WebServer.isApi(ex.getRequestURI().getPath())) {
        WebServer.sendError(ex, 403, "FORBIDDEN", user.user() + " does not hold role " + WebServer.PAGES_ROLE.path() + " (or ADMIN)");
        return false;
      }
      WebServer.send(ex, 403, "text/html; charset=utf-8", page("Not allowed",
          "<p>" + escape(user.user()) + " does not hold role " + WebServer.PAGES_ROLE.path() + " (or ADMIN).</p>"));
      return false;
    }
    return true;
  }

  /**
   * Where sign-in sends a refused person back to: the page itself for a read; for a change (a form's
   * {@code POST}, which a {@code GET} after sign-in would not repeat: "GET is not served here") the page the
   * form was on, from {@code Referer} (path and query only; {@link #safeNext} checks it again), else the index.
   */
  private static String returnTo(HttpExchange ex) {
    if (isRead(ex.getRequestMethod())) {
      return ex.getRequestURI().toString();
    }
    String referer = ex.getRequestHeaders().getFirst("Referer");
    if (referer != null) {
      try {
        java.net.URI from = new java.net.URI(referer);
        if (from.getRawPath() != null && from.getRawPath().startsWith("/")) {
          return from.getRawPath() + (from.getRawQuery() == null ? "" : "?" + from.getRawQuery());
        }
      } catch (java.net.URISyntaxException e) {
        // not a URI: the index
      }
    }
    return "/";
  }

  /** Serves {@code /signin} and {@code /signout}. */
  void serve(HttpExchange ex) throws IOException {
    String path = ex.getRequestURI().getPath();
    String method = ex.getRequestMethod();
    if (isRead(method)) {
      if (path.equals("/signout")) {
        WebServer.send(ex, 200, "text/html; charset=utf-8", page("Sign out",
            "<form method=\"post\" action=\"/signout\"><button>Sign out</button></form>"));
      } else {
        WebServer.send(ex, 200, "text/html; charset=utf-8", signInPage(safeNext(query(ex).get("next")), null));
      }
      return;
    }
    if (!"POST".equals(method)) {
      WebServer.methodNotAllowed(ex, "GET, HEAD, POST");
      return;
    }
    if (!sameOrigin(ex)) {
      WebServer.send(ex, 403, "text/plain; charset=utf-8", "refused: sign in from these pages (Origin)");
      return;
    }
    if (path.equals("/signout")) {
      String token = cookie(ex);
      if (token != null) {
        signIn.signOut(token);
      }
      ex.getResponseHeaders().add("Set-Cookie", COOKIE + "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict" + secure(ex));
      ex.getResponseHeaders().set("Location", "/");
      WebServer.send(ex, 303, "text/plain; charset=utf-8", "");
      return;
    }
    // paced before the form is read: an attempt counts whether or not it would reach the login service
    OptionalLong wait = signInPace.acquire(clientAddress(ex));
    if (wait.isPresent()) {
      long seconds = RateLimiter.retryAfterSeconds(wait.getAsLong());
      ex.getResponseHeaders().set("Retry-After", Long.toString(seconds));
      WebServer.send(ex, 429, "text/html; charset=utf-8",
          signInPage("/", "too many sign-ins from this address: try again in " + seconds + " s"));
      return;
    }
    Optional<Map<String, String>> posted = readForm(ex, "the sign-in form");
    if (posted.isEmpty()) {
      return;
    }
    Map<String, String> form = posted.get();
    String next = safeNext(form.get("next"));
    Session session;
    try {
      session = signIn.signIn(form.getOrDefault("user", ""), form.getOrDefault("password", ""));
    } catch (SkiffException e) {
      int status = switch (e.code()) {
        case UNAVAILABLE, TIMEOUT, CIRCUIT_OPEN, CAPACITY, INTERNAL, UNKNOWN_OUTCOME -> 503;
        default -> 401;
      };
      WebServer.send(ex, status, "text/html; charset=utf-8", signInPage(next, e.code() + ": " + e.description()));
      return;
    }
    setSessionCookie(ex, session);
    ex.getResponseHeaders().set("Location", next);
    WebServer.send(ex, 303, "text/plain; charset=utf-8", "");
  }

  /**
   * Renews a page session whose token has less than half its life left, setting the new token's cookie on
   * this answer, so that a person using the pages (the dashboard asks every 2 s) stays signed in up to the
   * session's own end ({@code SKIFF_LOGIN_SESSION_MAX}) rather than the token's. When the login service
   * refuses (the session reached its end or was ended) or does not answer, the cookie is left as it is and
   * the person signs in again once it ends.
   */
  private void renewIfDue(HttpExchange ex, UserIdentity user, String token) {
    long now = System.currentTimeMillis();
    long issued = user.issuedAt().toEpochMilli();
    long expires = user.expiresAt().toEpochMilli();
    if (expires - now > (expires - issued) / 2 || now < renewalsPausedUntil) {
      return;
    }
    try {
      setSessionCookie(ex, signIn.renew(token));
    } catch (RuntimeException e) {
      // a session at its end, or a login service away: the pages go on without renewing for a while
      // rather than ask again at every request (the dashboard asks every 2 s); tokens have minutes left
      renewalsPausedUntil = now + RENEWAL_PAUSE_MILLIS;
      log.debug("a page session was not renewed: {}", e.toString());
    }
  }

  /** Sets the session cookie to a session's token, for as long as the token is valid. */
  private void setSessionCookie(HttpExchange ex, Session session) {
    long maxAge = Math.max(0, (session.getExpiresAtMs() - System.currentTimeMillis()) / 1000);
    ex.getResponseHeaders().add("Set-Cookie",
        COOKIE + "=" + session.getToken() + "; Path=/; Max-Age=" + maxAge + "; HttpOnly; SameSite=Strict" + secure(ex));
  }

  /** @return the client's address: the peer's, or the forwarded client's when the peer is a trusted proxy */
  private String clientAddress(HttpExchange ex) {
    InetSocketAddress peer = ex.getRemoteAddress();
    String address = peer == null ? "unknown" : peer.getAddress() == null ? peer.getHostString() : peer.getAddress().getHostAddress();
    if (!proxies.any()) {
      return address;
    }
    List<String> chain = ex.getRequestHeaders().get(proxies.headerName());
    return proxies.client(address, chain == null ? List.of() : chain);
  }

  /** @return a line saying who is signed in, with the sign-in or sign-out link */
  static String signedInAs(UserIdentity user) {
    return user == null ? "<p><a href=\"/signin\">Sign in</a></p>"
        : "<p>Signed in as " + escape(user.user()) + " · <a href=\"/signout\">Sign out</a></p>";
  }

  private static String signInPage(String next, String error) {
    return page("Sign in", (error == null ? "" : "<p class=\"err\">" + escape(error) + "</p>")
        + "<form method=\"post\" action=\"/signin\">"
        + "<input type=\"hidden\" name=\"next\" value=\"" + escape(next) + "\">"
        + "<label>User <input name=\"user\" autocomplete=\"username\" required></label>"
        + "<label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>"
        + "<button>Sign in</button></form>");
  }

  private static String page(String title, String body) {
    return "<!doctype html><html><head><meta charset=\"utf-8\">" + WebServer.VIEWPORT + "<title>" + escape(title) + "</title>" + STYLE + "</head><body>"
        + "<nav><a href=\"/\">Kernel</a></nav><h1>" + escape(title) + "</h1>" + body + "</body></html>";
  }

  private static boolean isRead(String method) {
    return "GET".equals(method) || "HEAD".equals(method);
  }

  /** Only a path on this server: no scheme, no {@code //host}, no backslash tricks. */
  private static String safeNext(String next) {
    if (next == null || !next.startsWith("/") || next.startsWith("//") || next.contains("\\") || next.length() > 2000
        || next.chars().anyMatch(c -> c < 0x21 || c == 0x7f)) {
      return "/";
    }
    return next;
  }

  private static String secure(HttpExchange ex) {
    return overTls(ex) ? "; Secure" : "";
  }

  /**
   * Whether the browser reached the pages over TLS: here, or at a proxy in front that terminated it and says
   * so ({@code X-Forwarded-Proto: https}, or {@code Forwarded: proto=https}). Taken from any sender, since all
   * it decides is to restrict: a cookie marked Secure, and which origin a change must come from; a browser
   * cannot be made to send such a header across sites (it is not one a cross-site request may carry
   * without a preflight, which the pages never allow).
   */
  private static boolean overTls(HttpExchange ex) {
    if (ex instanceof JettyExchange j && j.request().isSecure()) {
      return true;
    }
    String proto = ex.getRequestHeaders().getFirst("X-Forwarded-Proto");
    if (proto == null) {
      proto = forwarded(ex, "proto");
    }
    return proto != null && firstItem(proto).equalsIgnoreCase("https");
  }

  /**
   * Whether {@code Origin} names these pages as the browser reached them: the scheme ({@link #overTls}) and
   * the host a proxy in front says the browser asked for ({@code X-Forwarded-Host}, {@code Forwarded: host=}),
   * else {@code Host}; a missing one is refused.
   */
  private static boolean sameOrigin(HttpExchange ex) {
    String origin = ex.getRequestHeaders().getFirst("Origin");
    String host = ex.getRequestHeaders().getFirst("X-Forwarded-Host");
    if (host == null) {
      host = forwarded(ex, "host");
    }
    if (host == null) {
      host = ex.getRequestHeaders().getFirst("Host");
    }
    if (origin == null || host == null) {
      return false;
    }
    return origin.equals((overTls(ex) ? "https://" : "http://") + firstItem(host));
  }

  /** @return a parameter of the first element of {@code Forwarded} (RFC 7239), unquoted, or null */
  private static String forwarded(HttpExchange ex, String name) {
    String f = ex.getRequestHeaders().getFirst("Forwarded");
    if (f == null) {
      return null;
    }
    for (String pair : firstItem(f).split(";")) {
      int eq = pair.indexOf('=');
      if (eq > 0 && pair.substring(0, eq).trim().equalsIgnoreCase(name)) {
        String v = pair.substring(eq + 1).trim();
        return v.length() >= 2 && v.startsWith("\"") && v.endsWith("\"") ? v.substring(1, v.length() - 1) : v;
      }
    }
    return null;
  }

  /** @return the first of a comma-separated list (the hop nearest the browser), trimmed */
  private static String firstItem(String list) {
    int comma = list.indexOf(',');
    return (comma < 0 ? list : list.substring(0, comma)).trim();
  }

  private static String bearer(HttpExchange ex) {
    String h = ex.getRequestHeaders().getFirst("Authorization");
    if (h == null || h.length() < 7 || !h.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return null;
    }
    String t = h.substring(7).trim();
    return t.isEmpty() ? null : t;
  }

  private static String cookie(HttpExchange ex) {
    for (String header : ex.getRequestHeaders().getOrDefault("Cookie", java.util.List.of())) {
      for (String part : header.split(";")) {
        String p = part.trim();
        if (p.startsWith(COOKIE + "=") && p.length() > COOKIE.length() + 1) {
          return p.substring(COOKIE.length() + 1);
        }
      }
    }
    return null;
  }

  static Map<String, String> query(HttpExchange ex) {
    String raw = ex.getRequestURI().getRawQuery();
    return raw == null ? Map.of() : parse(raw);
  }

  /**
   * Reads a posted form of at most {@value #MAX_FORM_BYTES} bytes; a larger one is answered 413 here.
   *
   * @param ex a POST of an {@code application/x-www-form-urlencoded} body
   * @param what the form, as the 413 answer names it ({@code the sign-in form})
   * @return its fields ({@link #parse}), or empty when it was too large (answered)
   * @throws IOException if the client went away
   */
  static Optional<Map<String, String>> readForm(HttpExchange ex, String what) throws IOException {
    try (InputStream in = ex.getRequestBody()) {
      byte[] body = in.readNBytes(MAX_FORM_BYTES + 1);
      if (body.length > MAX_FORM_BYTES) {
        WebServer.send(ex, 413, "text/plain; charset=utf-8", what + " is larger than " + MAX_FORM_BYTES + " bytes");
        return Optional.empty();
      }
      return Optional.of(parse(new String(body, StandardCharsets.UTF_8)));
    }
  }

  static Map<String, String> parse(String form) {
    Map<String, String> m = new HashMap<>();
    for (String pair : form.split("&")) {
      if (pair.isEmpty()) {
        continue;
      }
      int eq = pair.indexOf('=');
      try {
        String k = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
        String v = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
        m.putIfAbsent(k, v);
      } catch (IllegalArgumentException e) {
        // a malformed escape: skip the pair
      }
    }
    return m;
  }
}
