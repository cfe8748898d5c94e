package ${package};

import ${package}.api.HelloRequest;
import ${package}.api.HelloResponse;
#if( $cassandra == "true" )
import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.health.HealthCheckRegistry;
#end
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
#if( $calling == "true" )
import dev.skiff.platform.client.CallOptions;
#end
#if( $cassandra == "true" )
import dev.skiff.platform.config.LayeredConfig;
#end
import dev.skiff.platform.server.ServerBuilder;
import dev.skiff.platform.server.SkiffService;
#if( $cassandra == "true" )
import dev.skiff.service.cassandra.CassandraClient;
import dev.skiff.service.cassandra.CassandraSession;
import dev.skiff.service.cassandra.Query;
import dev.skiff.service.health.PlatformHealth;
import java.util.Map;
#end
#if( $calling == "true" )
import java.time.Duration;
#end

/**
 * The service ${service}. Run it with {@code java -jar service/target/${artifactId}.jar}; it reads
 * {@code SKIFF_AMQP_URI} (the broker) and {@code SKIFF_SERVICE_VERSION} from the environment.
 */
#if( $cassandra == "true" )
public final class ${className} extends SkiffService implements AutoCloseable {
#else
public final class ${className} extends SkiffService {
#end
  /** The service's name: what callers call. */
  public static final String NAME = "${service}";
#if( $cassandra == "true" )
  /** Counts the greetings per name (the table comes from src/main/resources/cassandra/${artifactId}/). */
  static final Query GREET = Query.of("greet", "UPDATE greetings SET times = times + 1 WHERE name = ?");
  /** Reads a name's count. */
  static final Query TIMES = Query.of("times", "SELECT times FROM greetings WHERE name = ?").idempotent();

  private final HealthCheckRegistry stores = new HealthCheckRegistry();
  private volatile CassandraClient cassandra;
  private volatile String keyspace;
  private volatile CassandraSession db;
#end
#if( $calling == "true" )
  /** The service this one calls. */
  static final String UPSTREAM = "${calls}";
  /** How long a call to it may take at most; never longer than what is left of this request's deadline. */
  static final CallOptions UPSTREAM_CALL = CallOptions.timeout(Duration.ofSeconds(2));
#end
  private final ReadyCheck ready = new ReadyCheck();

#if( $cassandra == "true" )
  /**
   * The service as main runs it: Cassandra's client is made from its configuration as it starts
   * ({@link #prepare}), so it follows the config service ({@code skiff config set cassandra.consistency ...}).
   */
  public ${className}() {
    super(NAME, "1.0.0", "Says hello, and counts how often");
  }

  /**
   * The service on a configuration of the caller's (a test's), not yet connected to Cassandra: call
   * {@link #open()}.
   *
   * @param config the configuration: {@code cassandra.hosts} ({@code SKIFF_CASSANDRA_HOSTS}),
   *     {@code cassandra.keyspace} ({@code SKIFF_CASSANDRA_KEYSPACE}, default ${artifactId})
   * @param metrics where the store's metrics go
   */
  public ${className}(LayeredConfig config, MetricRegistry metrics) {
    this();
    connect(config, metrics);
  }

  private void connect(LayeredConfig config, MetricRegistry metrics) {
    this.keyspace = config.current().getString("cassandra.keyspace", "${artifactId}");
    this.cassandra = CassandraClient.builder().config(config).metrics(metrics).healthChecks(stores)
        .migrations(keyspace, "cassandra/${artifactId}").build();
  }

  /** Its own layer of configuration, beneath the config service's and the environment: the keyspace's default. */
  @Override
  protected LayeredConfig.Builder configLayers() {
    return LayeredConfig.builder().defaults(Map.of("cassandra.keyspace", "${artifactId}"));
  }

  /** As it starts, before its first request: connects to Cassandra, unless a test did already. */
  @Override
  protected void prepare(LayeredConfig config) {
    if (cassandra == null) {
      connect(config, new MetricRegistry());
      open();
    }
  }

  /**
   * Connects to Cassandra; its client creates the keyspace and runs the migrations now, or when
   * Cassandra first answers.
   *
   * @return this
   */
  public ${className} open() {
    cassandra.start();
    db = cassandra.session(keyspace);
    return this;
  }

  /** @return the session on the service's keyspace (for tests: e.g. to drop a test's keyspace) */
  CassandraSession db() {
    return db;
  }
#else
  /** The service, ready to start. */
  public ${className}() {
    super(NAME, "1.0.0", "Says hello");
  }
#end

  @Override
  protected void register(ServerBuilder service) {
    service.healthCheck("ready", ready);
#if( $cassandra == "true" )
    // the store's check ("cassandra") runs and is published with the service's own
    PlatformHealth.include(stores, service);
#end
    service.endpoint("hello", HelloRequest.class, HelloResponse.class, (req, ctx) -> {
      if (req.getName().isBlank()) {
        throw new SkiffException(ErrorCode.BAD_REQUEST, "name is required");
      }
      HelloResponse.Builder out = HelloResponse.newBuilder().setGreeting("Hello, " + req.getName() + "!");
#if( $cassandra == "true" )
      db.execute(GREET, req.getName());
      out.setTimes(db.one(TIMES, req.getName()).map(r -> r.getLong("times")).orElse(0L));
#end
#if( $calling == "true" )
      // ctx.client(): the call carries this request's deadline and trace
      ${callsPackage}.api.HelloResponse upstream = ctx.client().call(UPSTREAM, "hello",
          ${callsPackage}.api.HelloRequest.newBuilder().setName(req.getName()).build(),
          ${callsPackage}.api.HelloResponse.class, UPSTREAM_CALL);
      out.setUpstreamGreeting(upstream.getGreeting());
#end
      ready.served();
      return out.build();
    });
  }
#if( $cassandra == "true" )

  /** Closes the Cassandra client. Idempotent. */
  @Override
  public void close() {
    CassandraClient c = cassandra;
    if (c != null) {
      c.close();
    }
  }
#end

  /**
   * Runs the service until SIGTERM or SIGINT.
   *
   * @param args unused
   * @throws InterruptedException if interrupted while serving
   */
  public static void main(String[] args) throws InterruptedException {
#if( $cassandra == "true" )
    try (${className} service = new ${className}()) {
      service.run();
    }
#else
    new ${className}().run();
#end
  }
}
