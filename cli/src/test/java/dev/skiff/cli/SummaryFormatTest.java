package dev.skiff.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.time.Duration;
import java.util.Map;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;

/** The pieces of the load summary that need no broker: percentiles, JSON writing, durations. */
class SummaryFormatTest {
  @Test
  void percentilesAreByNearestRank() {
    long[] hundred = LongStream.rangeClosed(1, 100).toArray();
    assertThat(LoadStats.percentile(hundred, 50)).isEqualTo(50);
    assertThat(LoadStats.percentile(hundred, 90)).isEqualTo(90);
    assertThat(LoadStats.percentile(hundred, 99)).isEqualTo(99);
    assertThat(LoadStats.percentile(hundred, 100)).isEqualTo(100);
    long[] three = {10, 20, 30};
    assertThat(LoadStats.percentile(three, 50)).isEqualTo(20);
    assertThat(LoadStats.percentile(three, 99)).isEqualTo(30);
    assertThat(LoadStats.percentile(new long[] {7}, 50)).isEqualTo(7);
  }

  @Test
  void jsonEscapesEveryStringItWrites() {
    String nasty = "q\"b\\s/\n\r\t\b\f\u0001 \u2028 é 日本";
    String text =
        new Json()
            .put("s", nasty)
            .put("n", 42)
            .put("d", 2.5)
            .put("nan", Double.NaN)
            .putCounts("m", Map.of(nasty, 3L))
            .putRaw("none", null)
            .toString();
    JsonObject o = JsonParser.parseString(text).getAsJsonObject();
    assertThat(o.get("s").getAsString()).isEqualTo(nasty);
    assertThat(o.get("n").getAsLong()).isEqualTo(42);
    assertThat(o.get("d").getAsDouble()).isEqualTo(2.5);
    assertThat(o.get("nan").isJsonNull()).isTrue();
    assertThat(o.getAsJsonObject("m").get(nasty).getAsLong()).isEqualTo(3);
    assertThat(o.get("none").isJsonNull()).isTrue();
    assertThat(text).doesNotContain("\n");
  }

  @Test
  void numbersHaveAtMostThreeDecimals() {
    assertThat(Json.number(1.23456)).isEqualTo("1.235");
    assertThat(Json.number(2.5)).isEqualTo("2.5");
    assertThat(Json.number(7)).isEqualTo("7");
    assertThat(Json.number(10)).isEqualTo("10");
    assertThat(Json.number(0)).isEqualTo("0");
  }

  @Test
  void durationsAreWrittenAsPeopleWriteThem() {
    assertThat(DurationConverter.format(Duration.ofSeconds(5))).isEqualTo("5s");
    assertThat(DurationConverter.format(Duration.ofMillis(250))).isEqualTo("250ms");
    assertThat(DurationConverter.format(Duration.ofMillis(1500))).isEqualTo("1.5s");
    assertThat(DurationConverter.format(Duration.ofMillis(1234))).isEqualTo("1234ms");
    assertThat(new DurationConverter().convert("1.5s")).isEqualTo(Duration.ofMillis(1500));
    assertThat(new DurationConverter().convert("PT2S")).isEqualTo(Duration.ofSeconds(2));
  }
}
