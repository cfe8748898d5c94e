package dev.skiff.platform;

import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.testproto.EchoRequest;
import dev.skiff.platform.testproto.EchoResponse;
import dev.skiff.platform.transport.amqp.AmqpOptions;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import java.io.FileWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.time.Duration;

/**
 * One instance of the chaos test's service, run in its own JVM so that it can be killed with SIGKILL.
 * Endpoint {@code idem} is idempotent; {@code once} is not, and writes the request id of every run to a
 * log file before it works, so the test can prove no request ran twice.
 *
 * <p>Arguments: broker URI, service name, instance id, run log file.
 */
public final class ChaosService {
  private ChaosService() {}

  public static void main(String[] args) throws Exception {
    String uri = args[0];
    String service = args[1];
    String instance = args[2];
    Writer runLog = new FileWriter(args[3], java.nio.charset.StandardCharsets.UTF_8, true);
    AmqpTransport transport =
        AmqpTransport.connect(AmqpOptions.of(uri).withServiceQueueExpiry(Duration.ofMinutes(2)));
    Server server =
        Server.builder(service)
            .instanceId(instance)
            .transport(transport)
            .concurrency(8)
            .endpoint(Endpoint.of("idem", EchoRequest.class, EchoResponse.class, (req, ctx) -> work(req, instance)).asIdempotent())
            .endpoint(Endpoint.of("once", EchoRequest.class, EchoResponse.class, (req, ctx) -> {
              synchronized (runLog) {
                try {
                  runLog.write(ctx.requestId() + "\n");
                  runLog.flush();
                } catch (IOException e) {
                  throw new UncheckedIOException(e);
                }
              }
              return work(req, instance);
            }))
            .build()
            .start();
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      server.close();
      transport.close();
    }, "chaos-shutdown"));
    System.out.println("READY " + instance);
    System.out.flush();
    server.awaitTermination();
  }

  private static EchoResponse work(EchoRequest req, String instance) {
    try {
      Thread.sleep(req.getSleepMs());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return EchoResponse.newBuilder().setText(instance).build();
  }
}
