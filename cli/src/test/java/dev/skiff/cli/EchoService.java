package dev.skiff.cli;

import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.testproto.EchoRequest;
import dev.skiff.platform.testproto.EchoResponse;
import dev.skiff.platform.transport.amqp.AmqpOptions;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real service for the tests to call: instances of a uniquely named echo service on the real broker.
 *
 * <p>Endpoints: {@code echo} answers with the request's text and the instance that handled it, after
 * waiting until the test releases the key in {@code hold} (60 s at most) and sleeping {@code sleep_ms},
 * or fails with the error code named in {@code fail}; {@code flaky} answers
 * like echo except that of the calls it gets, every 4th fails CONFLICT and every 4th, offset by two,
 * fails CAPACITY.
 */
final class EchoService implements AutoCloseable {
  /** The broker of the tests: SKIFF_AMQP_URI, else the platform default. */
  static String brokerUri() {
    String env = System.getenv("SKIFF_AMQP_URI");
    return env == null || env.isBlank() ? AmqpOptions.DEFAULT_URI : env.trim();
  }

  /**
   * The tests' broker with another virtual host.
   *
   * @param vhost the virtual host
   * @return the URI
   */
  static String brokerUriWithVhost(String vhost) {
    URI u = URI.create(brokerUri());
    return u.getScheme() + "://" + (u.getRawUserInfo() == null ? "" : u.getRawUserInfo() + "@") + u.getHost()
        + (u.getPort() < 0 ? "" : ":" + u.getPort()) + "/" + vhost;
  }

  /** @return an environment for {@link SkiffCli#run} that points at the tests' broker */
  static Map<String, String> env() {
    return Map.of("SKIFF_AMQP_URI", brokerUri(), "SKIFF_TOKEN_FILE", SESSION.toString());
  }

  /** The session file of the tests' skiff runs: this JVM's own, so that no test sees a developer's session. */
  static final Path SESSION = sessionFile();

  private static Path sessionFile() {
    try {
      Path dir = Files.createTempDirectory("skiff-cli-test");
      dir.toFile().deleteOnExit();
      return dir.resolve("token");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  final String name = "test.cli." + randomHex(4);
  final AtomicInteger flakyCalls = new AtomicInteger();
  private final Map<String, CountDownLatch> holds = new ConcurrentHashMap<>();
  private final AmqpTransport transport;
  private final List<Server> servers = new ArrayList<>();
  private final List<String> instances = new ArrayList<>();

  /** Instances on the tests' broker ({@link #brokerUri()}). */
  EchoService() {
    this(brokerUri());
  }

  /** @param broker the broker (and virtual host) the instances serve on */
  EchoService(String broker) {
    transport =
        AmqpTransport.connect(
            AmqpOptions.of(broker)
                .withConnectionName("skiff-cli-test")
                .withServiceQueueExpiry(Duration.ofMinutes(2)));
  }

  /**
   * A service of two instances on the tests' broker: {@link #instanceA()} of version {@code versionA},
   * {@link #instanceB()} of version {@code versionB}.
   *
   * @param versionA the first instance's version
   * @param versionB the second instance's version
   * @return the service, serving
   */
  static EchoService twoVersions(String versionA, String versionB) {
    EchoService s = new EchoService();
    s.start(versionA, "a" + randomHex(4));
    s.start(versionB, "b" + randomHex(4));
    return s;
  }

  /** @return the id of the first instance started */
  String instanceA() {
    return instances.get(0);
  }

  /** @return the id of the second instance started */
  String instanceB() {
    return instances.get(1);
  }

  static String randomHex(int bytes) {
    byte[] b = new byte[bytes];
    ThreadLocalRandom.current().nextBytes(b);
    return HexFormat.of().formatHex(b);
  }

  /**
   * Starts an instance.
   *
   * @param version the version it reports
   * @param instanceId its id
   * @return the running server
   */
  Server start(String version, String instanceId) {
    Server s =
        Server.builder(name)
            .version(version)
            .instanceId(instanceId)
            .transport(transport)
            .drainGrace(Duration.ofMillis(500))
            .endpoint("echo", EchoRequest.class, EchoResponse.class, (req, ctx) -> echo(req, instanceId))
            .endpoint(
                "flaky",
                EchoRequest.class,
                EchoResponse.class,
                (req, ctx) -> {
                  int n = flakyCalls.incrementAndGet();
                  if (n % 4 == 0) {
                    throw new SkiffException(ErrorCode.CONFLICT, "flaky call " + n + " conflicts");
                  }
                  if (n % 4 == 2) {
                    throw new SkiffException(ErrorCode.CAPACITY, "flaky call " + n + " is over capacity");
                  }
                  return echo(req, instanceId);
                })
            .build()
            .start();
    servers.add(s);
    instances.add(instanceId);
    return s;
  }

  private CountDownLatch hold(String key) {
    return holds.computeIfAbsent(key, k -> new CountDownLatch(1));
  }

  /**
   * Lets every request that holds on {@code key} (field {@code hold}) go on, now and later.
   *
   * @param key the key
   */
  void release(String key) {
    hold(key).countDown();
  }

  private EchoResponse echo(EchoRequest req, String instanceId) {
    if (!req.getHold().isEmpty()) {
      try {
        hold(req.getHold()).await(60, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (req.getSleepMs() > 0) {
      try {
        Thread.sleep(req.getSleepMs());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (!req.getFail().isEmpty()) {
      throw new SkiffException(ErrorCode.valueOf(req.getFail()), "asked to fail with " + req.getFail());
    }
    return EchoResponse.newBuilder().setText(req.getText()).setInstance(instanceId).build();
  }

  @Override
  public void close() {
    for (Server s : servers) {
      s.close();
    }
    transport.close();
  }
}
