package dev.skiff.benchmarks;

import java.io.IOException;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Diagnostic baselines (not targets): the raw request/reply of {@link RawConfirms} with one part of what
 * Skiff does added, to attribute Skiff's overhead. {@code skiffProperties}: requests and replies carry
 * Skiff's AMQP properties (request: request id, endpoint, packed {@code app_id}, per-message TTL,
 * user_id; reply: packed {@code app_id}); {@code skiffHeaders}: only the ids, endpoint and
 * {@code app_id}s (the name is from when they were headers); {@code ttlAndUserId}: only the request's
 * per-message TTL ({@code expiration}) and {@code user_id}.
 * {@code handlerPool}: the server hands each request to a 16-thread pool, as a Skiff server does.
 * {@code both}: the two together.
 */
@State(Scope.Benchmark)
public class RawDiagnostic {
  /**
   * Which of Skiff's pieces is added (also {@code skiffHeaders}, {@code ttlAndUserId}, {@code ttl},
   * {@code userId}: {@code -p variant=...}).
   */
  @Param({"skiffProperties", "handlerPool", "both"})
  public String variant;

  RawRpc.Client client;
  private RawRpc.Server server;

  /**
   * Starts the server and the client and makes one call.
   *
   * @throws Exception when the broker cannot be reached or the call fails
   */
  @Setup(Level.Trial)
  public void start() throws Exception {
    boolean all = variant.equals("skiffProperties") || variant.equals("both");
    boolean headers = all || variant.equals("skiffHeaders");
    boolean ttlAndUser = all || variant.equals("ttlAndUserId");
    boolean pool = variant.equals("handlerPool") || variant.equals("both");
    boolean ttl = variant.equals("ttl");
    boolean user = variant.equals("userId");
    if (!all && !headers && !ttlAndUser && !pool && !ttl && !user) {
      throw new IllegalArgumentException("unknown variant " + variant);
    }
    server = new RawRpc.Server(Bench.brokerUri(), RawRpc.QUEUE, headers, pool);
    client = new RawRpc.Client(Bench.brokerUri(), RawRpc.QUEUE, true, headers, ttlAndUser || ttl, ttlAndUser || user);
    RawConfirms.smoke(client, "raw amqp-client (" + variant + ")");
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
