package com.example.journey;

import com.example.journey.proto.DriverRequest;
import com.example.journey.proto.DriverResponse;
import com.example.journey.proto.EtaRequest;
import com.example.journey.proto.EtaResponse;
import com.example.journey.proto.FareRequest;
import com.example.journey.proto.FareResponse;
import com.example.journey.proto.PlanRequest;
import com.example.journey.proto.PlanResponse;
import com.google.protobuf.Message;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.client.FanOut;
import dev.skiff.platform.config.Settings;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.server.SkiffService;
import dev.skiff.platform.server.ServerBuilder;
import dev.skiff.platform.server.RequestContext;
import dev.skiff.platform.transport.Transport;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/**
 * A service that calls three others in parallel and combines their answers, written with
 * {@link Server#builder(String)} (the other way to write a service; see the greeter for subclassing).
 *
 * <p>{@code com.example.journey/plan} asks {@code com.example.eta/estimate},
 * {@code com.example.fare/quote} and {@code com.example.driver/nearest} at once, each taking about
 * 50 ms, so a plan takes about 50 ms, not 150. A part that fails is reported in {@code problems}; the
 * rest of the plan still comes back.
 *
 * <p>Run all four: {@code java -jar examples/journey/target/journey.jar}; or some of them:
 * {@code java -jar journey.jar eta fare}.
 */
public final class Journey {
  public static final String JOURNEY = "com.example.journey";
  public static final String ETA = "com.example.eta";
  public static final String FARE = "com.example.fare";
  public static final String DRIVER = "com.example.driver";

  /** How long each backend pretends to work. */
  static final Duration SIMULATED_WORK = Duration.ofMillis(50);

  /**
   * How long a plan waits for each part. Shorter than a plan's own budget, so that a missing part still
   * leaves time to answer with the others (a nested call never outlives the plan's deadline anyway).
   */
  static final CallOptions PART = CallOptions.timeout(Duration.ofMillis(250));

  private static final String[] DRIVERS = {"Ada", "Grace", "Linus", "Barbara", "Ken"};

  private Journey() {}

  /** @return the journey service: plans a trip from its three parts, fetched in parallel */
  public static ServerBuilder journey() {
    return Server.builder(JOURNEY)
        .version("1.0.0")
        .description("Plans a trip: ETA, fare and driver, fetched in parallel")
        .endpoint("plan", PlanRequest.class, PlanResponse.class, Journey::plan);
  }

  static PlanResponse plan(PlanRequest req, RequestContext ctx) {
    if (req.getPickup().isBlank()) {
      throw new SkiffException(ErrorCode.BAD_REQUEST, "pickup is required");
    }
    FanOut fan = ctx.client().fanOut(3);
    FanOut.Pending<EtaResponse> eta =
        fan.call(ETA, "estimate", EtaRequest.newBuilder().setPickup(req.getPickup()).build(), EtaResponse.class, PART);
    FanOut.Pending<FareResponse> fare =
        fan.call(FARE, "quote",
            FareRequest.newBuilder().setPickup(req.getPickup()).setDropoff(req.getDropoff()).build(), FareResponse.class, PART);
    FanOut.Pending<DriverResponse> driver =
        fan.call(DRIVER, "nearest", DriverRequest.newBuilder().setPickup(req.getPickup()).build(), DriverResponse.class, PART);
    fan.awaitAll();

    PlanResponse.Builder out = PlanResponse.newBuilder();
    List<String> problems = new ArrayList<>();
    part("eta", eta, problems).ifPresent(r -> out.setEtaMinutes(r.getMinutes()));
    part("fare", fare, problems).ifPresent(r -> out.setFarePence(r.getPence()));
    part("driver", driver, problems).ifPresent(r -> out.setDriver(r.getName()));
    if (problems.size() == 3) {
      throw new SkiffException(ErrorCode.UNAVAILABLE, "no part of the plan could be had: " + String.join("; ", problems));
    }
    return out.addAllProblems(problems).build();
  }

  private static <R> Optional<R> part(String what, FanOut.Pending<R> call, List<String> problems) {
    Optional<SkiffException> error = call.error();
    if (error.isPresent()) {
      problems.add(what + ": " + error.get().code() + ": " + error.get().description());
      return Optional.empty();
    }
    return Optional.of(call.get());
  }

