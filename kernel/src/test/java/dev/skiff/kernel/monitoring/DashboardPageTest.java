package dev.skiff.kernel.monitoring;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.kernel.Browser;
import dev.skiff.kernel.Kernel;
import dev.skiff.kernel.WebServer;
import dev.skiff.kernel.login.LoginService;
import dev.skiff.platform.config.Settings;
import dev.skiff.platform.internal.Printable;
import dev.skiff.platform.security.ServiceIdentities;
import dev.skiff.testing.RabbitMqExtension;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.openqa.selenium.By;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The dashboard as a person uses it, in a real headless Chromium driven by WebDriver: a service's control and
 * format characters shown as {@code \}{@code uXXXX}, by the same rule as {@link Printable} (a bidi override in
 * a check's message reversed the panel's text); a table opened and a selection made kept across refreshes
 * (the refresh closed them every 2 s); an ended session or an unreachable kernel said as such, with the
 * panels marked not current (they stayed green, under "cannot reach the monitoring service: 401"); the
 * panels fit a phone's 390 px.
 */
class DashboardPageTest {
  @RegisterExtension static final RabbitMqExtension broker = RabbitMqExtension.create();
  private static final String PASSWORD = "dashboard-admin-pass";
  /** Markup, a terminal colour and title sequence, a right-to-left override and a zero-width space. */
  static final String HOSTILE = "<img src=x onerror=alert(1)>\"';</script>\u001b[31mRED\u001b]0;x\u0007\u202eLIVE\u200bZ";

  /**
   * Text on which the dashboard's escaping and {@link Printable#keepingLines} must agree: every kind of
   * character Printable escapes, and the kinds it keeps.
   */
  static final List<String> SAMPLES = List.of(HOSTILE, "two\nlines\tand tab, Zoë, 東京, 🚕", "\u0000\u0008\r\u000b\u001f\u007f\u0085\u009f",
      "\u2028line\u2029para", "lone \ud800 high, lone \udc00 low", "tag \udb40\udc01\udb40\udc41 chars", "\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069",
      "\ufeff\u00ad\u061c\u200e\u200f\u200d\u2060", "unassigned \u0378", "private use \ue000", "plain ascii ~!@#$%^&*()_+");

  private static WebDriverWait waiting(ChromeDriver b) {
    return new WebDriverWait(b, Duration.ofSeconds(20));
  }

  private static String text(ChromeDriver b, String selector) {
    List<WebElement> found = b.findElements(By.cssSelector(selector));
    return found.isEmpty() ? null : found.get(0).getText();
  }

  @Test
  void aServicesControlAndFormatCharactersAreShownAsTheCommandLineShowsThem() {
    String name = MonitoringServiceTest.uniqueName();
    MonitoringService monitoring = new MonitoringService();
    try (Kernel kernel = Kernel.start(broker.transport(), Settings.fromEnvironment(Map.of()), List.of(monitoring), 0)) {
      MonitoredService svc = new MonitoredService(broker.transport(), name, "inst-a");
      ChromeDriver b = Browser.desktop();
      try {
        svc.widgetStore.fail("down " + HOSTILE);
        b.get("http://127.0.0.1:" + kernel.web().port() + "/monitoring/");
        String failing = waiting(b).until(d -> text(b, "section[data-service='" + name + "'] li.failing-check"));
        assertThat(failing).contains("down <img src=x onerror=alert(1)>\"';</script>\\u001b[31mRED\\u001b]0;x\\u0007\\u202eLIVE\\u200bZ");
        String shown = (String) b.executeScript("return document.body.innerText");
        assertThat(shown.codePoints().filter(c -> Character.isISOControl(c) && c != '\n' && c != '\t'
            || Character.getType(c) == Character.FORMAT).mapToObj(c -> String.format("U+%04x", c)).collect(Collectors.toList()))
            .as("no raw control or format character on the page").isEmpty();
        assertThat(b.findElements(By.tagName("img"))).as("markup shown as text").isEmpty();

        // the page's escaping and the server's and command line's are one rule
        List<List<Integer>> units = new ArrayList<>();
        for (String s : SAMPLES) {
          units.add(s.chars().boxed().collect(Collectors.toList()));
        }
        Object fromPage = b.executeScript("return arguments[0].map(u => printable(String.fromCharCode(...u)))", units);
        assertThat(fromPage).isEqualTo(SAMPLES.stream().map(Printable::keepingLines).collect(Collectors.toList()));
      } finally {
        b.quit();
        svc.server.close();
      }
    }
  }

