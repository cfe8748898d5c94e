package dev.skiff.testing;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HeadlessChromiumTest {
  @Test
  void runsThePagesScriptsAndReturnsTheDomAndAScreenshot(@TempDir Path dir) throws Exception {
    assertThat(HeadlessChromium.binary()).as("no headless Chromium: run the tests with scripts/test.sh, which installs it").isNotNull();
    HttpServer http = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    byte[] page = ("<html><body><div id=out>before</div><script>"
        + "setTimeout(() => document.getElementById('out').textContent = 'after script', 200);"
        + "</script></body></html>").getBytes(StandardCharsets.UTF_8);
    http.createContext("/", ex -> {
      ex.getResponseHeaders().set("Content-Type", "text/html");
      ex.sendResponseHeaders(200, page.length);
      ex.getResponseBody().write(page);
      ex.close();
    });
    http.start();
    try {
      String url = "http://127.0.0.1:" + http.getAddress().getPort() + "/";
      assertThat(HeadlessChromium.dumpDom(url, Duration.ofSeconds(2))).contains("after script");
      Path png = dir.resolve("shot.png");
      HeadlessChromium.screenshot(url, png, Duration.ofSeconds(1));
      assertThat(Files.size(png)).isGreaterThan(1000);
    } finally {
      http.stop(0);
    }
  }
}