  /** @return the ETA service */
  public static ServerBuilder eta() {
    return backend(ETA, "Minutes until a car can reach a pickup", "estimate", EtaRequest.class, EtaResponse.class,
        req -> EtaResponse.newBuilder().setMinutes(2 + Math.floorMod(req.getPickup().hashCode(), 9)).build());
  }

  /** @return the fare service */
  public static ServerBuilder fare() {
    return backend(FARE, "Quotes a fare between two places", "quote", FareRequest.class, FareResponse.class,
        req -> FareResponse.newBuilder()
            .setPence(800 + 10L * Math.floorMod((req.getPickup() + req.getDropoff()).hashCode(), 200))
            .build());
  }

  /** @return the driver service */
  public static ServerBuilder driver() {
    return backend(DRIVER, "Finds the nearest free driver", "nearest", DriverRequest.class, DriverResponse.class,
        req -> DriverResponse.newBuilder()
            .setName(DRIVERS[Math.floorMod(req.getPickup().hashCode(), DRIVERS.length)])
            .build());
  }

  /** A backend of the journey service: version 1.0.0, one endpoint, whose every answer takes {@link #SIMULATED_WORK}. */
  private static <Q extends Message, R extends Message> ServerBuilder backend(
      String service, String description, String endpoint, Class<Q> request, Class<R> response, Function<Q, R> answer) {
    return Server.builder(service)
        .version("1.0.0")
        .description(description)
        .endpoint(endpoint, request, response, (req, ctx) -> {
          work();
          return answer.apply(req);
        });
  }

  private static void work() {
    try {
      Thread.sleep(SIMULATED_WORK.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new SkiffException(ErrorCode.UNAVAILABLE, "interrupted");
    }
  }

  /**
   * Starts the four services (or those named) on one transport.
   *
   * @param transport the transport
   * @param settings the environment's settings
   * @param which service short names: journey, eta, fare, driver; empty for all
   * @return the running servers
   */
  public static List<Server> startAll(Transport transport, Settings settings, List<String> which) {
    List<Server> started = new ArrayList<>();
    for (String n : services(which)) {
      ServerBuilder b =
          switch (n) {
            case "journey" -> journey();
            case "eta" -> eta();
            case "fare" -> fare();
            default -> driver();
          };
      started.add(b.settings(settings).transport(transport).build().start());
    }
    return started;
  }

  /** The short names of the services this process can run, in the order they start. */
  static final List<String> SERVICES = List.of("eta", "fare", "driver", "journey");

  /** The one line {@link #main} prints when it is given what it does not run. */
  static final String USAGE = "usage: java -jar journey.jar [journey] [eta] [fare] [driver]   (none: all four)";

  /**
   * The services to start, every name checked before any is started.
   *
   * @param which short names; empty for all
   * @return the names, in the order given (all four when none)
   * @throws IllegalArgumentException naming the first unknown or repeated name
   */
  static List<String> services(List<String> which) {
    if (which.isEmpty()) {
      return SERVICES;
    }
    for (int i = 0; i < which.size(); i++) {
      String n = which.get(i);
      if (!SERVICES.contains(n)) {
        throw new IllegalArgumentException("unknown service '" + n + "' (choose from journey, eta, fare, driver)");
      }
      if (which.subList(0, i).contains(n)) {
        throw new IllegalArgumentException("service '" + n + "' is named twice");
      }
    }
    return List.copyOf(which);
  }

  /**
   * Runs the four services, or those named, until SIGTERM or SIGINT. A name it does not run ends it before
   * it starts anything: one line on stderr and exit code 2.
   *
   * @param args the short names of the services to run; none for all
   * @throws InterruptedException if interrupted while serving
   */
  public static void main(String[] args) throws InterruptedException {
    List<String> which;
    try {
      which = services(List.of(args));
    } catch (IllegalArgumentException e) {
      System.err.println("journey: " + e.getMessage() + "; " + USAGE);
      System.exit(2);
      return;
    }
    Settings settings = Settings.fromEnvironment();
    AmqpTransport transport = SkiffService.connectOrExit("journey", settings);
    List<Server> servers = startAll(transport, settings, which);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      servers.forEach(Server::close);
      transport.close();
    }, "journey-shutdown"));
    for (Server s : servers) {
      s.awaitTermination();
    }
  }
}
