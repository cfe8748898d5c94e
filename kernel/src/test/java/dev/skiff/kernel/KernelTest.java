package dev.skiff.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.skiff.kernel.discovery.DiscoveryService;
import dev.skiff.kernel.http.CannotListen;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.config.Settings;
import dev.skiff.platform.internal.Release;
import dev.skiff.proto.v1.InstanceInfo;
import dev.skiff.proto.v1.ListServicesRequest;
import dev.skiff.proto.v1.ListServicesResponse;
import dev.skiff.platform.transport.inprocess.InProcessTransport;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

class KernelTest {
  static final class Hello implements KernelService {
    final AtomicBoolean closed = new AtomicBoolean();

    @Override
    public String name() {
      return "hello";
    }

    @Override
    public void start(KernelContext context) {
      context.web().mount("/hello", "Hello page", ex -> WebServer.send(ex, 200, "text/plain", "hi from " + context.transport().describe()));
    }

    @Override
    public void close() {
      closed.set(true);
    }
  }

  @Test
  void servicesMountPagesListedOnTheIndexAndCloseWithTheKernel() throws Exception {
    Hello hello = new Hello();
    try (InProcessTransport t = InProcessTransport.create()) {
      Kernel k = Kernel.start(t, Settings.fromEnvironment(Map.of()), List.of(hello), 0);
      HttpClient http = HttpClient.newHttpClient();
      String base = "http://127.0.0.1:" + k.web().port();
      HttpResponse<String> index = http.send(HttpRequest.newBuilder(URI.create(base + "/")).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(index.body()).contains("href=\"/hello\"").contains("Hello page");
      HttpResponse<String> page = http.send(HttpRequest.newBuilder(URI.create(base + "/hello")).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(page.body()).isEqualTo("hi from in-process");
      HttpResponse<String> missing = http.send(HttpRequest.newBuilder(URI.create(base + "/nope")).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(missing.statusCode()).isEqualTo(404);
      k.close();
      assertThat(hello.closed).isTrue();
    }
  }

  @Test
  void everyKernelServiceAnnouncesSkiffsOwnVersion() {
    try (InProcessTransport t = InProcessTransport.create();
        Client client = Client.builder().transport(t).build()) {
      Kernel k = Kernel.start(t, Settings.fromEnvironment(Map.of()), Kernel.available(), 0);
      try {
        List<InstanceInfo> kernel = Awaitility.await().atMost(Duration.ofSeconds(30))
            .until(() -> client.call(DiscoveryService.SERVICE, "list", ListServicesRequest.getDefaultInstance(), ListServicesResponse.class)
                .getInstancesList(), l -> l.size() >= k.services().size() - 1); // binding needs the AMQP transport's topology
        assertThat(kernel).extracting(i -> i.getAnnouncement().getService())
            .contains("skiff.discovery", "skiff.monitoring", "skiff.trace", "skiff.login", "skiff.config");
        assertThat(kernel).allSatisfy(i -> assertThat(i.getAnnouncement().getVersion()).as(i.getAnnouncement().getService())
            .isEqualTo(Release.version()));
        assertThat(Release.version()).isNotEqualTo(Release.UNKNOWN);
      } finally {
        k.close();
      }
    }
  }

  @Test
  void eachKernelServiceCountsInARegistryOfItsOwnThatItsServerReports() {
    try (InProcessTransport t = InProcessTransport.create()) {
      Kernel k = Kernel.start(t, Settings.fromEnvironment(Map.of()), Kernel.available(), 0);
      try {
        java.util.Set<String> login = k.metricsOf("login").getNames();
        assertThat(login).as("the login server's own endpoints").anyMatch(n -> n.startsWith("skiff.server.endpoint.login"))
            .as("not the config server's, which runs beside it").noneMatch(n -> n.startsWith("skiff.server.endpoint.rollback"));
        assertThat(k.metricsOf("config").getNames()).anyMatch(n -> n.startsWith("skiff.server.endpoint.rollback"))
            .noneMatch(n -> n.startsWith("skiff.server.endpoint.login"));
        // a bound's metrics go where its service's server reports them (they were in a registry no server reported)
        assertThat(k.metricsOf("discovery").getNames()).contains("skiff.kernel.bound." + DiscoveryService.BOUND + ".hit")
            .anyMatch(n -> n.startsWith("skiff.server.endpoint.list"));
        assertThat(k.metrics().getNames()).noneMatch(n -> n.startsWith("skiff.server.") || n.startsWith("skiff.kernel.bound."));
        assertThatThrownBy(() -> k.metricsOf("nope")).hasMessageContaining("'nope'").hasMessageContaining("discovery");
      } finally {
        k.close();
      }
    }
  }

  @Test
  void aWebPortInUseIsRefusedNamingTheAddressAndLeavesNothingRunning() throws Exception {
    try (InProcessTransport t = InProcessTransport.create();
        ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("0.0.0.0"))) {
      Hello hello = new Hello();
      long webThreads = webThreads();
      assertThatThrownBy(() -> Kernel.start(t, Settings.fromEnvironment(Map.of()), List.of(hello), taken.getLocalPort()))
          .isInstanceOf(CannotListen.class)
          .hasMessage("cannot listen on 0.0.0.0:" + taken.getLocalPort() + ": the port is in use (another process listens there)");
      Awaitility.await("the web server's threads stopped with it").atMost(Duration.ofSeconds(10)).until(() -> webThreads() <= webThreads);
      assertThat(hello.closed).as("no service was started").isFalse();
    }
  }

  private static long webThreads() {
    return Thread.getAllStackTraces().keySet().stream().filter(th -> th.getName().startsWith("skiff-web") && th.isAlive()).count();
  }

  @Test
  void selectingAnUnknownServiceNamesTheKnownOnes() {
    assertThatThrownBy(() -> Kernel.select(List.of(new Hello()), Set.of("nope")))
        .hasMessageContaining("'nope'").hasMessageContaining("hello");
  }

  @Test
  void httpPortComesFromTheEnvironmentAndIsChecked() {
    assertThat(Kernel.httpPort(Map.of())).isEqualTo(8090);
    assertThat(Kernel.httpPort(Map.of("SKIFF_HTTP_PORT", "9000"))).isEqualTo(9000);
    assertThatThrownBy(() -> Kernel.httpPort(Map.of("SKIFF_HTTP_PORT", "http"))).hasMessageContaining("SKIFF_HTTP_PORT");
  }
}
