package dev.skiff.benchmarks;

import java.io.IOException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/** The baseline as Skiff publishes: raw amqp-client request/reply with publisher confirms and mandatory. */
@State(Scope.Benchmark)
public class RawConfirms {
  RawRpc.Client client;
  private RawRpc.Server server;

  /**
   * Starts the server and the client and makes one call.
   *
   * @throws Exception when the broker cannot be reached or the call fails
   */
  @Setup(Level.Trial)
  public void start() throws Exception {
    server = new RawRpc.Server(Bench.brokerUri());
    client = new RawRpc.Client(Bench.brokerUri(), confirms());
    smoke(client, "raw amqp-client");
  }

  boolean confirms() {
    return true;
  }

  static void smoke(RawRpc.Client client, String who)
      throws InterruptedException, ExecutionException, TimeoutException {
    Bench.checkEcho(client.call(Bench.PAYLOAD).get(5, TimeUnit.SECONDS), who);
  }

  /**
   * Closes everything.
   *
   * @throws IOException when closing fails
   */
  @TearDown(Level.Trial)
  public void stop() throws IOException {
    client.close();
    server.close();
  }
}
