package dev.skiff.kernel.routing;

import com.google.protobuf.StringValue;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.Server;
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

  static Server echo(Transport t, String service, String version, String instance, Duration heartbeat) {
    return Server.builder(service)
        .version(version)
        .instanceId(instance)
        .heartbeat(heartbeat)
        .transport(t)
        .endpoint(Endpoint.of("echo", StringValue.class, StringValue.class,
            (req, ctx) -> StringValue.of(version + ":" + req.getValue())).asIdempotent())
        .build();
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
