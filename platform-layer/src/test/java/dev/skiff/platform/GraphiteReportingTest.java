package dev.skiff.platform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.skiff.platform.client.Client;
import dev.skiff.platform.metrics.MonitoringOptions;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.testproto.EchoRequest;
import dev.skiff.platform.testproto.EchoResponse;
import dev.skiff.platform.transport.inprocess.InProcessTransport;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/** A server configured with SKIFF_GRAPHITE reports its metrics to a real TCP listener, in Graphite's plaintext protocol. */
class GraphiteReportingTest {
  @Test
  void metricsArriveAsPlaintextLines() throws Exception {
    List<String> lines = new CopyOnWriteArrayList<>();
    try (ServerSocket listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      Thread acceptor = new Thread(() -> {
        while (!listener.isClosed()) {
          try (Socket s = listener.accept();
              BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = in.readLine()) != null; ) {
              lines.add(line);
            }
          } catch (java.io.IOException e) {
            return;
          }
        }
      }, "graphite-listener");
      acceptor.setDaemon(true);
      acceptor.start();
      MonitoringOptions options = MonitoringOptions.fromEnvironment(
          java.util.Map.of("SKIFF_GRAPHITE", "127.0.0.1:" + listener.getLocalPort(), "SKIFF_GRAPHITE_INTERVAL", "200ms"));
      try (InProcessTransport t = InProcessTransport.create();
          Server server = Server.builder("test.graphite").instanceId("i1").transport(t).monitoring(options)
              .endpoint("echo", EchoRequest.class, EchoResponse.class, (req, ctx) -> EchoResponse.newBuilder().setText(req.getText()).build())
              .build().start();
          Client client = Client.builder().transport(t).build()) {
        assertThat(server.isClosed()).isFalse();
        for (int i = 0; i < 3; i++) {
          client.call("test.graphite", "echo", EchoRequest.newBuilder().setText("g").build(), EchoResponse.class);
        }
        await().atMost(Duration.ofSeconds(10)).until(() ->
            lines.stream().anyMatch(l -> l.startsWith("skiff.test_graphite.i1.skiff.server.endpoint.echo.count 3 ")));
      }
    }
    String line = lines.stream().filter(l -> l.startsWith("skiff.test_graphite.i1.skiff.server.endpoint.echo.p95 ")).findFirst().orElseThrow();
    String[] parts = line.split(" ");
    assertThat(parts).hasSize(3);
    Double.parseDouble(parts[1]);
    assertThat(Long.parseLong(parts[2])).isCloseTo(System.currentTimeMillis() / 1000, org.assertj.core.data.Offset.offset(60L));
    assertThat(lines).anyMatch(l -> l.startsWith("skiff.test_graphite.i1.skiff.server.endpoint.echo.requests.m1_rate "));
    assertThat(lines).anyMatch(l -> l.startsWith("skiff.test_graphite.i1.skiff.server.in-flight "));
  }
}
