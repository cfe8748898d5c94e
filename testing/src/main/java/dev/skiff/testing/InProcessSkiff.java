package dev.skiff.testing;

import dev.skiff.platform.client.Client;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.server.ServerBuilder;
import dev.skiff.platform.server.SkiffService;
import dev.skiff.platform.transport.inprocess.InProcessTransport;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Services and a client wired together in memory, for unit tests of a service's own endpoints: no
 * broker, same Server and Client API, same encoding, deadlines and errors. A test runs in milliseconds.
 *
 * <pre>{@code
 * try (InProcessSkiff skiff = InProcessSkiff.create()) {
 *   skiff.start(new Greeter());
 *   HelloResponse r = skiff.client().call("com.example.greeter", "hello", request, HelloResponse.class);
 * }
 * }</pre>
 *
 * <p>Not thread-safe to start servers from several threads at once; the client is thread-safe.
 * {@link #close()} stops every server it started.
 */
public final class InProcessSkiff implements AutoCloseable {
  private final InProcessTransport transport = InProcessTransport.create();
  private final Client client = Client.builder().transport(transport).name("test").build();
  private final List<Server> servers = new ArrayList<>();

  private InProcessSkiff() {}

  /** @return a new, empty in-process pair */
  public static InProcessSkiff create() {
    return new InProcessSkiff();
  }

  /**
   * Starts a service written as a {@link SkiffService} subclass.
   *
   * @param service the service
   * @return its running server
   */
  public Server start(SkiffService service) {
    Server s = service.start(transport);
    servers.add(s);
    return s;
  }

  /**
   * Starts a service built with {@link Server#builder(String)}.
   *
   * @param name the service's name
   * @param configure registers endpoints and settings on the builder
   * @return its running server
   */
  public Server start(String name, Consumer<ServerBuilder> configure) {
    ServerBuilder b = Server.builder(name).transport(transport);
    configure.accept(b);
    Server s = b.build().start();
    servers.add(s);
    return s;
  }

  /** @return a client that reaches the services started here */
  public Client client() {
    return client;
  }

  /** @return the transport, for building servers or clients by hand */
  public InProcessTransport transport() {
    return transport;
  }

  @Override
  public void close() {
    for (int i = servers.size() - 1; i >= 0; i--) {
      servers.get(i).close();
    }
    servers.clear();
    client.close();
    transport.close();
  }
}
