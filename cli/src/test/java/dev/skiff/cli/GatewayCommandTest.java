package dev.skiff.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@code skiff gateway}: a wrong setting is a usage error naming it, before any connection is made. */
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
}
