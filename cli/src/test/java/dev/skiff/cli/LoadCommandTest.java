package dev.skiff.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@code skiff load} against two instances, of two versions, of a real service on the real broker. */
class LoadCommandTest {
  @AutoClose static EchoService svc;

  @BeforeAll
  static void startService() {
    svc = EchoService.twoVersions("1.0", "2.0");
  }

  static Map<String, Long> counts(JsonObject o, String field) {
    Map<String, Long> m = new TreeMap<>();
    for (Map.Entry<String, JsonElement> e : o.getAsJsonObject(field).entrySet()) {
      m.put(e.getKey(), e.getValue().getAsLong());
    }
    return m;
  }

  @Test
  void jsonSummaryCountsRepliesByVersionAndInstance() {
    Skiff.Result r =
        Skiff.run("load", svc.name, "echo", "{\"text\": \"x\"}", "--calls", "200", "--concurrency", "16", "--json");
    assertThat(r.exitCode()).as(r.toString()).isZero();
    assertThat(r.out().strip().lines()).as("one JSON object on one line").hasSize(1);
    JsonObject o = JsonParser.parseString(r.out()).getAsJsonObject();
    assertThat(o.get("service").getAsString()).isEqualTo(svc.name);
    assertThat(o.get("endpoint").getAsString()).isEqualTo("echo");
    assertThat(o.get("calls").getAsInt()).isEqualTo(200);
    assertThat(o.get("concurrency").getAsInt()).isEqualTo(16);
    assertThat(o.get("timeoutMs").getAsLong()).isEqualTo(5000);
    assertThat(o.get("successes").getAsInt()).isEqualTo(200);
    assertThat(o.get("errors").getAsInt()).isZero();
    assertThat(o.getAsJsonObject("errorsByCode").size()).isZero();
    assertThat(o.get("elapsedMs").getAsDouble()).isPositive();
    assertThat(o.get("throughput").getAsDouble()).isPositive();

    Map<String, Long> byVersion = counts(o, "byVersion");
    assertThat(byVersion).containsOnlyKeys("1.0", "2.0");
    assertThat(byVersion.values().stream().mapToLong(Long::longValue).sum()).isEqualTo(200);
    Map<String, Long> byInstance = counts(o, "byInstance");
    assertThat(byInstance).containsOnlyKeys(svc.instanceA(), svc.instanceB());
    assertThat(byInstance.get(svc.instanceA())).isEqualTo(byVersion.get("1.0"));
    assertThat(byInstance.get(svc.instanceB())).isEqualTo(byVersion.get("2.0"));

    JsonObject latency = o.getAsJsonObject("latencyMs");
    double p50 = latency.get("p50").getAsDouble();
    double p90 = latency.get("p90").getAsDouble();
    double p99 = latency.get("p99").getAsDouble();
    double max = latency.get("max").getAsDouble();
    assertThat(latency.get("min").getAsDouble()).isPositive().isLessThanOrEqualTo(p50);
    assertThat(p50).isLessThanOrEqualTo(p90);
    assertThat(p90).isLessThanOrEqualTo(p99);
    assertThat(p99).isLessThanOrEqualTo(max);
    assertThat(r.err()).isEmpty();
  }

  @Test
  void failingCallsAreCountedByCode() {
    svc.flakyCalls.set(0);
    Skiff.Result r = Skiff.run("load", svc.name, "flaky", "{}", "--calls", "40", "--concurrency", "4", "--json");
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(SkiffCli.EXIT_CALL_FAILED);
    JsonObject o = JsonParser.parseString(r.out()).getAsJsonObject();
    assertThat(o.get("calls").getAsInt()).isEqualTo(40);
    assertThat(o.get("successes").getAsInt()).isEqualTo(20);
    assertThat(o.get("errors").getAsInt()).isEqualTo(20);
    assertThat(counts(o, "errorsByCode")).isEqualTo(Map.of("CAPACITY", 10L, "CONFLICT", 10L));
    assertThat(counts(o, "byVersion").values().stream().mapToLong(Long::longValue).sum()).isEqualTo(20);
    assertThat(r.err())
        .containsPattern("(?m)^CAPACITY: flaky call \\d+ is over capacity \\(first of 10\\)$")
        .containsPattern("(?m)^CONFLICT: flaky call \\d+ conflicts \\(first of 10\\)$");
  }

