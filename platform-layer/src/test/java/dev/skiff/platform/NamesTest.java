package dev.skiff.platform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** The one rule per kind of name, including the hostile ones (they become queue names and routing keys). */
class NamesTest {
  @Test
  void serviceNamesAreDotSeparatedLowerCaseParts() {
    assertThat(Names.isService("com.example.greeter")).isTrue();
    assertThat(Names.isService("a")).isTrue();
    assertThat(Names.isService("skiff.binding")).isTrue();
    assertThat(Names.isService("my-svc.v_2")).isTrue();
    assertThat(Names.isService("a".repeat(Names.MAX_SERVICE))).isTrue();
    for (String bad : new String[] {
        null, "", "Com.example", "com..example", ".com", "com.", "com.-x", "com._x", "bad name", "a#b", "a@b", "a/b", "a*b",
        "é", "a\u0000", "a".repeat(Names.MAX_SERVICE + 1)}) {
      assertThat(Names.isService(bad)).as(String.valueOf(bad)).isFalse();
    }
    assertThatThrownBy(() -> Names.checkService("Bad Name")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'Bad Name'").hasMessageContaining("com.example.greeter");
  }

  @Test
  void endpointsAndInstancesAreTokensAndVersionsMayHoldAPlus() {
    assertThat(Names.isToken("hello")).isTrue();
    assertThat(Names.isToken("Get_Booking-2.v1")).isTrue();
    assertThat(Names.isToken("x".repeat(Names.MAX_TOKEN))).isTrue();
    for (String bad : new String[] {null, "", "-x", ".x", "a b", "a#b", "a@b", "a+b", "x".repeat(Names.MAX_TOKEN + 1)}) {
      assertThat(Names.isToken(bad)).as(String.valueOf(bad)).isFalse();
    }
    assertThat(Names.isVersion("1.2.0")).isTrue();
    assertThat(Names.isVersion("1.2.0+build.7")).isTrue();
    assertThat(Names.isVersion("1.0.0-rc1")).isTrue();
    for (String bad : new String[] {null, "", "+1", "1 0", "1#0", "1@0", "v".repeat(Names.MAX_VERSION + 1)}) {
      assertThat(Names.isVersion(bad)).as(String.valueOf(bad)).isFalse();
    }
    assertThatThrownBy(() -> Names.checkVersion("1 0")).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'1 0'");
    assertThatThrownBy(() -> Names.checkToken("instance id", "a b")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("instance id 'a b'");
  }
}
