package dev.skiff.kernel;

import dev.skiff.platform.client.CallScope;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.config.Settings;
import dev.skiff.platform.internal.Closer;
import dev.skiff.platform.security.ServiceIdentities;
import dev.skiff.platform.transport.Transport;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import java.util.List;
import java.util.Map;

/**
 * What the kernel services' test fixtures share: kernels started on the test broker, a tool's client, and
 * everything opened, closed at the end in reverse order.
 */
public abstract class KernelFixture implements AutoCloseable {
  /** The test broker's URI. */
  protected final String uri;
  /** What this fixture opened. */
  protected final Closer toClose = new Closer();
  private Client client;

  /** @param uri the test broker's URI */
  protected KernelFixture(String uri) {
    this.uri = uri;
  }

  /**
   * Starts a kernel on a connection of its own, without pages, with the default identities.
   *
   * @param service the service it runs
   * @return the kernel, closed with the fixture
   */
  protected Kernel startKernel(KernelService service) {
    Transport t = toClose.register(AmqpTransport.connect(uri));
    return toClose.register(Kernel.start(t, Settings.fromEnvironment(Map.of()), ServiceIdentities.defaults(), List.of(service), 0));
  }

  /** @return the client of a tool, on its own connection */
  public Client client() {
    if (client == null) {
      client = toClose.register(Client.builder().transport(AmqpTransport.connect(uri)).ownTransport().build());
    }
    return client;
  }

  /**
   * @param token a session token
   * @return the tool's client calling as that session's user
   */
  public Client as(String token) {
    return client().withScope(CallScope.forUser(token));
  }

  @Override
  public void close() {
    toClose.close();
  }
}
