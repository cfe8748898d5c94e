package dev.skiff.benchmarks;

import com.codahale.metrics.MetricRegistry;
import dev.skiff.kernel.login.LoginService;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.security.LoginTokenVerifier;
import dev.skiff.platform.security.TokenRejectedException;
import dev.skiff.platform.security.UserIdentity;
import dev.skiff.platform.transport.amqp.AmqpOptions;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import dev.skiff.proto.v1.KeysRequest;
import dev.skiff.proto.v1.KeysResponse;
import dev.skiff.proto.v1.RevocationsRequest;
import dev.skiff.proto.v1.RevocationsResponse;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Diagnostics for the identity checks: what a server's token verifier ({@link LoginTokenVerifier}, as
 * every server builds it) costs per call for a token it has seen before, without the broker. The token
 * is a real one from a login service in this JVM ({@link BenchLogin}); each operation decodes it from
 * bytes into a new String, as a server does with every request's header (so its hash is not cached), and
 * {@link #decodeOnly} is that decoding alone. Run with {@code -t 16} for 16 threads at once, as a
 * server's handler pool calls it.
 */
@Warmup(iterations = 5, time = 2)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class TokenCheckBenchmark extends Measured {

  /** A verifier that has seen the token once, and the token's bytes. */
  @State(Scope.Benchmark)
  public static class Tokens {
    private BenchLogin login;
    private AmqpTransport transport;
    private Client client;
    private final MetricRegistry metrics = new MetricRegistry();
    LoginTokenVerifier verifier;
    byte[] token;

    /** Starts the login service, signs in and verifies the token once. */
    @Setup(Level.Trial)
    public void start() throws TokenRejectedException {
      login = BenchLogin.start(Bench.brokerUri());
      transport = AmqpTransport.connect(AmqpOptions.of(Bench.brokerUri()).withConnectionName("bench-tokens"));
      client = Client.builder().transport(transport).name("bench.tokens").build();
      verifier = LoginTokenVerifier.builder().transport(transport).metrics(metrics).source(new LoginTokenVerifier.Source() {
        @Override
        public CompletableFuture<String> keys() {
          return client.callAsync(LoginService.SERVICE, "keys", KeysRequest.getDefaultInstance(), KeysResponse.class)
              .thenApply(KeysResponse::getJwksJson);
        }

        @Override
        public CompletableFuture<RevocationsResponse> revocations(long sinceMillis) {
          return client.callAsync(LoginService.SERVICE, "revocations", RevocationsRequest.newBuilder().setSinceMs(sinceMillis).build(),
              RevocationsResponse.class);
        }
      }).build();
      token = login.token().getBytes(StandardCharsets.UTF_8);
      verifier.verify(login.token());
    }

    /** Prints the verifier's counts and closes everything. */
    @TearDown(Level.Trial)
    public void stop() {
      System.err.printf("token checks: %d signature checks, %d cache hits (token of %d bytes)%n",
          metrics.counter("skiff.tokens.verified").getCount(), metrics.counter("skiff.tokens.cache-hits").getCount(), token.length);
      verifier.close();
      client.close();
      transport.close();
      login.close();
    }
  }

  /**
   * The token decoded from bytes, as each request's header is.
   *
   * @param t the token
   * @return its hash (computed, as a cache lookup computes it)
   */
  @Benchmark
  public int decodeOnly(Tokens t) {
    return new String(t.token, StandardCharsets.UTF_8).hashCode();
  }

  /**
   * The token decoded and verified: a cache hit and the revocation check.
   *
   * @param t the token and the verifier
   * @return the person
   * @throws TokenRejectedException never, the token being good
   */
  @Benchmark
  public UserIdentity verifyCached(Tokens t) throws TokenRejectedException {
    return t.verifier.verify(new String(t.token, StandardCharsets.UTF_8));
  }
}
