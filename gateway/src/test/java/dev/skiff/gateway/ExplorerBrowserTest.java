package dev.skiff.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.kernel.WebServer;
import dev.skiff.kernel.http.Tls;
import dev.skiff.testing.HeadlessChromium;
import dev.skiff.testing.TestCertificates;
import java.io.File;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.openqa.selenium.By;
import org.openqa.selenium.Keys;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The API explorer in a real headless Chromium, driven as a person would (WebDriver, Debian's
 * chromedriver): the routes listed from the services' protos, a POST with a JSON body and a GET with a
 * path and a query parameter sent through the gateway and their answers shown; a hostile value in an
 * answer shown as text, never run; a person signing in on the page (a real login service), calling an
 * endpoint for signed-in people with the token the page got, and signing out; over TLS, the page and the
 * calls it makes going over HTTP/2, as browsers speak it only there.
 */
class ExplorerBrowserTest {
  @RegisterExtension static final GatewayExtension gw = new GatewayExtension(GatewayOptions.defaults()).withKernel(List::of);
  private static final String HOSTILE = "<img src=x onerror=\"document.title='pwned'\">";

  private static ChromeDriver browser(String... more) {
    File driver = new File("/usr/bin/chromedriver");
    assertThat(HeadlessChromium.binary()).as("no headless Chromium: run the tests with scripts/test.sh, which installs it").isNotNull();
    assertThat(driver).as("no chromedriver: run the tests with scripts/test.sh, which installs it").canRead();
    ChromeOptions options = new ChromeOptions().setBinary(HeadlessChromium.binary().toFile()).addArguments("--headless=new",
        "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync").addArguments(more);
    return new ChromeDriver(new ChromeDriverService.Builder().usingDriverExecutable(driver).usingAnyFreePort().build(), options);
  }

  private static WebElement route(ChromeDriver b, String method, String path) {
    return b.findElement(By.cssSelector("section.route[data-method='" + method + "'][data-path='" + path + "']"));
  }

  private static String answer(ChromeDriver b, WebElement route) {
    WebDriverWait wait = new WebDriverWait(b, Duration.ofSeconds(10));
    return wait.until(d -> {
      var pre = route.findElements(By.cssSelector("pre.answer"));
      return pre.isEmpty() ? null : pre.get(0).getText();
    });
  }

  @Test
  void aPersonSeesTheRoutesSendsRequestsAndReadsTheAnswersAsText() throws Exception {
    GatewayFixture f = gw.f();
    HttpResponse<String> page = f.get("/explorer");
    assertThat(page.statusCode()).isEqualTo(200);
    assertThat(page.headers().firstValue("Content-Security-Policy").orElse("")).contains("script-src 'self'").doesNotContain("unsafe");
    assertThat(f.get("/openapi.json").body()).contains("\"in\":\"query\"");

    ChromeDriver b = browser();
    try {
      b.get(f.base() + "/explorer");
      new WebDriverWait(b, Duration.ofSeconds(10)).until(d -> !d.findElements(By.cssSelector("section.route")).isEmpty());
      assertThat(b.findElements(By.cssSelector("section.route"))).hasSize(19); // the 5 sign-in routes and every route of a listed method (not the custom TOUCH), not "hidden"

      WebElement create = route(b, "POST", "/v1/things");
      create.findElement(By.tagName("h2")).click();
      WebElement body = create.findElement(By.tagName("textarea"));
      assertThat(body.getAttribute("value")).contains("\"id\": \"\"", "\"count\": 0"); // an example from the schema
      body.clear();
      body.sendKeys("{\"id\": \"" + HOSTILE.replace("\"", "\\\"") + "\", \"count\": 3}");
      create.findElement(By.cssSelector("button.send")).click();
      String created = answer(b, create);
      assertThat(created).contains("\"count\": 3", HOSTILE.replace("\"", "\\\"")); // as JSON text
      assertThat(create.findElement(By.cssSelector(".status-ok")).getText()).isEqualTo("200");

      WebElement get = route(b, "GET", "/v1/things/{id}");
      get.findElement(By.tagName("h2")).click();
      get.findElement(By.cssSelector("input[data-name='id']")).sendKeys("a b");
      get.findElement(By.cssSelector("input[data-name='count']")).sendKeys("5");
      get.findElement(By.cssSelector("button.send")).click();
      assertThat(answer(b, get)).contains("\"id\": \"a b\"", "\"count\": 5");

      // signing in on the page: a wrong password says so, the right one fills the token the routes send
      gw.user("eve", null);
      b.findElement(By.id("user")).sendKeys("eve");
      b.findElement(By.id("password")).sendKeys("not-eves-password");
      b.findElement(By.id("sign-in-button")).click();
      WebDriverWait wait = new WebDriverWait(b, Duration.ofSeconds(10));
      wait.until(d -> d.findElement(By.id("who")).getText().startsWith("Not signed in"));
      assertThat(b.findElement(By.id("who")).getText()).contains("wrong user name or password");
      b.findElement(By.id("password")).sendKeys("eve-password-1");
      b.findElement(By.id("sign-in-button")).click();
      wait.until(d -> d.findElement(By.id("who")).getText().startsWith("Signed in as eve"));
      assertThat(b.findElement(By.id("password")).getAttribute("value")).as("the password is not kept").isEmpty();
      assertThat(b.findElement(By.id("token")).getAttribute("value")).startsWith("eyJ");
      WebElement whoami = route(b, "GET", "/v1/whoami");
      whoami.findElement(By.tagName("h2")).click();
      whoami.findElement(By.cssSelector("button.send")).click();
      assertThat(answer(b, whoami)).contains("\"user\": \"eve\"");
      b.findElement(By.id("sign-out-button")).click();
      wait.until(d -> d.findElement(By.id("who")).getText().equals("Signed out"));
      assertThat(b.findElement(By.id("token")).getAttribute("value")).isEmpty();

      assertThat(b.getTitle()).isEqualTo("Skiff API explorer");
      assertThat(b.findElements(By.cssSelector("img"))).isEmpty();
    } finally {
      b.quit();
    }
  }

