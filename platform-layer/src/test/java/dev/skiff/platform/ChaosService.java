package dev.skiff.platform;

import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.testproto.EchoRequest;
import dev.skiff.platform.testproto.EchoResponse;
import dev.skiff.platform.transport.amqp.AmqpOptions;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import java.io.BufferedReader;
import java.io.FileWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * One instance of the chaos test's service, run in its own JVM so that it can be killed with SIGKILL.
 * Endpoint {@code idem} is idempotent; {@code once} is not, and writes the request id of every run to a
 * log file before it works, so the test can prove no request ran twice.
 *
 * <p>Arguments: broker URI, service name, instance id, run log file.
 */
public final class ChaosService {
  private ChaosService() {}

  /**
   * Starts an instance in a JVM of its own and waits until it serves.
   *
   * @param uri the broker
   * @param service the service
   * @param instance the instance id
   * @param runLog where it writes the request id of each run of {@code once}
   * @return its process
   * @throws IOException when it cannot be started
   * @throws IllegalStateException when it does not say it is ready within 30 s
   */
  static Process launch(String uri, String service, String instance, Path runLog) throws IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process p =
        new ProcessBuilder(java, "-Xmx128m", "-cp", System.getProperty("java.class.path"), ChaosService.class.getName(),
                uri, service, instance, runLog.toString())
            .redirectErrorStream(true)
            .start();
    BufferedReader out =
        new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    String line;
    while ((line = out.readLine()) != null && System.nanoTime() < until) {
      if (line.startsWith("READY")) {
        Thread drain = new Thread(() -> out.lines().forEach(l -> { }), "drain-" + instance);
        drain.setDaemon(true);
        drain.start();
        return p;
      }
    }
    p.destroyForcibly();
    throw new IllegalStateException("instance " + instance + " did not start");
  }

  /**
   * Starts three instances, {@code i0} to {@code i2}, each writing its run log into {@code dir}.
   *
   * @param uri the broker
   * @param service the service
   * @param dir where the run logs go ({@link #runsByRequestId} reads them)
   * @return their processes
   * @throws IOException when one cannot be started
   */
  static List<Process> launchThree(String uri, String service, Path dir) throws IOException {
    List<Process> started = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      started.add(launch(uri, service, "i" + i, runLog(dir, i)));
    }
    return started;
  }

  private static Path runLog(Path dir, int instance) {
    return dir.resolve("runs-" + instance + ".log");
  }

  /**
   * How many times each request id ran on endpoint {@code once}, across the run logs of the instances
   * {@link #launchThree} started.
   *
   * @param dir the folder given to {@link #launchThree}
   * @return runs by request id
   * @throws IOException when a log cannot be read
   */
  static Map<String, Integer> runsByRequestId(Path dir) throws IOException {
    Map<String, Integer> ranTimes = new HashMap<>();
    for (int i = 0; i < 3; i++) {
      Path log = runLog(dir, i);
      if (Files.exists(log)) {
        for (String id : Files.readAllLines(log)) {
          if (!id.isBlank()) {
            ranTimes.merge(id, 1, Integer::sum);
          }
        }
      }
    }
    return ranTimes;
  }

  public static void main(String[] args) throws Exception {
    String uri = args[0];
    String service = args[1];
    String instance = args[2];
    Writer runLog = new FileWriter(args[3], StandardCharsets.UTF_8, true);
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
