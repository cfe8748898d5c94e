package com.example.journey;

import static org.assertj.core.api.Assertions.assertThat;

import com.example.journey.proto.DriverRequest;
import com.example.journey.proto.DriverResponse;
import com.example.journey.proto.EtaRequest;
import com.example.journey.proto.EtaResponse;
import com.example.journey.proto.FareRequest;
import com.example.journey.proto.FareResponse;
import com.example.journey.proto.PlanRequest;
import com.example.journey.proto.PlanResponse;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.config.Settings;
import dev.skiff.platform.server.Server;
import dev.skiff.testing.InProcessSkiff;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;

class JourneyTest {
  static final PlanRequest TRIP = PlanRequest.newBuilder().setPickup("King's Cross").setDropoff("Soho").build();

  /** Waits until all parties are being handled at once (or 30 s, a bound that only stops a hung test). */
  private static void meet(CyclicBarrier parts) {
    try {
      parts.await(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new SkiffException(ErrorCode.UNAVAILABLE, "interrupted at the barrier");
    } catch (BrokenBarrierException | TimeoutException e) {
      throw new SkiffException(ErrorCode.UNAVAILABLE, "the three parts were never handled at once: " + e);
    }
  }

  /**
   * The three parts meet at a barrier that opens only once all three are being handled at the same
   * time. Asked in parallel, they meet at once and the plan comes back whole; asked one after another,
   * the first would wait alone and run out its 250 ms part timeout, and the plan would list problems.
   */
  @Test
  void planAsksItsThreePartsInParallel() {
    CyclicBarrier parts = new CyclicBarrier(3);
    try (InProcessSkiff skiff = InProcessSkiff.create()) {
      skiff.start(Journey.ETA, b -> b.endpoint("estimate", EtaRequest.class, EtaResponse.class, (req, ctx) -> {
        meet(parts);
        return EtaResponse.newBuilder().setMinutes(7).build();
      }));
      skiff.start(Journey.FARE, b -> b.endpoint("quote", FareRequest.class, FareResponse.class, (req, ctx) -> {
        meet(parts);
        return FareResponse.newBuilder().setPence(1234).build();
      }));
      skiff.start(Journey.DRIVER, b -> b.endpoint("nearest", DriverRequest.class, DriverResponse.class, (req, ctx) -> {
        meet(parts);
        return DriverResponse.newBuilder().setName("Test driver").build();
      }));
      List<Server> journey = Journey.startAll(skiff.transport(), Settings.fromEnvironment(Map.of()), List.of("journey"));
      try {
        PlanResponse plan = skiff.client().call(Journey.JOURNEY, "plan", TRIP, PlanResponse.class);
        assertThat(plan.getProblemsList()).as("every part answered within its timeout").isEmpty();
        assertThat(plan.getEtaMinutes()).isEqualTo(7);
        assertThat(plan.getFarePence()).isEqualTo(1234);
        assertThat(plan.getDriver()).isEqualTo("Test driver");
        assertThat(parts.isBroken()).isFalse();
      } finally {
        journey.forEach(Server::close);
      }
    }
  }

  @Test
  void theRealPartsMakeAWholePlan() {
    try (InProcessSkiff skiff = InProcessSkiff.create()) {
      List<Server> servers = Journey.startAll(skiff.transport(), Settings.fromEnvironment(Map.of()), List.of());
      try {
        PlanResponse plan = skiff.client().call(Journey.JOURNEY, "plan", TRIP, PlanResponse.class);
        assertThat(plan.getProblemsList()).isEmpty();
        assertThat(plan.getEtaMinutes()).isBetween(2, 10);
        assertThat(plan.getFarePence()).isBetween(800L, 2790L);
        assertThat(plan.getDriver()).isIn("Ada", "Grace", "Linus", "Barbara", "Ken");
      } finally {
        servers.forEach(Server::close);
      }
    }
  }

  @Test
  void aMissingPartIsReportedAndTheRestOfThePlanStillComesBack() {
    try (InProcessSkiff skiff = InProcessSkiff.create()) {
      List<Server> servers = Journey.startAll(skiff.transport(), Settings.fromEnvironment(Map.of()), List.of("eta", "driver", "journey"));
      try {
        assertThat(servers).hasSize(3);
        PlanResponse plan = skiff.client().call(Journey.JOURNEY, "plan", TRIP, PlanResponse.class);
        assertThat(plan.getDriver()).isNotEmpty();
        assertThat(plan.getFarePence()).isZero();
        assertThat(plan.getProblemsList()).singleElement().asString().startsWith("fare: NOT_FOUND");
      } finally {
        servers.forEach(Server::close);
      }
    }
  }
}
