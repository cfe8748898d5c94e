package dev.skiff.platform.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Durations as people write them; absurd ones refused, naming the text, not overflowing later in a timer. */
class DurationsTest {
  @Test
  void peoplesFormsAndIsoAreRead() {
    assertThat(Durations.parse("250ms")).isEqualTo(Duration.ofMillis(250));
    assertThat(Durations.parse("1.5s")).isEqualTo(Duration.ofMillis(1500));
    assertThat(Durations.parse("5m")).isEqualTo(Duration.ofMinutes(5));
    assertThat(Durations.parse("8760h")).isEqualTo(Durations.MAX);
    assertThat(Durations.parse("PT2S")).isEqualTo(Duration.ofSeconds(2));
  }

  @Test
  void messagesShowDurationsAsPeopleWriteThem() {
    assertThat(Durations.text(Duration.ofMillis(700))).isEqualTo("700 ms");
    assertThat(Durations.text(Duration.ofSeconds(3))).isEqualTo("3 s");
    assertThat(Durations.text(Duration.ofMillis(1500))).isEqualTo("1.5 s");
  }

  @Test
  void longerThanAYearOrBeyondWhatFitsIsRefusedNamingTheText() {
    for (String absurd : new String[] {"999999999999999999s", "8761h", "PT99999999999999999S", "P400D", "1e400s"}) {
      assertThatThrownBy(() -> Durations.parse(absurd)).as(absurd).isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining(absurd);
    }
  }
}
