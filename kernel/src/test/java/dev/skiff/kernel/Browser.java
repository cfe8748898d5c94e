package dev.skiff.kernel;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.testing.HeadlessChromium;
import java.io.File;
import java.util.Map;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;

/**
 * A real headless Chromium driven as a person would (WebDriver, Debian's chromedriver), for the pages'
 * tests that open, select, wait for refreshes or read the layout: what {@link HeadlessChromium}'s dump of the
 * DOM cannot show.
 */
public final class Browser {
  private Browser() {}

  /** @return a desktop browser (1280x900) */
  public static ChromeDriver desktop() {
    return start(false);
  }

  /** @return a phone's browser: 390 px wide, touch, mobile layout (the viewport meta honoured) */
  public static ChromeDriver phone() {
    return start(true);
  }

  private static ChromeDriver start(boolean phone) {
    File driver = new File("/usr/bin/chromedriver");
    assertThat(HeadlessChromium.binary()).as("no headless Chromium: run the tests with scripts/test.sh, which installs it").isNotNull();
    assertThat(driver).as("no chromedriver: run the tests with scripts/test.sh, which installs it").canRead();
    ChromeOptions options = new ChromeOptions().setBinary(HeadlessChromium.binary().toFile()).addArguments("--headless=new",
        "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1280,900");
    if (phone) {
      options.setExperimentalOption("mobileEmulation",
          Map.of("deviceMetrics", Map.of("width", 390, "height", 844, "pixelRatio", 3.0, "mobile", true, "touch", true)));
    }
    return new ChromeDriver(new ChromeDriverService.Builder().usingDriverExecutable(driver).usingAnyFreePort().build(), options);
  }
}
