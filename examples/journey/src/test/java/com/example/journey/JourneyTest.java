package com.example.journey;

import static org.assertj.core.api.Assertions.assertThat;

import com.example.journey.proto.PlanRequest;
import com.example.journey.proto.PlanResponse;
import dev.skiff.platform.config.Settings;
import dev.skiff.platform.server.Server;
import dev.skiff.testing.InProcessSkiff;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JourneyTest {
  static final PlanRequest TRIP = PlanRequest.newBuilder().setPickup("King's Cross").setDropoff("Soho").build();

  @Test
  void planAsksItsThreePartsInParallel() {
    try (InProcessSkiff skiff = InProcessSkiff.create()) {
      Journey.startAll(skiff.transport(), Settings.fromEnvironment(Map.of()), List.of()).forEach(s -> {});
      skiff.client().call(Journey.JOURNEY, "plan", TRIP, PlanResponse.class); // warm up
      long t0 = System.nanoTime();
      PlanResponse plan = skiff.client().call(Journey.JOURNEY, "plan", TRIP, PlanResponse.class);
      Duration took = Duration.ofNanos(System.nanoTime() - t0);
      assertThat(plan.getProblemsList()).isEmpty();
      assertThat(plan.getEtaMinutes()).isPositive();
      assertThat(plan.getFarePence()).isPositive();
      assertThat(plan.getDriver()).isNotEmpty();
      // three 50 ms calls one after another would take 150 ms
      assertThat(took).isLessThan(Duration.ofMillis(130));
    }
  }

  @Test
  void aMissingPartIsReportedAndTheRestOfThePlanStillComesBack() {
    try (InProcessSkiff skiff = InProcessSkiff.create()) {
      List<Server> servers = Journey.startAll(skiff.transport(), Settings.fromEnvironment(Map.of()), List.of("eta", "driver", "journey"));
      assertThat(servers).hasSize(3);
      PlanResponse plan = skiff.client().call(Journey.JOURNEY, "plan", TRIP, PlanResponse.class);
      assertThat(plan.getDriver()).isNotEmpty();
      assertThat(plan.getFarePence()).isZero();
      assertThat(plan.getProblemsList()).singleElement().asString().startsWith("fare: NOT_FOUND");
    }
  }
}
