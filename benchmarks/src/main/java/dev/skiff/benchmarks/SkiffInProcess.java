package dev.skiff.benchmarks;

import dev.skiff.benchmarks.proto.Echo;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.transport.inprocess.InProcessTransport;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/** Skiff with no broker: the same echo Server and a Client sharing one InProcessTransport. */
@State(Scope.Benchmark)
public class SkiffInProcess {
  Client client;
  private InProcessTransport transport;
  private Server server;

  /** Starts the server and the client and makes one call. */
  @Setup(Level.Trial)
  public void start() {
    transport = InProcessTransport.create();
    server =
        Server.builder(Bench.SERVICE)
            .transport(transport)
            .endpoint(Bench.ENDPOINT, Echo.class, Echo.class, (request, ctx) -> request)
            .build()
            .start();
    client = Client.builder().transport(transport).name("bench.caller").build();
    Bench.checkEcho(client.call(Bench.SERVICE, Bench.ENDPOINT, Bench.PAYLOAD, Echo.class), "skiff in-process");
  }

  /** Closes everything. */
  @TearDown(Level.Trial)
  public void stop() {
    client.close();
    server.close();
    transport.close();
  }
}
