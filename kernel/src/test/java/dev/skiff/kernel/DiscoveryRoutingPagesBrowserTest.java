package dev.skiff.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.skiff.kernel.binding.BindingService;
import dev.skiff.kernel.discovery.DiscoveryService;
import dev.skiff.platform.config.Settings;
import dev.skiff.proto.v1.InstanceAnnouncement;
import dev.skiff.testing.HeadlessChromium;
import dev.skiff.testing.RabbitMqExtension;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The discovery and routing pages are pages a person reads (issue 17 item 5): tables of services,
 * versions, instances and shares, in a real headless Chromium, with hostile announced values shown as
 * text, never as markup.
 */
class DiscoveryRoutingPagesBrowserTest {
  @RegisterExtension static final RabbitMqExtension broker = RabbitMqExtension.create();
  /** Sets the page's title if it ever runs. */
  private static final String SCRIPT = "<img src=x onerror=\"document.title='pwned'\">";
  /** Breaks out of an attribute value into an element that sets the title as it loads. */
  private static final String ATTR = "\"'><img src=y onerror=\"document.title='pwned'\">";

  private static InstanceAnnouncement hostile(String service, String instance) {
    return InstanceAnnouncement.newBuilder().setService(service).setVersion(ATTR).setInstance(instance).setHost(SCRIPT)
        .setDescription(SCRIPT).setState(InstanceAnnouncement.State.RUNNING).setStartedMs(System.currentTimeMillis() - 3 * 3_600_000 - 60_000)
        .setHeartbeatMs(60_000).setExpireAfterMs(600_000).setSentMs(System.currentTimeMillis()).build();
  }

  private static HttpResponse<String> http(String url) throws Exception {
    return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(5)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void discoveryAndRoutingAreTablesWithHostileValuesAsText() throws Exception {
    assertThat(HeadlessChromium.binary()).as("no headless Chromium: run the tests with scripts/test.sh, which installs it").isNotNull();
    DiscoveryService discovery = new DiscoveryService(Clock.systemUTC());
    // a leader that never acts in this test: it must not bind queues for the hostile names
    BindingService binding = new BindingService(Clock.systemUTC(), Duration.ofMinutes(10));
    try (Kernel kernel = Kernel.start(broker.transport(), Settings.fromEnvironment(Map.of()), List.of(discovery, binding), 0)) {
      for (InstanceAnnouncement a : List.of(hostile(SCRIPT, ATTR), hostile("com.example.greeter", SCRIPT))) {
        discovery.registry().apply(a);
        binding.registry().apply(a);
      }
      String base = "http://127.0.0.1:" + kernel.web().port();
      String found = await().atMost(Duration.ofSeconds(20)).until(() -> HeadlessChromium.dumpDom(base + "/discovery", Duration.ofSeconds(3)),
          d -> d.contains("com.example.greeter"));
      String routing = HeadlessChromium.dumpDom(base + "/routing", Duration.ofSeconds(3));
      for (String dom : List.of(found, routing)) {
        // a value that became markup would be an <img> element (text shows as &lt;img) and its onerror would set the title
        assertThat(dom).contains("</html>").contains("<table").doesNotContain("pwned</title>").doesNotContain("<img");
        assertThat(dom).as("the hostile values show as text").contains("&lt;img src=x onerror=").contains("&lt;img src=y onerror=");
      }
      assertThat(found).contains("<th>Instance</th>").contains("<th>Host</th>").contains("running").contains("3 h ago");
      assertThat(routing).contains("com.example.greeter").contains("No rule: every instance of every version shares the traffic")
          .contains("<th>Traffic now</th>");
      for (String page : List.of("/", "/discovery", "/discovery/api/services", "/routing", "/routing/api/rules")) {
        HttpResponse<String> r = http(base + page);
        assertThat(r.statusCode()).as(page).isEqualTo(200);
        WebServer.SECURITY_HEADERS.forEach((k, v) -> assertThat(r.headers().firstValue(k)).as(page + " " + k).hasValue(v));
      }
    }
  }
}
