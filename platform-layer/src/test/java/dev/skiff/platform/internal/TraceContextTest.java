package dev.skiff.platform.internal;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@link TraceContext#parse}: a W3C {@code traceparent} of version {@code 00}, read strictly, as a request's header is hostile. */
class TraceContextTest {
  private static final String TRACE = "0af7651916cd43dd8448eb211c80319c";
  private static final String SPAN = "b7ad6b7169203331";

  @Test
  void readsVersion00WithItsSampledFlag() {
    assertThat(TraceContext.parse("00-" + TRACE + "-" + SPAN + "-01")).isEqualTo(new TraceContext(TRACE, SPAN, true));
    assertThat(TraceContext.parse("00-" + TRACE + "-" + SPAN + "-00")).isEqualTo(new TraceContext(TRACE, SPAN, false));
    // flags other than "sampled" are kept by no one here; the sampled bit is read from any flags byte
    assertThat(TraceContext.parse("00-" + TRACE + "-" + SPAN + "-03").sampled()).isTrue();
    assertThat(TraceContext.parse("00-" + TRACE + "-" + SPAN + "-02").sampled()).isFalse();
  }

  @Test
  void theHeaderItWritesReadsBack() {
    TraceContext c = TraceContext.newRoot(true);
    assertThat(TraceContext.parse(c.header())).isEqualTo(c);
    assertThat(TraceContext.parse(c.child().header()).traceId()).isEqualTo(c.traceId());
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", // another version
      "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", // the version the spec forbids
      "zz-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", // a version that is not hex
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-zz", // flags not hex: they used to read as sampled
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0G",
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0A", // upper case
      "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
      "00-0af7651916cd43dd8448eb211c80319c-B7AD6B7169203331-01",
      "00-0af7651916cd43dd8448eb211c80319x-b7ad6b7169203331-01",
      "00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      "00-0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331-01",
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331_01",
      "00-00000000000000000000000000000000-b7ad6b7169203331-01", // ids of all zeros
      "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-", // version 00 has nothing after the flags
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1",
      "",
      " 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
  void refusesAnythingElse(String header) {
    assertThat(TraceContext.parse(header)).isNull();
  }

  @Test
  void anAbsentHeaderIsNoContext() {
    assertThat(TraceContext.parse(null)).isNull();
  }
}
