package com.example.journey;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

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
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The journey example in memory. A part has 250 ms to answer a plan (Journey.PART); a busy machine can be
 * slower than that on a cold first call, so where a test needs every part in time it asks for plans until
 * one comes back whole (bounded at 60 s, which only stops a hung test), each plan with a pickup of its own.
 */
class JourneyTest {
  static final PlanRequest TRIP = PlanRequest.newBuilder().setPickup("King's Cross").setDropoff("Soho").build();

  /** Waits until the plan's three parts are all being handled (30 s at most: a bound that only stops a hung test). */
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
   * The three parts of a plan meet at a barrier that opens only once all three are being handled at the
   * same time. Asked in parallel, they meet and the plan comes back whole; asked one after another, the
   * first would wait alone and run out its 250 ms part timeout, and no plan would ever come back whole.
   */
  @Test
  void planAsksItsThreePartsInParallel() {
    Map<String, CyclicBarrier> barriers = new ConcurrentHashMap<>(); // one per plan, by its pickup
    AtomicInteger plans = new AtomicInteger();
    try (InProcessSkiff skiff = InProcessSkiff.create()) {
      skiff.start(Journey.ETA, b -> b.endpoint("estimate", EtaRequest.class, EtaResponse.class, (req, ctx) -> {
        meet(barriers.computeIfAbsent(req.getPickup(), k -> new CyclicBarrier(3)));
        return EtaResponse.newBuilder().setMinutes(7).build();
      }));
      skiff.start(Journey.FARE, b -> b.endpoint("quote", FareRequest.class, FareResponse.class, (req, ctx) -> {
        meet(barriers.computeIfAbsent(req.getPickup(), k -> new CyclicBarrier(3)));
        return FareResponse.newBuilder().setPence(1234).build();
      }));
      skiff.start(Journey.DRIVER, b -> b.endpoint("nearest", DriverRequest.class, DriverResponse.class, (req, ctx) -> {
        meet(barriers.computeIfAbsent(req.getPickup(), k -> new CyclicBarrier(3)));
        return DriverResponse.newBuilder().setName("Test driver").build();
      }));
      List<Server> journey = Journey.startAll(skiff.transport(), Settings.fromEnvironment(Map.of()), List.of("journey"));
      try {
        await("a plan whose three parts met").atMost(Duration.ofSeconds(60)).ignoreExceptions().untilAsserted(() -> {
          PlanRequest trip = TRIP.toBuilder().setPickup("King's Cross #" + plans.incrementAndGet()).build();
          PlanResponse plan = skiff.client().call(Journey.JOURNEY, "plan", trip, PlanResponse.class);
          assertThat(plan.getProblemsList()).as("every part answered within its timeout").isEmpty();
          assertThat(plan.getEtaMinutes()).isEqualTo(7);
          assertThat(plan.getFarePence()).isEqualTo(1234);
          assertThat(plan.getDriver()).isEqualTo("Test driver");
        });
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
        await("a whole plan").atMost(Duration.ofSeconds(60)).ignoreExceptions().untilAsserted(() -> {
          PlanResponse plan = skiff.client().call(Journey.JOURNEY, "plan", TRIP, PlanResponse.class);
          assertThat(plan.getProblemsList()).isEmpty();
          assertThat(plan.getEtaMinutes()).isBetween(2, 10);
          assertThat(plan.getFarePence()).isBetween(800L, 2790L);
          assertThat(plan.getDriver()).isIn("Ada", "Grace", "Linus", "Barbara", "Ken");
        });
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
        await("a plan with all but the missing part").atMost(Duration.ofSeconds(60)).ignoreExceptions().untilAsserted(() -> {
          PlanResponse plan = skiff.client().call(Journey.JOURNEY, "plan", TRIP, PlanResponse.class);
          assertThat(plan.getProblemsList()).singleElement().asString().startsWith("fare: NOT_FOUND");
          assertThat(plan.getDriver()).isNotEmpty();
          assertThat(plan.getEtaMinutes()).isPositive();
          assertThat(plan.getFarePence()).isZero();
        });
      } finally {
        servers.forEach(Server::close);
      }
    }
  }

  /**
   * {@code java -jar journey.jar fare bogus}: the names are checked before anything starts (here the broker
   * cannot be reached, so a process that got as far as connecting would wait for it): one usage line on
   * stderr, exit code 2, no stack trace.
   */
  @Test
  void mainRefusesAnUnknownServiceWithOneUsageLineAndExit2BeforeStartingAnything() throws Exception {
    ProcessBuilder pb = new ProcessBuilder(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp", System.getProperty("java.class.path"),
        Journey.class.getName(), "fare", "bogus");
    pb.environment().put("SKIFF_AMQP_URI", "amqp://guest:guest@127.0.0.1:1/");
    pb.redirectOutput(ProcessBuilder.Redirect.DISCARD);
    Process p = pb.start();
    try {
      String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("main ended; stderr: " + err).isTrue();
      assertThat(p.exitValue()).as("exit code; stderr: " + err).isEqualTo(2);
      assertThat(err.lines().toList()).as("stderr").singleElement().asString()
          .isEqualTo("journey: unknown service 'bogus' (choose from journey, eta, fare, driver); " + Journey.USAGE);
    } finally {
      p.destroyForcibly();
    }
  }

  @Test
  void startAllChecksEveryNameBeforeItStartsAny() {
    try (InProcessSkiff skiff = InProcessSkiff.create()) {
      assertThatThrownBy(() -> Journey.startAll(skiff.transport(), Settings.fromEnvironment(Map.of()), List.of("fare", "bogus")))
          .hasMessageContaining("unknown service 'bogus'");
      assertThatThrownBy(() -> Journey.startAll(skiff.transport(), Settings.fromEnvironment(Map.of()), List.of("fare", "fare")))
          .hasMessageContaining("'fare' is named twice");
      List<Server> fare = Journey.startAll(skiff.transport(), Settings.fromEnvironment(Map.of()), List.of("fare"));
      try {
        assertThat(fare).singleElement().extracting(Server::name).isEqualTo("com.example.fare");
      } finally {
        fare.forEach(Server::close);
      }
    }
  }
}
