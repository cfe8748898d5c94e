package dev.skiff.kernel;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.kernel.trace.TraceService;
import dev.skiff.platform.config.Settings;
import dev.skiff.platform.security.TokenVerifier;
import dev.skiff.testing.RabbitMqExtension;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.openqa.selenium.chrome.ChromeDriver;

/**
 * The server-rendered pages on a phone and with long values (they had no viewport meta, so a phone laid
 * them out at 980 px shrunk to text of about 6 px, and one long value made a page 38,000 px wide), and the
 * browser's {@code /favicon.ico} answered with "none" rather than 404 or 401.
 */
class PagesLayoutTest {
  @RegisterExtension static final RabbitMqExtension broker = RabbitMqExtension.create();
  private static final String VIEWPORT = "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">";

  private static HttpResponse<String> get(String url) throws Exception {
    return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void everyServerRenderedPageFitsAPhoneAndALongValueWrapsInsteadOfWideningThePage() throws Exception {
    try (Kernel kernel = Kernel.start(broker.transport(), Settings.fromEnvironment(Map.of()), List.of(new TraceService()), 0)) {
      WebServer web = kernel.web();
      String longValue = "\"" + "x".repeat(3000) + "\"";
      web.mount("/test", null, ex -> WebServer.send(ex, 200, "text/html; charset=utf-8", WebServer.page("A long value",
          "<table><tr><th>Path</th><th>Value</th><th>Layer</th></tr><tr><td>" + "very.long.path.".repeat(20) + "</td><td><code>"
              + WebServer.escape(longValue) + "</code></td><td>global</td></tr></table><p>" + "y".repeat(500) + "</p>")));
      String base = "http://127.0.0.1:" + web.port();
      for (String page : List.of("/", "/signin", "/signout", "/traces", "/traces/graph", "/test")) {
        assertThat(get(base + page).body()).as(page).contains(VIEWPORT);
      }
      ChromeDriver b = Browser.phone();
      try {
        for (String page : List.of("/", "/signin", "/traces", "/test")) {
          b.get(base + page);
          Object wide = b.executeScript("return [...document.body.querySelectorAll('*')].filter(e => e.getBoundingClientRect().right > 390)"
              + ".map(e => e.tagName + ' ' + Math.round(e.getBoundingClientRect().right) + ' ' + e.outerHTML.slice(0, 80)).join('; ')");
          assertThat(b.executeScript("return document.documentElement.scrollWidth")).as(page + ": no sideways scrolling; past the edge: " + wide)
              .isEqualTo(390L);
          assertThat(b.executeScript("return innerWidth")).as(page + ": laid out at the phone's width").isEqualTo(390L);
        }
        assertThat(b.executeScript("return parseFloat(getComputedStyle(document.querySelector('td')).fontSize)"))
            .as("text at its size, not shrunk").isEqualTo(14L);
      } finally {
        b.quit();
      }
    }
  }

  @Test
  void theFaviconIsAnsweredWithNoneEvenWhereEveryPageNeedsASignIn() throws Exception {
    try (WebServer web = WebServer.start("127.0.0.1", 0, WebServer.Options.defaults().withAuth(WebServer.Options.Auth.REQUIRED),
        TokenVerifier.refusingAll(), WebServer.SignIn.UNAVAILABLE)) {
      String base = "http://127.0.0.1:" + web.port();
      assertThat(get(base + "/favicon.ico").statusCode()).isEqualTo(204);
      assertThat(get(base + "/").statusCode()).as("the pages still need a sign-in").isEqualTo(401);
    }
  }
}
