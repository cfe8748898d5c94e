package dev.skiff.kernel.binding;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.proto.v1.RouteRule;
import dev.skiff.proto.v1.RouteStatus;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The traffic shown for each version is what the broker applies: the running versions' weights out of their sum. */
class SharesTest {
  private static RouteStatus status(Map<String, Integer> rule, Map<String, Integer> running) {
    RouteRule r = RouteRule.newBuilder().setService("s").putAllWeights(rule).build();
    return RouteStatus.newBuilder().setRule(r).putAllInstances(running).putAllEffective(BindingService.effective(r, running)).build();
  }

  @Test
  void aVersionThatDoesNotRunLeavesItsShareToTheOthersInProportion() {
    RouteStatus st = status(Map.of("1.0.0", 60, "1.1.0", 30, "2.0.0", 10), Map.of("1.0.0", 1, "1.1.0", 1));
    assertThat(Shares.routed(st)).isTrue();
    assertThat(Shares.percent(st, "1.0.0")).isEqualTo("66.7%");
    assertThat(Shares.percent(st, "1.1.0")).isEqualTo("33.3%");
    assertThat(Shares.percent(st, "2.0.0")).isEqualTo("0%");
  }

  @Test
  void allRunningIsTheRuleItself() {
    RouteStatus st = status(Map.of("1.0.0", 90, "1.1.0", 10), Map.of("1.0.0", 2, "1.1.0", 1, "3.0.0", 1));
    assertThat(Shares.percent(st, "1.0.0")).isEqualTo("90%");
    assertThat(Shares.percent(st, "1.1.0")).isEqualTo("10%");
    assertThat(Shares.percent(st, "3.0.0")).as("running, not in the rule").isEqualTo("0%");
  }

  @Test
  void onlyAVersionAtZeroRunningIsNotRouted() {
    RouteStatus st = status(Map.of("1.0.0", 0, "2.0.0", 100), Map.of("1.0.0", 1, "1.1.0", 1));
    assertThat(Shares.routed(st)).isFalse();
  }
}
