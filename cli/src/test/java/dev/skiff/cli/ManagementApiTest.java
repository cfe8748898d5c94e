package dev.skiff.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What the management API is sent: password hashes in RabbitMQ's stored form, and JSON. */
class ManagementApiTest {
  @Test
  void aPasswordTravelsAsRabbitMqsSaltedSha256() throws Exception {
    byte[] stored = Base64.getDecoder().decode(ManagementApi.passwordHash("s3cret"));
    assertThat(stored).hasSize(4 + 32);
    MessageDigest sha = MessageDigest.getInstance("SHA-256");
    sha.update(Arrays.copyOf(stored, 4));
    assertThat(sha.digest("s3cret".getBytes(StandardCharsets.UTF_8))).isEqualTo(Arrays.copyOfRange(stored, 4, 36));
    assertThat(ManagementApi.passwordHash("s3cret")).as("salted: never the same twice").isNotEqualTo(ManagementApi.passwordHash("s3cret"));
  }

  @Test
  void generatedPasswordsAreLongAndDifferent() {
    assertThat(ManagementApi.newPassword()).hasSize(32).isNotEqualTo(ManagementApi.newPassword());
  }

  @Test
  void jsonEscapesTextAndWritesBooleans() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("write", "^(a\\.b|\"q\")$");
    m.put("durable", "true");
    assertThat(ManagementApi.json(m)).isEqualTo("{\"write\":\"^(a\\\\.b|\\\"q\\\")$\",\"durable\":true}");
  }
}