  @Test
  void controlAndFormatCharactersInAnAnswerAreShownAsTheCommandLineShowsThemAndRoutesOpenByKeyboard() {
    GatewayFixture f = gw.f();
    ChromeDriver b = browser();
    try {
      b.get(f.base() + "/explorer");
      new WebDriverWait(b, Duration.ofSeconds(10)).until(d -> !d.findElements(By.cssSelector("section.route")).isEmpty());
      WebElement create = route(b, "POST", "/v1/things");
      create.findElement(By.tagName("h2")).click();
      WebElement body = create.findElement(By.tagName("textarea"));
      // JSON escapes, so that the test's own transport carries no raw control character; the service gets the real ones
      b.executeScript("arguments[0].value = arguments[1]", body,
          "{\"id\": \"down \\u001b[31mRED \\u0007 \\u202eLIVE\\u200bZ \\u0085\", \"count\": 1}");
      create.findElement(By.cssSelector("button.send")).click();
      String shown = answer(b, create);
      assertThat(shown).contains("\"id\": \"down \\u001b[31mRED \\u0007 \\u202eLIVE\\u200bZ \\u0085\"");
      assertThat(shown.codePoints().filter(c -> Character.isISOControl(c) && c != '\n' || Character.getType(c) == Character.FORMAT))
          .as("no raw control or format character in the answer").isEmpty();

      WebElement get = route(b, "GET", "/v1/things/{id}");
      WebElement toggle = get.findElement(By.cssSelector("h2 > button.toggle"));
      toggle.sendKeys(Keys.ENTER); // a button: the keyboard opens the route
      assertThat(toggle.getAttribute("aria-expanded")).isEqualTo("true");
      assertThat(get.findElement(By.cssSelector(".body")).isDisplayed()).isTrue();

      WebElement filter = b.findElement(By.id("filter"));
      filter.sendKeys("no-such-route");
      assertThat(b.findElement(By.id("no-match")).getText()).isEqualTo("No route matches \"no-such-route\".");
      filter.clear();
      filter.sendKeys("things");
      assertThat(b.findElement(By.id("no-match")).isDisplayed()).isFalse();
    } finally {
      b.quit();
    }
  }

  @Test
  void overTlsTheBrowserGetsTheExplorerAndTheAnswersOverHttp2(@TempDir Path dir) throws Exception {
    Path store = TestCertificates.keyStore(dir.resolve("gateway.p12"), "browser-pass-1", "localhost");
    GatewayOptions tls = GatewayOptions.defaults().withHttp(WebServer.Options.defaults().withTls(new Tls(store, "browser-pass-1")));
    // a second gateway on the class's broker, serving the class's Things service (no second service claiming its routes)
    try (GatewayFixture f = new GatewayFixture(gw.amqpUri(), tls, null)) {
      org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> f.gateway.routeCount() >= 6);
      // the test's self-signed certificate is accepted by this browser only; everything else is as a person's
      ChromeDriver b = browser("--ignore-certificate-errors");
      try {
        b.get("https://localhost:" + f.gateway.port() + "/explorer");
        new WebDriverWait(b, Duration.ofSeconds(10)).until(d -> !d.findElements(By.cssSelector("section.route")).isEmpty());
        assertThat(b.executeScript("return performance.getEntriesByType('navigation')[0].nextHopProtocol")).isEqualTo("h2");
        WebElement get = route(b, "GET", "/v1/things/{id}");
        get.findElement(By.tagName("h2")).click();
        get.findElement(By.cssSelector("input[data-name='id']")).sendKeys("over-tls");
        get.findElement(By.cssSelector("button.send")).click();
        assertThat(answer(b, get)).contains("\"id\": \"over-tls\"");
        assertThat(b.executeScript("return performance.getEntriesByType('resource').filter(e => e.name.includes('/v1/things/'))"
            + ".map(e => e.nextHopProtocol).join(',')")).isEqualTo("h2");
      } finally {
        b.quit();
      }
    }
  }
}
