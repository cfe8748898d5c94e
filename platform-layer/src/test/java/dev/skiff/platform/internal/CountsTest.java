package dev.skiff.platform.internal;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class CountsTest {
  @Test
  void oneIsSingularAndEveryOtherCountPlural() {
    assertThat(Counts.of(1, "request")).isEqualTo("1 request");
    assertThat(Counts.of(0, "request")).isEqualTo("0 requests");
    assertThat(Counts.of(2, "call")).isEqualTo("2 calls");
    assertThat(Counts.of(-1, "error")).isEqualTo("-1 errors");
    assertThat(Counts.of(1_000_000, "trace")).isEqualTo("1000000 traces");
  }
}
