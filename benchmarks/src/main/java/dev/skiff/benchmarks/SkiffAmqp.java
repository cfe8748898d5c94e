package dev.skiff.benchmarks;

import dev.skiff.benchmarks.proto.Echo;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.transport.amqp.AmqpOptions;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Skiff over RabbitMQ: an echo Server and a Client, each on its own AmqpTransport (its own connection,
 * as when they run in different processes), all with default settings.
 */
@State(Scope.Benchmark)
public class SkiffAmqp {
  /** The transport's reply mode: the default, or DIRECT_REPLY_TO to compare ({@code -p replyMode=...}). */
  @Param({"REPLY_QUEUE"})
  public String replyMode;

  Client client;
  private AmqpTransport serverTransport;
  private AmqpTransport clientTransport;
  private Server server;

  /** Starts the server and the client and makes one call. */
  @Setup(Level.Trial)
  public void start() {
    AmqpOptions options = AmqpOptions.of(Bench.brokerUri()).withReplyMode(AmqpOptions.ReplyMode.valueOf(replyMode));
    serverTransport = AmqpTransport.connect(options.withConnectionName("bench-skiff-server"));
    clientTransport = AmqpTransport.connect(options.withConnectionName("bench-skiff-client"));
    server =
        Server.builder(Bench.SERVICE)
            .transport(serverTransport)
            .endpoint(Bench.ENDPOINT, Echo.class, Echo.class, (request, ctx) -> request)
            .build()
            .start();
    client = Client.builder().transport(clientTransport).name("bench.caller").build();
    Bench.checkEcho(client.call(Bench.SERVICE, Bench.ENDPOINT, Bench.PAYLOAD, Echo.class), "skiff over amqp");
  }

  /** Closes everything. */
  @TearDown(Level.Trial)
  public void stop() {
    client.close();
    server.close();
    clientTransport.close();
    serverTransport.close();
  }
}
