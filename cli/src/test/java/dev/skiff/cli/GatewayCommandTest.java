package dev.skiff.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@code skiff gateway} and {@code skiff kernel}: a wrong setting is a usage error naming it, before any
 * connection is made; a port in use is said in one line, not a stack trace.
 */
class GatewayCommandTest {
  @Test
  void aWrongSettingIsAUsageErrorNamingTheVariable() {
    Skiff.Result port = Skiff.run(Map.of("SKIFF_GATEWAY_PORT", "http"), "gateway");
    assertThat(port.exitCode()).as(port.toString()).isEqualTo(SkiffCli.EXIT_USAGE);
    assertThat(port.err()).contains("SKIFF_GATEWAY_PORT");
    Skiff.Result cors = Skiff.run(Map.of("SKIFF_GATEWAY_CORS_ORIGINS", "https://app.example.com/path\u001b[31m"), "gateway");
    assertThat(cors.exitCode()).as(cors.toString()).isEqualTo(SkiffCli.EXIT_USAGE);
    assertThat(cors.err()).contains("SKIFF_GATEWAY_CORS_ORIGINS").doesNotContain("\u001b");
  }

  @Test
  void itsHelpNamesThePortAndTheSettings() {
    Skiff.Result help = Skiff.run(Map.of(), "gateway", "--help");
    assertThat(help.exitCode()).isZero();
    assertThat(help.out()).contains("--port", "SKIFF_GATEWAY_PORT", "8080", "docs/gateway.md");
  }

  @Test
  void aPortInUseIsSaidInOneLineAndExitsOne() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("0.0.0.0"))) {
      int port = taken.getLocalPort();
      Map<String, String> env = new HashMap<>(EchoService.env());
      env.put("SKIFF_GATEWAY_PORT", Integer.toString(port));
      Skiff.Result gateway = Skiff.run(env, "gateway");
      assertThat(gateway.exitCode()).as(gateway.toString()).isEqualTo(SkiffCli.EXIT_CALL_FAILED);
      assertThat(gateway.err().strip()).as(gateway.toString())
          .isEqualTo("skiff: cannot listen on 0.0.0.0:" + port + ": the port is in use (another process listens there); "
              + "choose another port (see 'skiff gateway --help')");

      Skiff.Result kernel = Skiff.run(EchoService.env(), "kernel", "--http-port", Integer.toString(port), "discovery");
      assertThat(kernel.exitCode()).as(kernel.toString()).isEqualTo(SkiffCli.EXIT_CALL_FAILED);
      assertThat(kernel.err()).as(kernel.toString()).contains("cannot listen on 0.0.0.0:" + port + ": the port is in use")
          .doesNotContain("internal error", "\tat ");
    }
  }
}
