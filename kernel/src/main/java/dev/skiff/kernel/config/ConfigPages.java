package dev.skiff.kernel.config;

import static dev.skiff.kernel.WebServer.escape;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import dev.skiff.kernel.ServiceNameRefusal;
import dev.skiff.kernel.WebServer;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.Names;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.internal.JsonStrings;
import dev.skiff.platform.internal.Printable;
import dev.skiff.platform.security.Caller;
import dev.skiff.platform.security.ServiceIdentities;
import dev.skiff.platform.security.UserIdentity;
import dev.skiff.proto.v1.ConfigChange;
import dev.skiff.proto.v1.ConfigDiff;
import dev.skiff.proto.v1.ConfigDiffRequest;
import dev.skiff.proto.v1.ConfigEdit;
import dev.skiff.proto.v1.ConfigLeaf;
import dev.skiff.proto.v1.ConfigLog;
import dev.skiff.proto.v1.ConfigLogRequest;
import dev.skiff.proto.v1.ConfigView;
import dev.skiff.proto.v1.GetConfigRequest;
import dev.skiff.proto.v1.RollbackConfigRequest;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The config service's pages under {@value #PATH} (docs/configuration.md, "The dashboard page"): the merged
 * tree a service sees with the layer and version of each leaf, the history (paged) with a rollback button
 * per version, a diff between two versions, and the bootstrap read {@code GET /config/api/SERVICE} (JSON,
 * for processes not on the bus yet). Every value is escaped into the HTML; secrets are always shown as
 * {@value Secrets#MARKER}, never opened (the pages read as a person or as nobody). Who may see them is the
 * web server's {@code PageGate}; a rollback is a {@code POST} (a signed-in person with role
 * {@code ADMIN.PAGES}, from the pages' own origin), and the config service then checks the person holds
 * {@code ADMIN.CONFIG} for every layer it changes. Thread-safe.
 */
final class ConfigPages implements HttpHandler {
  /** Where the pages are mounted. */
  static final String PATH = "/config";
  private static final int PAGE = 20;

  private final ConfigService service;
  private final ServiceIdentities identities;

  /**
   * @param service the config service they show
   * @param identities which broker user may act as which service (for the callers the pages build)
   */
  ConfigPages(ConfigService service, ServiceIdentities identities) {
    this.service = Objects.requireNonNull(service, "service");
    this.identities = Objects.requireNonNull(identities, "identities");
  }

  @Override
  public void handle(HttpExchange ex) throws IOException {
    String path = ex.getRequestURI().getPath();
    String method = ex.getRequestMethod();
    boolean read = method.equals("GET") || method.equals("HEAD");
    try {
      if (path.startsWith(PATH + "/api/") && read) {
        bootstrap(ex, path.substring((PATH + "/api/").length()));
      } else if (path.equals(PATH) && read) {
        WebServer.send(ex, 200, "text/html; charset=utf-8", main(ex));
      } else if (path.equals(PATH + "/diff") && read) {
        WebServer.send(ex, 200, "text/html; charset=utf-8", diff(ex));
      } else if (path.equals(PATH + "/rollback") && method.equals("POST")) {
        rollback(ex);
      } else if (path.equals(PATH + "/rollback")) {
        WebServer.methodNotAllowed(ex, "POST");
      } else if (path.equals(PATH) || path.equals(PATH + "/diff") || path.startsWith(PATH + "/api/")) {
        WebServer.methodNotAllowed(ex, "GET, HEAD");
      } else {
        WebServer.notFound(ex, "not found (the pages are /config and /config/diff, the JSON /config/api/SERVICE)");
      }
    } catch (SkiffException e) {
      if (WebServer.isApi(path)) {
        WebServer.sendError(ex, status(e.code()), e.code().name(), e.description());
      } else {
        WebServer.send(ex, status(e.code()), "text/html; charset=utf-8", WebServer.page("Configuration: refused",
            "<p class=\"err\" id=\"error\">" + escape(e.code() + ": " + e.description()) + "</p><p><a href=\"" + PATH + "\">Back</a></p>"));
      }
    }
  }

  private static int status(ErrorCode code) {
    return switch (code) {
      case BAD_REQUEST -> 400;
      case UNAUTHORIZED -> 401;
      case FORBIDDEN -> 403;
      case NOT_FOUND -> 404;
      case CONFLICT -> 409;
      default -> 503;
    };
  }

  /** A caller for the person signed in on the page (or nobody): never a service, so secrets stay sealed. */
  private Caller caller(HttpExchange ex) {
    return Caller.of(null, "", identities, WebServer.user(ex).orElse(null), null);
  }

  // ---- GET /config/api/SERVICE?region=R&env=E ----

  private void bootstrap(HttpExchange ex, String name) throws IOException {
    if (!Names.isService(name)) {
      // the global tree alone is no service's view: a bootstrap read names the service it is for
      throw new SkiffException(ErrorCode.BAD_REQUEST, ServiceNameRefusal.of(name));
    }
    Map<String, String> q = WebServer.query(ex);
    String region = q.getOrDefault("region", "");
    String env = q.getOrDefault("env", "");
    ConfigView v = service.get(GetConfigRequest.newBuilder().setService(name).setRegion(region).setEnv(env).build(),
        Caller.of(null, "", identities, null, null));
    StringBuilder json = new StringBuilder("{\"service\":").append(JsonStrings.quote(name))
        .append(",\"region\":").append(region.isEmpty() ? "null" : JsonStrings.quote(region))
        .append(",\"env\":").append(env.isEmpty() ? "null" : JsonStrings.quote(env))
        .append(",\"version\":").append(v.getVersion())
        .append(",\"config\":").append(v.getJson().isEmpty() ? "{}" : v.getJson())
        .append(",\"redacted\":").append(v.getRedacted()).append('}');
    WebServer.send(ex, 200, "application/json", WebServer.htmlSafe(json.toString()));
  }

  // ---- GET /config ----

  private String main(HttpExchange ex) {
    Map<String, String> q = WebServer.query(ex);
    String svc = q.getOrDefault("service", "");
    String region = q.getOrDefault("region", "");
    String env = q.getOrDefault("env", "");
    long before = number(q.get("before"), "before");
    ConfigView view = service.get(GetConfigRequest.newBuilder().setService(svc).setRegion(region).setEnv(env).setExplain(true).build(),
        caller(ex));
    ConfigLog log = service.log(ConfigLogRequest.newBuilder().setService(svc).setBefore(before).setLimit(PAGE).build());
    StringBuilder b = new StringBuilder();
    b.append("<form method=\"get\" action=\"").append(PATH).append("\" id=\"pick\">")
        .append(input("service", svc)).append(input("region", region)).append(input("env", env))
        .append("<button>Show</button></form>");
    b.append("<h2>").append(svc.isEmpty() ? "The global layer" : "What " + escape(svc) + " sees"
            + (region.isEmpty() ? "" : " in region " + escape(region)) + (env.isEmpty() ? "" : " in environment " + escape(env)))
        .append(", version ").append(view.getVersion()).append("</h2>");
    if (view.getLeavesCount() == 0) {
      b.append("<p class=\"muted\">Nothing set.</p>");
    } else {
      b.append("<table id=\"tree\"><tr><th>Path</th><th>Value</th><th>Layer</th><th>Version</th></tr>");
      for (ConfigLeaf l : view.getLeavesList()) {
        b.append("<tr><td>").append(escape(l.getPath())).append("</td><td").append(l.getSecret() ? " class=\"secret\"" : "").append("><code>")
            .append(escape(l.getValueJson())).append("</code></td><td>").append(escape(l.getLayer())).append("</td><td>")
            .append(l.getChangeId()).append("</td></tr>");
      }
      b.append("</table>");
    }
    b.append("<h2>History</h2>");
    String who = WebServer.user(ex).map(UserIdentity::user).map(u -> "Signed in as " + escape(u) + ". ")
        .orElse("<a href=\"/signin?next=" + escape(URLEncoder.encode(ex.getRequestURI().toString(), StandardCharsets.UTF_8))
            + "\">Sign in</a> to roll back. ");
    b.append("<p class=\"muted\">").append(who).append("A rollback makes every layer what it was at that version, as one new "
        + "change; it needs role ADMIN.CONFIG (ADMIN.CONFIG:S when it changes only layers of service S).</p>");
    b.append("<table id=\"history\"><tr><th>Version</th><th>When</th><th>Who</th><th>Message</th><th>Changes</th><th></th></tr>");
    for (ConfigChange c : log.getChangesList()) {
      b.append("<tr id=\"v").append(c.getId()).append("\"><td>").append(c.getId()).append("</td><td>")
          .append(Instant.ofEpochMilli(c.getAtMs())).append("</td><td>").append(escape(c.getUser())).append("</td><td>")
          .append(escape(c.getMessage())).append(c.getRollbackTo() > 0 ? " <span class=\"muted\">(rollback to version " + c.getRollbackTo() + ")</span>" : "")
          .append("</td><td>");
      for (ConfigEdit e : c.getEditsList()) {
        b.append(edit(e)).append("<br>");
      }
      b.append("</td><td><a href=\"").append(PATH).append("/diff?from=").append(c.getId() - 1).append("&amp;to=").append(c.getId())
          .append("\">diff</a>");
      if (c.getId() < log.getHead()) {
        b.append("<form method=\"post\" action=\"").append(PATH).append("/rollback\" class=\"rollback\" data-version=\"").append(c.getId())
            .append("\"><input type=\"hidden\" name=\"to\" value=\"").append(c.getId()).append("\"><input type=\"hidden\" name=\"base\" value=\"")
            .append(log.getHead()).append("\">").append(hidden("service", svc)).append(hidden("region", region)).append(hidden("env", env))
            .append("<input name=\"message\" required maxlength=\"").append(ConfigService.MAX_MESSAGE)
            .append("\" placeholder=\"why\"><button>Roll back to version ").append(c.getId()).append("</button></form>");
      }
      b.append("</td></tr>");
    }
    b.append("</table>");
    if (log.getNextBefore() > 0) {
      b.append("<p><a id=\"older\" href=\"").append(PATH).append("?service=").append(url(svc)).append("&amp;region=").append(url(region))
          .append("&amp;env=").append(url(env)).append("&amp;before=").append(log.getNextBefore()).append("\">Older changes</a></p>");
    }
    return WebServer.page("Configuration", b.toString());
  }

  private static String hidden(String name, String value) {
    return "<input type=\"hidden\" name=\"" + name + "\" value=\"" + escape(value) + "\">";
  }

  /**
   * @param fields a rollback form's fields
   * @return the link back to the view the form was on ({@code /config?service=S&region=R&env=E}), or
   *     {@code /config} for the global layer's
   */
  private static String back(Map<String, String> fields) {
    String svc = fields.getOrDefault("service", "");
    String region = fields.getOrDefault("region", "");
    String env = fields.getOrDefault("env", "");
    String href = svc.isEmpty() && region.isEmpty() && env.isEmpty() ? PATH
        : PATH + "?service=" + url(svc) + "&amp;region=" + url(region) + "&amp;env=" + url(env);
    return "<p><a id=\"back\" href=\"" + href + "\">Back</a></p>";
  }

  private static String input(String name, String value) {
    return "<label>" + name + " <input name=\"" + name + "\" value=\"" + escape(value) + "\"></label> ";
  }

  private static String url(String s) {
    return escape(URLEncoder.encode(s, StandardCharsets.UTF_8));
  }

  private static String edit(ConfigEdit e) {
    return escape(e.getLayer()) + " " + (e.getPath().isEmpty() ? "(whole layer)" : escape(e.getPath())) + ": <code>"
        + escape(e.getOldJson().isEmpty() ? "(none)" : e.getOldJson()) + "</code> → <code>"
        + escape(e.getNewJson().isEmpty() ? "(none)" : e.getNewJson()) + "</code>" + (e.getSecret() ? " <span class=\"muted\">(secret)</span>" : "");
  }

  /** A version a page's query or form may leave out: absent is 0 (the newest, or none). */
  private static long number(String text, String what) {
    return text == null || text.isEmpty() ? 0 : version(text, what);
  }

  /**
   * The form's version to roll back to, which it must give: a missing or malformed one is named as such,
   * never taken for version 0.
   */
  private static long rollbackTarget(String text) {
    if (text == null || text.isEmpty()) {
      throw new SkiffException(ErrorCode.BAD_REQUEST, "the version to roll back to (field to) is missing");
    }
    return version(text, "the version to roll back to (field to)");
  }

  private static long version(String text, String what) {
    try {
      long n = Long.parseLong(text);
      if (n >= 0) {
        return n;
      }
    } catch (NumberFormatException e) {
      // below
    }
    throw new SkiffException(ErrorCode.BAD_REQUEST, what + " is not a version number: '" + Printable.of(text, 40) + "'");
  }

  // ---- GET /config/diff?from=A&to=B ----

  private String diff(HttpExchange ex) {
    Map<String, String> q = WebServer.query(ex);
    ConfigDiff d = service.diff(ConfigDiffRequest.newBuilder().setFromVersion(number(q.get("from"), "from"))
        .setToVersion(number(q.get("to"), "to")).build());
    StringBuilder b = new StringBuilder("<p>").append(d.getEditsCount()).append(" difference(s) from version ").append(d.getFromVersion())
        .append(" to version ").append(d.getToVersion()).append(".</p>");
    b.append("<table id=\"diff\"><tr><th>Layer</th><th>Path</th><th>Before</th><th>After</th></tr>");
    for (ConfigEdit e : d.getEditsList()) {
      b.append("<tr><td>").append(escape(e.getLayer())).append("</td><td>").append(escape(e.getPath())).append("</td><td><code>")
          .append(escape(e.getOldJson().isEmpty() ? "(none)" : e.getOldJson())).append("</code></td><td><code>")
          .append(escape(e.getNewJson().isEmpty() ? "(none)" : e.getNewJson())).append("</code>")
          .append(e.getSecret() ? " <span class=\"muted\">(secret changed)</span>" : "").append("</td></tr>");
    }
    b.append("</table><p><a href=\"").append(PATH).append("\">Back</a></p>");
    return WebServer.page("Configuration: diff", b.toString());
  }

  // ---- POST /config/rollback ----

  private void rollback(HttpExchange ex) throws IOException {
    Optional<Map<String, String>> posted = WebServer.readForm(ex, "the form");
    if (posted.isEmpty()) {
      return;
    }
    Map<String, String> form = posted.get();
    ConfigChange c;
    try {
      c = service.rollback(RollbackConfigRequest.newBuilder().setToVersion(rollbackTarget(form.get("to")))
          .setBaseVersion(number(form.get("base"), "base")).setMessage(form.getOrDefault("message", "")).build(), caller(ex));
    } catch (SkiffException e) {
      WebServer.send(ex, status(e.code()), "text/html; charset=utf-8", WebServer.page("Configuration: refused",
          "<p class=\"err\" id=\"error\">" + escape(e.code() + ": " + e.description()) + "</p>" + back(form)));
      return;
    }
    WebServer.send(ex, 200, "text/html; charset=utf-8", WebServer.page("Configuration: rolled back",
        "<p id=\"done\">Version " + c.getId() + " by " + escape(c.getUser()) + " made the configuration what it was at version "
            + c.getRollbackTo() + ".</p>" + back(form)));
  }
}
