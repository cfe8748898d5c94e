package dev.skiff.kernel.config;

import static dev.skiff.kernel.config.ConfigFixture.layer;
import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.kernel.WebServer;
import dev.skiff.proto.v1.ConfigLayer;
import dev.skiff.proto.v1.ConfigLog;
import dev.skiff.proto.v1.ConfigLogRequest;
import dev.skiff.proto.v1.SetConfigRequest;
import dev.skiff.testing.HeadlessChromium;
import dev.skiff.testing.RabbitMqExtension;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The config page in a real headless Chromium: the merged tree with layer and version per leaf, the
 * history with rollback buttons, a diff; hostile values and messages shown as text, a secret only as the
 * marker; a rollback clicked by a person without ADMIN.CONFIG refused, by one with it done.
 */
class ConfigPagesBrowserTest {
  @RegisterExtension static final RabbitMqExtension broker = RabbitMqExtension.create();
  /** Sets the page's title if it ever runs. */
  private static final String SCRIPT = "<img src=x onerror=\"document.title='pwned'\">";
  /** Breaks out of an attribute value into an element that sets the title as it loads. */
  private static final String ATTR = "\"'><img src=y onerror=\"document.title='pwned'\">";
  private static final String SECRET = "page-secret-Vb81";
  private static final ConfigLayer GREETER = layer("greeter", "", "");

  private final ConfigFixture f = new ConfigFixture(broker.amqpUri());

  @AfterEach
  void stop() {
    f.close();
  }

  /**
   * Test pages on the kernel's own origin that drive the browser as a person would: sign in with the form,
   * then load the config page and press the rollback button of a version (scripts are served files, as
   * the pages' Content-Security-Policy wants).
   */
  private void mountDriver(WebServer web) {
    web.mount("/test", null, ex -> {
      String p = ex.getRequestURI().getPath();
      java.util.Map<String, String> q = WebServer.query(ex);
      switch (p) {
        case "/test/signin" -> WebServer.send(ex, 200, "text/html; charset=utf-8", "<!doctype html><html><body>"
            + "<form method=\"post\" action=\"/signin\"><input name=\"user\" value=\"" + WebServer.escape(q.get("user")) + "\">"
            + "<input name=\"password\" value=\"" + WebServer.escape(q.get("user") + "-password") + "\">"
            + "<input name=\"next\" value=\"/test/rollback?version=" + WebServer.escape(q.get("version")) + "\"></form>"
            + "<script src=\"/test/submit.js\"></script></body></html>");
        case "/test/submit.js" -> WebServer.send(ex, 200, "text/javascript", "document.forms[0].submit();");
        case "/test/rollback" -> WebServer.send(ex, 200, "text/html; charset=utf-8", "<!doctype html><html><body data-version=\""
            + WebServer.escape(q.get("version")) + "\"><script src=\"/test/press.js\"></script></body></html>");
        case "/test/press.js" -> WebServer.send(ex, 200, "text/javascript",
            "fetch('/config?service=greeter').then(r => r.text()).then(t => {"
                + "const d = new DOMParser().parseFromString(t, 'text/html');"
                + "const f = d.querySelector('form.rollback[data-version=\"' + document.body.dataset.version + '\"]');"
                + "const g = document.importNode(f, true); document.body.appendChild(g);"
                + "g.querySelector('[name=message]').value = 'undo the bad greeting'; g.requestSubmit(); });");
        default -> WebServer.send(ex, 404, "text/plain", "no");
      }
    });
  }

  @Test
  void theTreeHistoryAndDiffShowHostileValuesAsTextAndARollbackNeedsTheRole() throws Exception {
    assertThat(HeadlessChromium.binary()).as("no headless Chromium: run the tests with scripts/test.sh, which installs it").isNotNull();
    f.start(new MemoryConfigStore(1000), Optional.of(SecretCipher.of(new byte[32])));
    String admin = f.admin();
    f.user("viewer", "ADMIN.PAGES");
    f.user("operator", "ADMIN.PAGES", "ADMIN.CONFIG");
    f.set(admin, layer("", "", ""), "greeting", "\"hello\"");
    long good = f.as(admin).call(ConfigService.SERVICE, "set", SetConfigRequest.newBuilder().setLayer(GREETER).setPath("db.password")
        .setValueJson("\"" + SECRET + "\"").setSecret(true).setMessage("the password").setBaseVersion(1).build(),
        dev.skiff.proto.v1.ConfigChange.class).getId();
    f.as(admin).call(ConfigService.SERVICE, "set", SetConfigRequest.newBuilder().setLayer(GREETER).setPath("greeting")
        .setValueJson(dev.skiff.platform.internal.JsonStrings.quote(SCRIPT)).setMessage(ATTR).setBaseVersion(good).build(),
        dev.skiff.proto.v1.ConfigChange.class);
    WebServer web = f.web();
    mountDriver(web);
    String base = "http://127.0.0.1:" + web.port();

    String page = HeadlessChromium.dumpDom(base + "/config?service=greeter", Duration.ofSeconds(2));
    // the diff page is escaped by the same code: read over plain HTTP (a browser run costs seconds)
    String diff = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
        java.net.URI.create(base + "/config/diff?from=" + good + "&to=" + (good + 1))).build(),
        java.net.http.HttpResponse.BodyHandlers.ofString()).body();
    for (String dom : java.util.List.of(page, diff)) {
      assertThat(dom).contains("</html>").contains("<table").doesNotContain("pwned</title>").doesNotContain("<img")
          .doesNotContain(SECRET).doesNotContain("$secret");
      assertThat(dom).as("the hostile values show as text").contains("&lt;img src=x onerror=");
    }
    assertThat(page).contains("<td>db.password</td><td class=\"secret\"><code>\"&lt;secret&gt;\"</code></td><td>service/greeter</td><td>"
        + good + "</td>").contains("<td>greeting</td>").contains("&lt;img src=y onerror=").contains("Roll back to version " + good);
    assertThat(diff).contains("1 difference(s) from version " + good + " to version " + (good + 1));

    // a person with the pages' role but not ADMIN.CONFIG presses the button: refused
    String refused = HeadlessChromium.dumpDom(base + "/test/signin?user=viewer&version=" + good, Duration.ofSeconds(5));
    assertThat(refused).contains("FORBIDDEN").contains("ADMIN.CONFIG").contains("<a id=\"back\" href=\"/config?service=greeter&amp;region=&amp;env=\">");
    assertThat(f.get(admin, "greeter", "", "", "greeting", false).getJson()).contains("img src=x");
    // with ADMIN.CONFIG: done, and in the history as a change by that person
    String done = HeadlessChromium.dumpDom(base + "/test/signin?user=operator&version=" + good, Duration.ofSeconds(5));
    assertThat(done).contains("id=\"done\"").contains("by operator made the configuration what it was at version " + good)
        .as("Back returns to the service's view the form was on").contains("<a id=\"back\" href=\"/config?service=greeter&amp;region=&amp;env=\">");
    assertThat(f.get(admin, "greeter", "", "", "greeting", false).getJson()).isEqualTo("\"hello\"");
    ConfigLog log = f.as(admin).call(ConfigService.SERVICE, "log", ConfigLogRequest.newBuilder().setLimit(1).build(), ConfigLog.class);
    assertThat(log.getChanges(0).getUser()).isEqualTo("operator");
    assertThat(log.getChanges(0).getMessage()).isEqualTo("undo the bad greeting");
    assertThat(log.getChanges(0).getRollbackTo()).isEqualTo(good);
  }
}
