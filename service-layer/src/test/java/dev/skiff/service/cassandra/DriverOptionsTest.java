package dev.skiff.service.cassandra;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.skiff.platform.config.Config;
import dev.skiff.platform.config.ConfigException;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A driver option of the wrong type is refused with the settings, naming its key: given to the driver, it
 * failed in a task of the driver's own and left the session's start (and the service's) waiting forever.
 */
class DriverOptionsTest {
  private static CassandraSettings settings(Map<String, String> values) {
    return CassandraSettings.from(Config.of(values).at("cassandra"));
  }

  @Test
  void optionsOfTheDriversTypesAreTaken() {
    CassandraSettings s = settings(Map.of(
        "cassandra.driver.advanced.connection.pool.local.size", "2",
        "cassandra.driver.advanced.metadata.schema.debouncer.window", "0",
        "cassandra.driver.basic.request.timeout", "3 seconds",
        "cassandra.driver.advanced.reconnect-on-init", "true",
        "cassandra.driver.advanced.some.future.option", "anything"));
    assertThat(s.driver()).containsEntry("advanced.connection.pool.local.size", "2").hasSize(5);
  }

  @Test
  void anOptionOfTheWrongTypeIsRefusedNamingItsKey() {
    Map<String, String> wrongs = Map.of(
        "cassandra.driver.advanced.connection.pool.local.size", "banana",
        "cassandra.driver.basic.request.timeout", "soon",
        "cassandra.driver.advanced.reconnect-on-init", "perhaps");
    for (Map.Entry<String, String> wrong : wrongs.entrySet()) {
      assertThatThrownBy(() -> settings(Map.of(wrong.getKey(), wrong.getValue())))
          .as(wrong.getKey())
          .isInstanceOf(ConfigException.class)
          .hasMessageContaining(wrong.getKey())
          .hasMessageContaining("as the driver's option is");
    }
  }
}
