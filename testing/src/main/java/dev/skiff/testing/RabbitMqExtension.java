package dev.skiff.testing;

import dev.skiff.platform.SkiffException;
import dev.skiff.platform.transport.amqp.AmqpOptions;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A real RabbitMQ broker for a test class. The broker is, in this order:
 *
 * <ol>
 *   <li>the one named by the environment variable {@code SKIFF_AMQP_URI} (it must answer, or the tests
 *       fail with an error naming it);
 *   <li>else, where a Docker engine runs and Testcontainers is on the test classpath, a RabbitMQ
 *       container started for the class and removed after it;
 *   <li>else none: the class's tests are skipped (aborted) with a message saying what to set.
 * </ol>
 *
 * <pre>{@code
 * class GreeterIT {
 *   @RegisterExtension static final RabbitMqExtension broker = RabbitMqExtension.create();
 *
 *   @Test void greets() {
 *     Server s = new Greeter().start(broker.transport());
 *     ...
 *   }
 * }
 * }</pre>
 *
 * <p>Register it in a static field. {@link #transport()} gives each test a connection that is closed
 * after the test.
 */
public final class RabbitMqExtension implements BeforeAllCallback, AfterAllCallback, AfterEachCallback {
  /** The RabbitMQ image the Docker path starts. */
  public static final String IMAGE = "rabbitmq:3.13-alpine";

  private final Map<String, String> env;
  private final DockerProbe docker;
  private String uri;
  private AutoCloseable container;
  private AmqpTransport transport;

  /** Decides whether a Docker engine can be used. */
  @FunctionalInterface
  interface DockerProbe {
    boolean available();
  }

  RabbitMqExtension(Map<String, String> env, DockerProbe docker) {
    this.env = Objects.requireNonNull(env, "env");
    this.docker = Objects.requireNonNull(docker, "docker");
  }

  /** @return an extension that reads this process's environment */
  public static RabbitMqExtension create() {
    return new RabbitMqExtension(System.getenv(), Containers::dockerAvailable);
  }

  @Override
  public void beforeAll(ExtensionContext context) {
    String named = env.get("SKIFF_AMQP_URI");
    if (named != null && !named.isBlank()) {
      uri = named.trim();
      try {
        AmqpTransport.connect(uri).close();
        return;
      } catch (SkiffException e) {
        throw new IllegalStateException(
            "SKIFF_AMQP_URI names " + AmqpOptions.redact(uri) + " but that broker cannot be reached: " + e.description(), e);
      }
    }
    boolean canUseDocker = docker.available();
    Assumptions.assumeTrue(
        canUseDocker,
        "no RabbitMQ for this test: set SKIFF_AMQP_URI (e.g. amqp://guest:guest@localhost:5672) or run a Docker engine");
    Containers.Started started = Containers.startRabbitMq(IMAGE);
    container = started.container();
    uri = started.uri();
  }

  @Override
  public void afterEach(ExtensionContext context) {
    if (transport != null) {
      transport.close();
      transport = null;
    }
  }

  @Override
  public void afterAll(ExtensionContext context) throws Exception {
    afterEach(context);
    if (container != null) {
      container.close();
      container = null;
    }
  }

  /** @return the broker's URI */
  public String amqpUri() {
    if (uri == null) {
      throw new IllegalStateException("the broker is not started: register the extension in a static field");
    }
    return uri;
  }

  /**
   * A connection for the current test, opened on first use and closed after the test. Service queues
   * it declares expire two minutes after their last consumer, so test runs leave nothing behind.
   *
   * @return the transport
   */
  public AmqpTransport transport() {
    if (transport == null) {
      transport = AmqpTransport.connect(AmqpOptions.of(amqpUri()).withServiceQueueExpiry(Duration.ofMinutes(2)));
    }
    return transport;
  }
}
