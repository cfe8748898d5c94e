package dev.skiff.platform.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.platform.Names;
import org.junit.jupiter.api.Test;

class ReleaseTest {
  @Test
  void theBuildFillsInItsVersionAndItIsOneAServerMayAnnounce() {
    assertThat(Release.version()).isNotEqualTo(Release.UNKNOWN).matches("\\d+\\.\\d+\\.\\d+.*");
    assertThat(Names.isVersion(Release.version())).isTrue();
    assertThat(Names.isVersion(Release.UNKNOWN)).isTrue();
  }
}