  @Test
  void anOpenedTableAndASelectionStayAcrossRefreshesAndAnUnreachableKernelMarksThePanelsNotCurrent() {
    String name = MonitoringServiceTest.uniqueName();
    MonitoringService monitoring = new MonitoringService();
    Kernel kernel = Kernel.start(broker.transport(), Settings.fromEnvironment(Map.of()), List.of(monitoring), 0);
    MonitoredService svc = new MonitoredService(broker.transport(), name, "inst-a");
    ChromeDriver b = Browser.desktop();
    try {
      b.get("http://127.0.0.1:" + kernel.web().port() + "/monitoring/");
      String panel = "section[data-service='" + name + "']";
      waiting(b).until(d -> text(b, panel + " h2") != null);

      b.findElement(By.cssSelector(panel + " details summary")).click();
      b.executeScript("const s = document.querySelector(arguments[0]); getSelection().selectAllChildren(s)", panel + " h2 span");
      for (int i = 0; i < 2; i++) {
        String before = text(b, "#summary");
        waiting(b).until(d -> !before.equals(text(b, "#summary")));
      }
      assertThat(b.findElement(By.cssSelector(panel + " details")).getAttribute("open")).as("the opened table stays open").isNotNull();
      assertThat(b.findElement(By.cssSelector(panel + " details table")).getText()).contains("widget-store");
      assertThat(b.executeScript("return getSelection().toString()")).as("the selection stays").isEqualTo(name);
      assertThat(b.findElement(By.cssSelector("header nav a")).getAttribute("href")).endsWith("/");
      assertThat(b.findElement(By.cssSelector(panel + " .graph .label")).getText()).matches("requests/s · (last \\d+ (s|min)|latest report)");

      kernel.close();
      waiting(b).until(d -> b.findElement(By.id("problem")).isDisplayed());
      assertThat(b.findElement(By.id("problem")).getText()).startsWith("Cannot reach the kernel's monitoring service").contains("not current");
      assertThat(b.findElement(By.id("services")).getAttribute("data-stale")).isEqualTo("true");
      assertThat(b.executeScript("return getComputedStyle(document.querySelector(arguments[0]), '::after').content", panel + " h2 .status"))
          .isEqualTo("\" · not current\"");
      assertThat(b.executeScript("return getComputedStyle(document.querySelector(arguments[0])).filter", panel)).isEqualTo("grayscale(1)");
    } finally {
      b.quit();
      svc.server.close();
      kernel.close();
    }
  }

  @Test
  void whenThePageSessionEndsTheDashboardSaysSoAndLinksToSignInAndBack() {
    String name = MonitoringServiceTest.uniqueName();
    MonitoringService monitoring = new MonitoringService();
    try (Kernel kernel = Kernel.start(broker.transport(), Settings.fromEnvironment(Map.of()), ServiceIdentities.defaults(),
        List.of(new LoginService(Map.of("SKIFF_BOOTSTRAP_ADMIN_PASSWORD", PASSWORD)), monitoring), 0,
        WebServer.Options.defaults().withAuth(WebServer.Options.Auth.REQUIRED))) {
      MonitoredService svc = new MonitoredService(broker.transport(), name, "inst-a");
      ChromeDriver b = Browser.desktop();
      try {
        String dashboard = "http://127.0.0.1:" + kernel.web().port() + "/monitoring/";
        b.get(dashboard);
        b.findElement(By.linkText("Sign in")).click();
        signIn(b);
        String panel = "section[data-service='" + name + "']";
        waiting(b).until(d -> text(b, panel + " h2") != null);
        assertThat(b.getCurrentUrl()).isEqualTo(dashboard);

        b.manage().deleteCookieNamed("skiff_session"); // as at the session's end: the next refresh is refused with 401
        waiting(b).until(d -> b.findElement(By.id("problem")).isDisplayed());
        assertThat(b.findElement(By.id("problem")).getText()).startsWith("Your session on these pages has ended").contains("not current");
        assertThat(b.findElement(By.id("sign-in")).getAttribute("href")).endsWith("/signin?next=%2Fmonitoring%2F");
        assertThat(b.findElement(By.id("services")).getAttribute("data-stale")).isEqualTo("true");

        b.findElement(By.id("sign-in")).click();
        signIn(b);
        waiting(b).until(d -> text(b, panel + " h2") != null && !b.findElement(By.id("problem")).isDisplayed());
        assertThat(b.getCurrentUrl()).isEqualTo(dashboard);
        assertThat(b.findElement(By.id("services")).getAttribute("data-stale")).isNull();
      } finally {
        b.quit();
        svc.server.close();
      }
    }
  }

  private static void signIn(ChromeDriver b) {
    waiting(b).until(d -> !d.findElements(By.name("user")).isEmpty());
    b.findElement(By.name("user")).sendKeys("admin");
    b.findElement(By.name("password")).sendKeys(PASSWORD);
    b.findElement(By.tagName("button")).click();
  }

  @Test
  void thePanelsFitAPhone() {
    String name = MonitoringServiceTest.uniqueName();
    MonitoringService monitoring = new MonitoringService();
    try (Kernel kernel = Kernel.start(broker.transport(), Settings.fromEnvironment(Map.of()), List.of(monitoring), 0)) {
      MonitoredService svc = new MonitoredService(broker.transport(), name, "inst-" + "a-very-long-instance-id".repeat(4));
      ChromeDriver b = Browser.phone();
      try {
        b.get("http://127.0.0.1:" + kernel.web().port() + "/monitoring/");
        waiting(b).until(d -> text(b, "section[data-service='" + name + "'] h2") != null);
        assertThat(b.executeScript("return innerWidth")).isEqualTo(390L);
        assertThat(b.executeScript("return document.documentElement.scrollWidth")).as("no sideways scrolling").isEqualTo(390L);
        assertThat(b.executeScript("return Math.max(...[...document.querySelectorAll('.svc')].map(e => e.scrollWidth - e.clientWidth))"))
            .as("nothing cut off inside a panel").isEqualTo(0L);
      } finally {
        b.quit();
        svc.server.close();
      }
    }
  }
}
