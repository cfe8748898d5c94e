package dev.skiff.cli;

import dev.skiff.kernel.Kernel;
import dev.skiff.kernel.KernelService;
import dev.skiff.platform.config.Settings;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Kernel services in this JVM for a test class, on a connection of their own to the tests' broker
 * ({@link EchoService#brokerUri()}): started before the class's {@code @BeforeAll} methods, closed after
 * its {@code @AfterAll} methods. Register it in a static field:
 *
 * <pre>{@code
 * @RegisterExtension static final TestKernel kernel = new TestKernel(() -> List.of(new MonitoringService()));
 * }</pre>
 */
final class TestKernel implements BeforeAllCallback, AfterAllCallback {
  private final Supplier<List<KernelService>> services;
  private AmqpTransport transport;
  private Kernel kernel;

  /** @param services makes the services to run, when the class starts */
  TestKernel(Supplier<List<KernelService>> services) {
    this.services = services;
  }

  @Override
  public void beforeAll(ExtensionContext context) {
    transport = AmqpTransport.connect(EchoService.brokerUri());
    kernel = Kernel.start(transport, Settings.fromEnvironment(Map.of()), services.get(), 0);
  }

  @Override
  public void afterAll(ExtensionContext context) {
    if (kernel != null) {
      kernel.close();
    }
    if (transport != null) {
      transport.close();
    }
  }

  /** @return the kernel's connection, for servers the test runs beside it */
  AmqpTransport transport() {
    return transport;
  }
}