  /** The handlers are held until the test releases them after the run: every call must end TIMEOUT without them. */
  @Test
  void timeoutsAreCountedAndNoCallSucceeding() {
    String hold = "load" + EchoService.randomHex(4);
    try {
      Skiff.Result r =
          Skiff.run("load", svc.name, "echo", "{\"hold\": \"" + hold + "\"}", "--calls", "4", "--concurrency", "4",
              "--timeout", "200ms", "--json");
      assertThat(r.exitCode()).as(r.toString()).isEqualTo(SkiffCli.EXIT_CALL_FAILED);
      JsonObject o = JsonParser.parseString(r.out()).getAsJsonObject();
      assertThat(o.get("timeoutMs").getAsLong()).isEqualTo(200);
      assertThat(o.get("successes").getAsInt()).isZero();
      assertThat(counts(o, "errorsByCode")).isEqualTo(Map.of("TIMEOUT", 4L));
      assertThat(o.get("latencyMs").isJsonNull()).isTrue();
      assertThat(o.getAsJsonObject("byVersion").size()).isZero();
    } finally {
      svc.release(hold);
    }
  }

  @Test
  void unknownServiceFailsEveryCallNotFound() {
    String missing = "test.cli.missing." + EchoService.randomHex(4);
    Skiff.Result r = Skiff.run("load", missing, "echo", "{}", "--calls", "10", "--concurrency", "3");
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(SkiffCli.EXIT_CALL_FAILED);
    assertThat(r.out()).contains("successes    0").contains("errors       10 (NOT_FOUND: 10)");
    assertThat(r.err()).startsWith("NOT_FOUND: service " + missing + " is not running");
  }

  @Test
  void textSummary() {
    Skiff.Result r =
        Skiff.run("load", svc.name, "echo", "{}", "--calls", "50", "--concurrency", "5", "--instance", svc.instanceB());
    assertThat(r.exitCode()).as(r.toString()).isZero();
    assertThat(r.out())
        .startsWith("load " + svc.name + "/echo: 50 calls, concurrency 5, timeout 5s\n")
        .contains("  successes    50\n")
        .contains("  errors       0\n")
        .containsPattern("  throughput   \\d+\\.\\d calls/s\n")
        .containsPattern("  latency ms   p50 [0-9.]+  p90 [0-9.]+  p99 [0-9.]+  max [0-9.]+")
        .contains("  by version   2.0: 50\n")
        .contains("  by instance  " + svc.instanceB() + ": 50\n");
  }

  @Test
  void callsAndConcurrencyAreValidated() {
    Skiff.Result noCalls = Skiff.run("load", svc.name, "echo", "{}", "--calls", "0", "--concurrency", "1");
    assertThat(noCalls.exitCode()).isEqualTo(SkiffCli.EXIT_USAGE);
    assertThat(noCalls.err()).startsWith("skiff: --calls must be between 1 and 10000000, not 0");
    Skiff.Result noConcurrency = Skiff.run("load", svc.name, "echo", "{}", "--calls", "5", "--concurrency", "-3");
    assertThat(noConcurrency.exitCode()).isEqualTo(SkiffCli.EXIT_USAGE);
    assertThat(noConcurrency.err()).startsWith("skiff: --concurrency must be between 1 and 10000, not -3");
    Skiff.Result missing = Skiff.run("load", svc.name, "echo", "{}");
    assertThat(missing.exitCode()).isEqualTo(SkiffCli.EXIT_USAGE);
    assertThat(missing.err()).contains("Missing required options: '--calls=N', '--concurrency=C'");
    Skiff.Result notANumber = Skiff.run("load", svc.name, "echo", "{}", "--calls", "lots", "--concurrency", "2");
    assertThat(notANumber.exitCode()).isEqualTo(SkiffCli.EXIT_USAGE);
    assertThat(notANumber.err()).contains("--calls").contains("lots");
  }

  @Test
  void unreachableBrokerExitsThreeWithoutAPassword() {
    Skiff.Result r =
        Skiff.run("load", svc.name, "echo", "{}", "--calls", "5", "--concurrency", "1",
            "--amqp", "amqp://guest:sekrit@127.0.0.1:1");
    assertThat(r.exitCode()).isEqualTo(SkiffCli.EXIT_BROKER_UNREACHABLE);
    assertThat(r.err()).startsWith("UNAVAILABLE: cannot connect to the broker at amqp://guest:***@127.0.0.1:1")
        .doesNotContain("sekrit");
  }
}
