package dev.skiff.kernel.routing;

import com.google.protobuf.StringValue;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.RequestContext;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.server.ServerBuilder;
import dev.skiff.platform.transport.Transport;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import java.time.Duration;

/** A tiny echo service for the routing tests, and a main to run one in a child JVM (for kill -9). */
public final class TestServices {
  static final String URI = uri();

  private TestServices() {}

  static String uri() {
    String u = System.getenv("SKIFF_AMQP_URI");
    return u == null || u.isBlank() ? "amqp://guest:guest@127.0.0.1:5672" : u;
  }

  /** Runs inside the echo handler before it answers: may record the request, or throw to fail it. */
  @FunctionalInterface
  interface Hook {
    /** A hook that does nothing. */
    Hook NONE = (ctx, version, instance) -> { };

    /**
     * @param ctx the request's context (its request id is the same for every attempt of one call)
     * @param version the version of the instance that runs it
     * @param instance the instance that runs it
     */
    void onRequest(RequestContext ctx, String version, String instance);
  }

  static Server echo(Transport t, String service, String version, String instance, Duration heartbeat) {
    return echo(t, service, version, instance, heartbeat, Hook.NONE).build();
  }

  /**
   * An echo instance: endpoint {@code echo} (idempotent) answers {@code VERSION:TEXT} after running the
   * hook.
   *
   * @param heartbeat how often it announces itself, or null not to announce at all
   * @return the builder, to set more or to start
   */
  static ServerBuilder echo(Transport t, String service, String version, String instance, Duration heartbeat, Hook hook) {
    ServerBuilder b = Server.builder(service)
        .version(version)
        .instanceId(instance)
        .transport(t)
        .endpoint(Endpoint.of("echo", StringValue.class, StringValue.class,
            (req, ctx) -> {
              hook.onRequest(ctx, version, instance);
              return StringValue.of(version + ":" + req.getValue());
            }).asIdempotent());
    return heartbeat == null ? b.announce(false) : b.heartbeat(heartbeat);
  }

  /**
   * Runs one echo instance until killed; prints READY once it serves.
   *
   * @param args service, version, instance, heartbeat in ms
   * @throws InterruptedException never, in practice
   */
  public static void main(String[] args) throws InterruptedException {
    AmqpTransport t = AmqpTransport.connect(URI);
    echo(t, args[0], args[1], args[2], Duration.ofMillis(Long.parseLong(args[3]))).start();
    System.out.println("READY");
    System.out.flush();
    Thread.sleep(Long.MAX_VALUE);
  }
}
