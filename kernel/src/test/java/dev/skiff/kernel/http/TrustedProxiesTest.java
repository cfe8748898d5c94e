package dev.skiff.kernel.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The client address from the peer and the forwarding chain: trusted hops skipped, hostile values ignored. */
class TrustedProxiesTest {
  private static final TrustedProxies XFF = TrustedProxies.parse("10.0.0.0/8, 192.168.1.7, fd00::/8", "", "SKIFF_HTTP_");
  private static final TrustedProxies FWD = TrustedProxies.parse("10.0.0.0/8,fd00::/8", "Forwarded", "SKIFF_HTTP_");

  @Test
  void withoutTrustedProxiesTheHeaderIsNeverRead() {
    TrustedProxies none = TrustedProxies.parse("", "", "SKIFF_HTTP_");
    assertThat(none.any()).isFalse();
    assertThat(none.client("203.0.113.9", List.of("1.2.3.4"))).isEqualTo("203.0.113.9");
  }

  /** A block that trusts every peer is allowed (a test set-up may want it) but said at start: a client can then pick its own address. */
  @Test
  void aBlockOfEveryAddressIsKnownForWhatItIs() {
    assertThat(TrustedProxies.parse("0.0.0.0/0", "", "SKIFF_GATEWAY_").trustsEveryone()).isTrue();
    assertThat(TrustedProxies.parse("10.0.0.0/8, ::/0", "", "SKIFF_GATEWAY_").trustsEveryone()).isTrue();
    assertThat(XFF.trustsEveryone()).isFalse();
    assertThat(TrustedProxies.parse("0.0.0.0/1", "", "SKIFF_GATEWAY_").trustsEveryone()).isFalse();
    // what that means: a client that is its own "proxy" chooses the address it is limited and logged as
    assertThat(TrustedProxies.parse("0.0.0.0/0", "", "SKIFF_GATEWAY_").client("203.0.113.9", List.of("1.2.3.4"))).isEqualTo("1.2.3.4");
  }

  @Test
  void aHeaderFromAnUntrustedPeerIsIgnored() {
    assertThat(XFF.client("203.0.113.9", List.of("1.2.3.4"))).isEqualTo("203.0.113.9");
    assertThat(FWD.client("203.0.113.9", List.of("for=1.2.3.4"))).isEqualTo("203.0.113.9");
  }

  @Test
  void theChainIsWalkedFromTheRightSkippingTrustedHops() {
    assertThat(XFF.client("10.0.0.1", List.of("198.51.100.2"))).isEqualTo("198.51.100.2");
    // the client sent its own X-Forwarded-For (spoofed 1.1.1.1); the proxies appended the real one and themselves
    assertThat(XFF.client("10.0.0.1", List.of("1.1.1.1, 198.51.100.2, 192.168.1.7", "10.2.3.4"))).isEqualTo("198.51.100.2");
    assertThat(XFF.client("10.0.0.1", List.of("198.51.100.2:5123"))).isEqualTo("198.51.100.2");
    assertThat(XFF.client("10.0.0.1", List.of("2001:db8::7, fd00::1"))).isEqualTo("2001:db8:0:0:0:0:0:7");
    assertThat(XFF.client("[fd00::9]", List.of("[2001:db8::7]:443"))).isEqualTo("2001:db8:0:0:0:0:0:7");
    // every hop trusted: the leftmost
    assertThat(XFF.client("10.0.0.1", List.of("10.9.9.9, 10.0.0.2"))).isEqualTo("10.9.9.9");
    // a trusted peer without the header is the client
    assertThat(XFF.client("10.0.0.1", Collections.emptyList())).isEqualTo("10.0.0.1");
  }

  @Test
  void forwardedElementsAreParsedAsRfc7239() {
    assertThat(FWD.client("10.0.0.1", List.of("for=198.51.100.2;proto=https;by=10.0.0.1"))).isEqualTo("198.51.100.2");
    assertThat(FWD.client("10.0.0.1", List.of("for=1.1.1.1, for=\"[2001:db8:cafe::17]:4711\", For=10.0.0.3")))
        .isEqualTo("2001:db8:cafe:0:0:0:0:17");
    assertThat(FWD.client("10.0.0.1", List.of("for=\"198.51.100.2:80\";host=\"a,b\"", "for=10.0.0.3"))).isEqualTo("198.51.100.2");
  }

