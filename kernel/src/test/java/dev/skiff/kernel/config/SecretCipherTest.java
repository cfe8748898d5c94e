package dev.skiff.kernel.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.skiff.platform.SkiffException;
import java.util.Arrays;
import java.util.Base64;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** AES-GCM sealing of secrets (pure logic): bound to its layer and path, its key, and unaltered. */
class SecretCipherTest {
  private static final byte[] KEY = new byte[32];
  private static final byte[] OTHER = new byte[32];

  static {
    Arrays.fill(KEY, (byte) 7);
    Arrays.fill(OTHER, (byte) 9);
  }

  @Test
  void opensWhatItSealedOnlyAtTheSameLayerAndPathUnderTheSameKey() {
    SecretCipher c = SecretCipher.of(KEY);
    String sealed = c.seal("\"pw-123\"", "service/a", "db.password");
    assertThat(sealed).doesNotContain("pw-123").startsWith("v1." + c.keyId() + ".");
    assertThat(c.seal("\"pw-123\"", "service/a", "db.password")).isNotEqualTo(sealed); // a fresh nonce each time
    assertThat(c.open(sealed, "service/a", "db.password")).isEqualTo("\"pw-123\"");
    assertThatThrownBy(() -> c.open(sealed, "service/b", "db.password")).isInstanceOf(SkiffException.class)
        .hasMessageContaining("does not decrypt");
    assertThatThrownBy(() -> c.open(sealed, "service/a", "db.user")).hasMessageContaining("does not decrypt");
    assertThatThrownBy(() -> SecretCipher.of(OTHER).open(sealed, "service/a", "db.password")).hasMessageContaining("another key");
    char[] t = sealed.toCharArray();
    t[t.length - 3] = t[t.length - 3] == 'A' ? 'B' : 'A';
    assertThatThrownBy(() -> c.open(new String(t), "service/a", "db.password")).hasMessageContaining("does not decrypt");
    assertThatThrownBy(() -> c.open("v1." + c.keyId() + ".AAAA", "service/a", "p")).hasMessageNotContaining("pw-123");
  }

  @Test
  void theKeyComesFromTheEnvironmentAndABadOneIsNamedNotPrinted() {
    assertThat(SecretCipher.fromEnvironment(Map.of())).isEmpty();
    String good = Base64.getEncoder().encodeToString(KEY);
    assertThat(SecretCipher.fromEnvironment(Map.of("SKIFF_CONFIG_SECRET_KEY", good))).get()
        .extracting(SecretCipher::keyId).isEqualTo(SecretCipher.of(KEY).keyId());
    String shortKey = Base64.getEncoder().encodeToString(new byte[16]);
    assertThatThrownBy(() -> SecretCipher.fromEnvironment(Map.of("SKIFF_CONFIG_SECRET_KEY", shortKey)))
        .hasMessageContaining("SKIFF_CONFIG_SECRET_KEY").hasMessageContaining("16 bytes").hasMessageNotContaining(shortKey);
    assertThatThrownBy(() -> SecretCipher.fromEnvironment(Map.of("SKIFF_CONFIG_SECRET_KEY", "not*base64!")))
        .hasMessageContaining("SKIFF_CONFIG_SECRET_KEY").hasMessageNotContaining("not*base64!");
  }
}
