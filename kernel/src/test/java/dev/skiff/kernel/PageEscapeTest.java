package dev.skiff.kernel;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * Untrusted text on a page: HTML's own characters escaped, and control and format characters shown as
 * {@code \}{@code uXXXX} (a right-to-left override in a service's description reversed the rest of the
 * paragraph on /discovery; ESC and zero-width characters hid or forged text).
 */
class PageEscapeTest {
  @Test
  void htmlCharactersAndControlAndFormatCharactersAreMadeHarmless() {
    assertThat(WebServer.escape("<b onclick='x'>\"&")).isEqualTo("&lt;b onclick=&#39;x&#39;&gt;&quot;&amp;");
    assertThat(WebServer.escape("evil\u202Etxt.exe")).isEqualTo("evil\\u202etxt.exe");
    assertThat(WebServer.escape("\u001b]0;pwned\u0007\u001b[2J")).isEqualTo("\\u001b]0;pwned\\u0007\\u001b[2J");
    assertThat(WebServer.escape("a\u200Bb\u2066c")).isEqualTo("a\\u200bb\\u2066c");
    assertThat(WebServer.escape("two\nlines\tand tab, Zoë, 東京, 🚕")).isEqualTo("two\nlines\tand tab, Zoë, 東京, 🚕");
  }
}
