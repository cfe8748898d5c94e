package dev.skiff.platform.server;

import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.ExitCodes;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.config.Config;
import dev.skiff.platform.config.EnvVars;
import dev.skiff.platform.config.LayeredConfig;
import dev.skiff.platform.config.Settings;
import dev.skiff.platform.internal.Threads;
import dev.skiff.platform.metrics.MonitoringOptions;
import dev.skiff.platform.observe.RpcObserver;
import dev.skiff.platform.trace.TraceSettings;
import dev.skiff.platform.trace.Tracing;
import dev.skiff.platform.transport.Transport;
import dev.skiff.platform.transport.amqp.AmqpOptions;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A base class for a service's main class, for those who prefer subclassing to building a
 * {@link Server} by hand. Subclasses name the service and register endpoints; {@link #run()} reads the
 * environment ({@link Settings}: {@code SKIFF_AMQP_URI}, {@code SKIFF_SERVICE_VERSION}, ...), connects
 * (waiting for the broker if it cannot be reached yet), follows its configuration in the config service
 * ({@link #config()}; {@code SKIFF_CONFIG_SERVICE=off} not to; see {@link #run()}), serves until the process is told to stop (SIGTERM
 * or SIGINT), then drains.
 *
 * <pre>{@code
 * public final class Greeter extends SkiffService {
 *   public Greeter() { super("com.example.greeter", "1.0.0", "Greets people by name"); }
 *
 *   @Override protected void register(ServerBuilder service) {
 *     service.endpoint("hello", HelloRequest.class, HelloResponse.class,
 *         (req, ctx) -> HelloResponse.newBuilder().setGreeting("Hello, " + req.getName()).build());
 *   }
 *
 *   public static void main(String[] args) throws InterruptedException { new Greeter().run(); }
 * }
 * }</pre>
 */
public abstract class SkiffService {
  private static final Logger log = LoggerFactory.getLogger(SkiffService.class);

  private final String name;
  private final String version;
  private final String description;
  private volatile Server server;
  /** The configuration when it does not follow the config service: {@link #configLayers()} built, or null. */
  private volatile LayeredConfig ownConfig;

  /**
   * @param name the service's dotted name
   * @param version its version (an instance may report another through {@code SKIFF_SERVICE_VERSION})
   * @param description what it does, in a sentence
   */
  protected SkiffService(String name, String version, String description) {
    this.name = Objects.requireNonNull(name, "name");
    this.version = Objects.requireNonNull(version, "version");
    this.description = Objects.requireNonNull(description, "description");
  }

  /**
   * Registers the service's endpoints (and, if wanted, adjusts other settings). Validators added here
   * ({@link ServerBuilder#configValidator}) check every configuration of the service before it comes into
   * force, at start and on each change: the config service's view over {@link #configLayers()} when the
   * service follows it, else {@link #configLayers()} and the environment.
   *
   * @param service the builder of the server being made
   */
  protected abstract void register(ServerBuilder service);

  /**
   * The layers of this service's own configuration, beneath the config service's view and the
   * environment: defaults, files, sources. Override to add them; the default has none.
   *
   * @return a builder of them (the platform completes and builds it as the server starts)
   */
  protected LayeredConfig.Builder configLayers() {
    return LayeredConfig.builder();
  }

  /**
   * Opens what the handlers need from the configuration, as the server starts: after the configuration is
   * read (the config service's view over {@link #configLayers()}, followed live; with
   * {@code SKIFF_CONFIG_SERVICE=off}, {@link #configLayers()} and the environment) and before the first
   * request. Stores and clients opened here from {@code config} follow its changes, those made with
   * {@code skiff config set} included. A failure ends the start. The default opens nothing.
   *
   * @param config the service's configuration, the same {@link #config()} returns
   */
  protected void prepare(LayeredConfig config) {}

  /** @return the service's name */
  public final String name() {
    return name;
  }

  /**
   * Builds (without starting) a server for this service on a transport the caller owns.
   *
   * @param transport the transport
   * @param settings the environment's settings
   * @return the server, not started
   */
  public Server newServer(Transport transport, Settings settings) {
    return newServer(transport, settings, List.of(), false);
  }

  private Server newServer(Transport transport, Settings settings, List<RpcObserver> observers, boolean liveConfig) {
    ServerBuilder b = Server.builder(name).version(version).description(description).transport(transport);
    b.settings(settings).monitoring(MonitoringOptions.fromEnvironment());
    // the validators register() adds, when the service follows no config service: they check its own configuration
    List<Consumer<Config>> ownValidators = new ArrayList<>();
    if (liveConfig) {
      b.liveConfig(configLayers(), dev.skiff.platform.liveconfig.LiveConfigOptions.fromEnvironment());
      b.beforeServing(() -> prepare(server.config()));
    } else {
      b.beforeServing(() -> {
        LayeredConfig.Builder layers = configLayers();
        ownValidators.forEach(layers::validator);
        ownConfig = layers.build();
        prepare(ownConfig);
      });
    }
    observers.forEach(b::observer);
    register(b);
    if (!liveConfig && b.configLayers == null) {
      // not a reason to follow the config service (which a validator alone would imply on a plain builder)
      ownValidators.addAll(b.takeConfigValidators());
    }
    Server built = b.build();
    server = built;
    return built;
  }

  /**
   * This service's configuration, followed live from the config service (docs/configuration.md,
   * "Delivery"), over {@link #configLayers()}; with {@code SKIFF_CONFIG_SERVICE=off}, {@link #configLayers()}
   * and the environment. For handlers and {@link #prepare}, which run once the server is starting.
   *
   * @return the configuration
   * @throws IllegalStateException before the server started
   */
  protected final LayeredConfig config() {
    LayeredConfig own = ownConfig;
    if (own != null) {
      return own;
    }
    Server s = server;
    if (s == null) {
      throw new IllegalStateException(name + " has no server yet");
    }
    return s.config();
  }

  /**
   * Starts this service on a transport the caller owns and returns it running (for tests and for
   * running several services in one process). It follows the config service only with
   * {@code SKIFF_CONFIG_SERVICE=on} (a test has none to wait for).
   *
   * @param transport the transport
   * @return the running server
   */
  public Server start(Transport transport) {
    boolean live = EnvVars.onOff(System.getenv(), "SKIFF_CONFIG_SERVICE", false);
    return newServer(transport, Settings.fromEnvironment(), List.of(), live).start();
  }

  /**
   * Connects a service process to the broker its settings name, waiting for it while it cannot be
   * reached (saying so in the log every 30 s); after {@code SKIFF_BROKER_WAIT}, if set, prints one line to
   * stderr and exits the process with {@link ExitCodes#DEPENDENCY_UNAVAILABLE}. For main methods that
   * build their servers by hand; {@link #run()} uses it.
   *
   * @param process the service (or process) name the line starts with
   * @param settings the environment's settings
   * @return the connected transport
   * @throws InterruptedException if interrupted while waiting
   */
  public static AmqpTransport connectOrExit(String process, Settings settings) throws InterruptedException {
    AmqpOptions options;
    try {
      options = AmqpOptions.of(settings.amqpUri());
      options = settings.queueType().map(options::withQueueType).orElse(options);
      return AmqpTransport.connectWhenReachable(options, settings.brokerWait().orElse(null),
          why -> log.warn("{}: waiting for the broker: {}", process, why));
    } catch (IllegalArgumentException malformed) {
      // its message shows the URI without its password
      throw exit(process, "SKIFF_AMQP_URI: " + malformed.getMessage(), ExitCodes.CONFIGURATION);
    } catch (SkiffException unreachable) {
      // one line a person or a supervisor can read, and a code that says "a dependency is missing", or, when
      // the broker refused the credentials or the virtual host, "configured wrong": trying again would not help
      String refused = switch (unreachable.code()) {
        case UNAUTHORIZED -> " (the broker refused the credentials in SKIFF_AMQP_URI: a configuration mistake, not an outage)";
        case FORBIDDEN -> " (the broker refused the virtual host in SKIFF_AMQP_URI to its user: a configuration mistake, not "
            + "an outage)";
        default -> null;
      };
      throw exit(process, unreachable.description() + (refused == null ? "" : refused),
          refused == null ? ExitCodes.DEPENDENCY_UNAVAILABLE : ExitCodes.CONFIGURATION);
    }
  }

  /**
   * Runs the service as a process: connects to the broker from the environment, serves, and on SIGTERM
   * or SIGINT drains and exits. Started while the broker cannot be reached, it waits for it, trying every
   * second (and saying so in its log every 30 s), and serves once it comes; with {@code SKIFF_BROKER_WAIT}
   * set, it gives up after that long, printing one line to stderr and exiting with
   * {@link ExitCodes#DEPENDENCY_UNAVAILABLE} (75). The service is traced ({@link Tracing}, settings from
   * {@link TraceSettings#fromEnvironment()}: {@code SKIFF_TRACE_SAMPLE_RATE}, ...), and follows its configuration
   * in the config service ({@link #config()}, {@code SKIFF_REGION}, {@code SKIFF_ENV}: see
   * {@link dev.skiff.platform.liveconfig.LiveConfigOptions}) unless {@code SKIFF_CONFIG_SERVICE=off}.
   *
   * @throws InterruptedException if the main thread is interrupted while serving
   */
  public final void run() throws InterruptedException {
    Settings settings;
    TraceSettings traceSettings;
    boolean live;
    try {
      settings = Settings.fromEnvironment();
      traceSettings = TraceSettings.fromEnvironment();
      // a process follows its configuration in the config service unless told not to
      live = EnvVars.onOff(System.getenv(), "SKIFF_CONFIG_SERVICE", true);
    } catch (IllegalArgumentException e) {
      throw exit(name, e.getMessage(), ExitCodes.CONFIGURATION);
    }
    AmqpTransport transport = connectOrExit(name, settings);
    // traced for free: forced and upstream-sampled traces always, new ones at SKIFF_TRACE_SAMPLE_RATE
    Tracing tracing;
    Server server;
    try {
      tracing = Tracing.builder(name).transport(transport).settings(traceSettings).instanceId(settings.instanceId().orElse(""))
          .build().start();
      server = newServer(transport, settings, List.of(tracing), live);
    } catch (IllegalArgumentException e) {
      transport.close();
      throw exit(name, e.getMessage(), ExitCodes.CONFIGURATION);
    }
    Runtime.getRuntime()
        .addShutdownHook(
            Threads.daemon(
                "skiff-shutdown-" + name,
                () -> {
                  server.close();
                  LayeredConfig own = ownConfig;
                  if (own != null) {
                    own.close();
                  }
                  tracing.close();
                  transport.close();
                }));
    try {
      server.start();
    } catch (SkiffException e) {
      if (e.code() != ErrorCode.FORBIDDEN) {
        throw e;
      }
      // its broker user may not use its queues: a configuration mistake
      throw exit(name, e.description(), ExitCodes.CONFIGURATION);
    } catch (IllegalArgumentException e) {
      // a setting its configuration or prepare() could not use (a ConfigException names its key)
      tracing.close();
      transport.close();
      throw exit(name, e.getMessage(), ExitCodes.CONFIGURATION);
    }
    server.awaitTermination();
  }

  /**
   * Ends a process that cannot start: one line a person or a supervisor can read, no stack trace, and an
   * exit code that says what to do ({@link ExitCodes}: a dependency missing, try again later; configured
   * wrong (a variable that does not parse, credentials refused), which retrying in a loop will not mend).
   *
   * @return an exception to throw after it (the process has ended by then: the throw tells the compiler so)
   */
  private static IllegalStateException exit(String process, String why, int code) {
    System.err.println(process + ": cannot start: " + why);
    System.exit(code);
    return new IllegalStateException(process + " exited with " + code);
  }
}
