package dev.skiff.benchmarks;

import dev.skiff.benchmarks.proto.Echo;

/** What every benchmark shares: the broker, the names and the payload. */
public final class Bench {
  /** The Skiff service the echo server runs as. */
  public static final String SERVICE = "bench.echo";

  /** Its one endpoint. */
  public static final String ENDPOINT = "echo";

  /** The request every benchmark sends and every server echoes back: 38 bytes encoded. */
  public static final Echo PAYLOAD =
      Echo.newBuilder().setText("skiff benchmark echo payload!").setN(1_700_000_000_000L).build();

  /** The payload's encoded size in bytes. */
  public static final int PAYLOAD_BYTES = 38;

  static {
    if (PAYLOAD.getSerializedSize() != PAYLOAD_BYTES) {
      throw new AssertionError("payload is " + PAYLOAD.getSerializedSize() + " bytes, not " + PAYLOAD_BYTES);
    }
  }

  private Bench() {}

  /**
   * The broker: system property {@code skiff.bench.uri}, else environment variable
   * {@code SKIFF_BENCH_AMQP_URI}, else the local default.
   *
   * @return the broker URI
   */
  public static String brokerUri() {
    String p = System.getProperty("skiff.bench.uri");
    if (p != null && !p.isBlank()) {
      return p;
    }
    String e = System.getenv("SKIFF_BENCH_AMQP_URI");
    if (e != null && !e.isBlank()) {
      return e;
    }
    return "amqp://guest:guest@127.0.0.1:5672";
  }

  /**
   * Checks that a reply is the payload echoed back (used once per trial, outside the measured code).
   *
   * @param reply the reply
   * @param who the system that answered
   * @return the reply
   */
  static Echo checkEcho(Echo reply, String who) {
    if (!PAYLOAD.equals(reply)) {
      throw new IllegalStateException(who + " answered " + reply + " instead of echoing the payload");
    }
    return reply;
  }
}