  @Test
  void malformedUnknownAndObfuscatedEntriesStopAtTheProxyThatPassedThemOn() {
    for (String bad : List.of("", "unknown", "not-an-ip", "evil.example.com", "999.1.1.1", "1.2.3.4:99999", "1.2.3", "::g",
        "[::1", "1.2.3.4\r\nX: y", "x".repeat(5000))) {
      assertThat(XFF.client("10.0.0.1", List.of(bad + ", 10.0.0.2"))).as(bad).isEqualTo("10.0.0.2");
    }
    for (String bad : List.of("for=unknown", "for=_hidden", "proto=https", "for=1.2.3.4;for=5.6.7.8", "for=\"[::1\"", "for=")) {
      assertThat(FWD.client("10.0.0.1", List.of(bad))).as(bad).isEqualTo("10.0.0.1");
    }
    // an untrusted hop to the right of the garbage is the client; the garbage is never reached
    assertThat(XFF.client("10.0.0.1", List.of("garbage, 198.51.100.2"))).isEqualTo("198.51.100.2");
  }

  @Test
  void aLongChainIsReadOnlyToItsLimit() {
    String chain = "198.51.100.2, " + "10.0.0.5, ".repeat(TrustedProxies.MAX_HOPS + 5) + "10.0.0.6";
    assertThat(XFF.client("10.0.0.1", List.of(chain))).startsWith("10.0.0.");
  }

  @Test
  void settingsAreCheckedAndNameTheVariable() {
    assertThat(XFF.blocks()).hasSize(3);
    assertThat(XFF.blocks().get(1).toString()).isEqualTo("192.168.1.7/32");
    assertThat(XFF.headerName()).isEqualTo("X-Forwarded-For");
    assertThat(TrustedProxies.parse("", "FORWARDED", "SKIFF_HTTP_").headerName()).isEqualTo("Forwarded");
    assertThat(TrustedProxies.parse("0.0.0.0/0", "", "SKIFF_HTTP_").client("10.0.0.1", List.of("7.7.7.7, 8.8.8.8"))).isEqualTo("7.7.7.7");
    for (String bad : List.of("10.0.0.0/33", "10.0.0.0/x", "proxy.example.com", "fd00::/129", "10.0.0/8")) {
      assertThatThrownBy(() -> TrustedProxies.parse(bad, "", "SKIFF_HTTP_")).as(bad).hasMessageStartingWith("SKIFF_HTTP_TRUSTED_PROXIES");
    }
    assertThatThrownBy(() -> TrustedProxies.parse("", "X-Real-IP", "SKIFF_HTTP_")).hasMessageStartingWith("SKIFF_HTTP_FORWARDED_HEADER");
    assertThatThrownBy(() -> TrustedProxies.fromEnvironment(java.util.Map.of("SKIFF_GATEWAY_TRUSTED_PROXIES", "nope"), "SKIFF_GATEWAY_"))
        .hasMessageStartingWith("SKIFF_GATEWAY_TRUSTED_PROXIES");
    TrustedProxies fromEnv = TrustedProxies.fromEnvironment(java.util.Map.of("SKIFF_HTTP_TRUSTED_PROXIES", "127.0.0.1/32",
        "SKIFF_HTTP_FORWARDED_HEADER", "Forwarded", "SKIFF_GATEWAY_TRUSTED_PROXIES", "10.0.0.0/8"), "SKIFF_HTTP_");
    assertThat(fromEnv.headerName()).isEqualTo("Forwarded");
    assertThat(fromEnv.blocks()).extracting(Object::toString).containsExactly("127.0.0.1/32");
    assertThat(TrustedProxies.fromEnvironment(java.util.Map.of(), "SKIFF_HTTP_").any()).isFalse();
  }
}
