package ${package};

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ${package}.api.HelloRequest;
import ${package}.api.HelloResponse;
#if( $cassandra == "true" )
import com.codahale.metrics.MetricRegistry;
#end
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
#if( $calling == "true" )
import dev.skiff.platform.client.CallOptions;
#end
#if( $cassandra == "true" )
import dev.skiff.platform.config.LayeredConfig;
#end
import dev.skiff.platform.health.HealthCheck;
import dev.skiff.platform.server.Server;
import dev.skiff.testing.InProcessSkiff;
#if( $calling == "true" )
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
#end
#if( $cassandra == "true" )
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
#end
import org.junit.jupiter.api.Test;

/**
#if( $cassandra == "true" )
 * ${className} in process (no broker), on the real Cassandra named by {@code SKIFF_CASSANDRA_HOSTS}, in
 * a keyspace of the test run's own.
#else
 * ${className} in process: the same server and client as in production, no broker, milliseconds.
#end
 */
class ${className}Test {
#if( $cassandra == "true" )
  static final String KEYSPACE = "${artifactId}_test_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
  static LayeredConfig config;
  static ${className} service;

  /** A store that is not configured fails the class: these tests prove nothing without it. */
  @BeforeAll
  static void connect() {
    assertThat(System.getenv("SKIFF_CASSANDRA_HOSTS")).as("SKIFF_CASSANDRA_HOSTS (where Cassandra runs, e.g. 127.0.0.1:9042)").isNotBlank();
    config = LayeredConfig.builder().defaults(Map.of("cassandra.keyspace", KEYSPACE)).build();
    service = new ${className}(config, new MetricRegistry()).open();
  }

  @AfterAll
  static void dropKeyspace() {
    if (service != null) { // null when connect() refused to run
      service.db().driver().execute("DROP KEYSPACE IF EXISTS " + KEYSPACE);
      service.close();
    }
    if (config != null) {
      config.close();
    }
  }

  private static ${className} service() {
    return service;
  }
#else
  private static ${className} service() {
    return new ${className}();
  }
#end
#if( $calling == "true" )

  /** A stand-in for ${calls}, answering as it would; it records how long its caller gave it. */
  private static void startUpstream(InProcessSkiff skiff, AtomicReference<Duration> remaining) {
    skiff.start(${className}.UPSTREAM, b -> b.endpoint("hello", ${callsPackage}.api.HelloRequest.class, ${callsPackage}.api.HelloResponse.class,
        (req, ctx) -> {
          remaining.set(ctx.remaining());
          return ${callsPackage}.api.HelloResponse.newBuilder().setGreeting("Hi, " + req.getName()).build();
        }));
  }
#end

  @Test
  void greetsByName() {
    try (InProcessSkiff skiff = InProcessSkiff.create()) {
#if( $calling == "true" )
      AtomicReference<Duration> remaining = new AtomicReference<>();
      startUpstream(skiff, remaining);
#end
      skiff.start(service());
      HelloResponse r = skiff.client().call(${className}.NAME, "hello", HelloRequest.newBuilder().setName("Ada").build(), HelloResponse.class);
      assertThat(r.getGreeting()).isEqualTo("Hello, Ada!");
#if( $calling == "true" )
      assertThat(r.getUpstreamGreeting()).isEqualTo("Hi, Ada");
#end
    }
  }
#if( $cassandra == "true" )

  @Test
  void countsGreetingsInCassandra() {
    String name = "Ada " + UUID.randomUUID();
    try (InProcessSkiff skiff = InProcessSkiff.create()) {
#if( $calling == "true" )
      startUpstream(skiff, new AtomicReference<>());
#end
      skiff.start(service());
      HelloRequest req = HelloRequest.newBuilder().setName(name).build();
      assertThat(skiff.client().call(${className}.NAME, "hello", req, HelloResponse.class).getTimes()).isEqualTo(1);
      assertThat(skiff.client().call(${className}.NAME, "hello", req, HelloResponse.class).getTimes()).isEqualTo(2);
    }
  }
#end
#if( $calling == "true" )

  /** The caller gave 1 s; the nested call to ${calls} gets what is left of it, not its own 2 s. */
  @Test
  void passesItsDeadlineOn() {
    try (InProcessSkiff skiff = InProcessSkiff.create()) {
      AtomicReference<Duration> remaining = new AtomicReference<>();
      startUpstream(skiff, remaining);
      skiff.start(service());
      skiff.client().call(${className}.NAME, "hello", HelloRequest.newBuilder().setName("Ada").build(), HelloResponse.class,
          CallOptions.timeout(Duration.ofSeconds(1)));
      assertThat(remaining.get()).isPositive().isLessThanOrEqualTo(Duration.ofSeconds(1));
    }
  }
#end

  @Test
  void aBlankNameIsABadRequest() {
    try (InProcessSkiff skiff = InProcessSkiff.create()) {
      skiff.start(service());
      assertThatThrownBy(() -> skiff.client().call(${className}.NAME, "hello", HelloRequest.newBuilder().setName(" ").build(), HelloResponse.class))
          .isInstanceOfSatisfying(SkiffException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.BAD_REQUEST);
            assertThat(e.description()).contains("name is required");
          });
    }
  }

  /** A healthcheck is tested through the server that runs it: server.health().run(name). */
  @Test
  void theReadyCheckCountsWhatWasServed() {
    try (InProcessSkiff skiff = InProcessSkiff.create()) {
#if( $calling == "true" )
      startUpstream(skiff, new AtomicReference<>());
#end
      Server server = skiff.start(service());
      assertThat(server.health().run("ready").healthy()).isTrue();
      skiff.client().call(${className}.NAME, "hello", HelloRequest.newBuilder().setName("Ada").build(), HelloResponse.class);
      HealthCheck.Result ready = server.health().run("ready");
      assertThat(ready.healthy()).isTrue();
      assertThat(ready.message()).contains(" served, the last at ");
    }
  }
}
