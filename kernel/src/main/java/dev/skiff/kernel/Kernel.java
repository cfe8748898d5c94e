package dev.skiff.kernel;

import com.codahale.metrics.MetricRegistry;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.config.Settings;
import dev.skiff.platform.internal.Printable;
import dev.skiff.platform.security.LoginTokenVerifier;
import dev.skiff.platform.security.ServiceIdentities;
import dev.skiff.platform.server.LoginServiceSource;
import dev.skiff.platform.transport.Transport;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Kernel services running together in one process, with one web server for their pages: what
 * {@code skiff kernel} runs for development. In production each kernel service can run on its own
 * (a Kernel of one), and several copies of each side by side.
 *
 * <pre>{@code
 * try (Kernel kernel = Kernel.start(transport, Settings.fromEnvironment(), Kernel.available(), 8090)) {
 *   kernel.awaitTermination();
 * }
 * }</pre>
 */
public final class Kernel implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Kernel.class);
  /** The name the kernel's pages call other services as (the login service: keys, ended sessions, sign-in). */
  public static final String PAGES_SERVICE = "skiff.pages";
  /** How long one fetch of the login service's keys or ended sessions may take, for the pages' verifier. */
  private static final Duration LOGIN_FETCH_TIMEOUT = Duration.ofSeconds(5);

  private final WebServer web;
  private final MetricRegistry metrics;
  private final List<KernelService> services;
  /** Each running service's own metrics, by its name: what its server reports. */
  private final Map<String, MetricRegistry> serviceMetrics = new ConcurrentHashMap<>();
  private final AtomicBoolean closed = new AtomicBoolean();
  private final LoginTokenVerifier verifier;
  private final Client client;
  private final Client signInClient;
  private final CountDownLatch terminated = new CountDownLatch(1);

  private Kernel(WebServer web, MetricRegistry metrics, List<KernelService> services, LoginTokenVerifier verifier, Client client,
      Client signInClient) {
    this.web = web;
    this.verifier = verifier;
    this.client = client;
    this.signInClient = signInClient;
    this.metrics = metrics;
    this.services = services;
  }

  /**
   * The kernel services on the classpath, found with {@link ServiceLoader}.
   *
   * @return one new instance of each
   * @throws IllegalArgumentException when a service's constructor refuses its configuration (a bad
   *     environment variable), with its message
   */
  public static List<KernelService> available() {
    List<KernelService> all = new ArrayList<>();
    try {
      ServiceLoader.load(KernelService.class).forEach(all::add);
    } catch (ServiceConfigurationError e) {
      // a service whose constructor refused its configuration: say what the service said
      if (e.getCause() instanceof IllegalArgumentException bad) {
        throw bad;
      }
      throw e;
    }
    return all;
  }

  /**
   * Picks kernel services by name.
   *
   * @param all the candidates
   * @param names the names wanted; empty for all
   * @return the chosen ones
   * @throws IllegalArgumentException naming an unknown service and the known ones
   */
  public static List<KernelService> select(List<KernelService> all, Set<String> names) {
    if (names.isEmpty()) {
      return all;
    }
    List<KernelService> chosen = new ArrayList<>();
    for (String n : names) {
      chosen.add(all.stream().filter(s -> s.name().equals(n)).findFirst().orElseThrow(() ->
          new IllegalArgumentException("no kernel service '" + n + "' (available: "
              + all.stream().map(KernelService::name).sorted().toList() + ")")));
    }
    return chosen;
  }

  /**
   * Starts kernel services and their web server; who may act as whom comes from this process's environment
   * ({@link ServiceIdentities#fromEnvironment()}).
   *
   * @param transport the broker connection (not owned)
   * @param settings the environment's settings
   * @param services the services to run
   * @param httpPort the web server's port (0 for any free one)
   * @return the running kernel
   */
  public static Kernel start(Transport transport, Settings settings, List<KernelService> services, int httpPort) {
    return start(transport, settings, ServiceIdentities.fromEnvironment(), services, httpPort);
  }

  /**
   * Starts kernel services and their web server, accepting changes as a mapping of broker users to
   * services says (docs/security.md).
   *
   * @param transport the broker connection (not owned)
   * @param settings the environment's settings
   * @param identities who may act as whom
   * @param services the services to run
   * @param httpPort the web server's port (0 for any free one)
   * @return the running kernel
   */
  public static Kernel start(
      Transport transport, Settings settings, ServiceIdentities identities, List<KernelService> services, int httpPort) {
    return start(transport, settings, identities, services, httpPort, WebServer.Options.fromEnvironment(System.getenv()));
  }

  /**
   * Starts kernel services and their web server with the web server's limits and page sign-in given
   * (rather than read from {@code SKIFF_HTTP_*} and {@code SKIFF_PAGES_AUTH}).
   *
   * @param transport the broker connection (not owned)
   * @param settings the environment's settings
   * @param identities who may act as whom
   * @param services the services to run
   * @param httpPort the web server's port (0 for any free one)
   * @param webOptions the web server's limits and who may see the pages
   * @return the running kernel
   * @throws dev.skiff.kernel.http.CannotListen naming the address when the web port cannot be bound (in use)
   */
  public static Kernel start(Transport transport, Settings settings, ServiceIdentities identities, List<KernelService> services,
      int httpPort, WebServer.Options webOptions) {
    Objects.requireNonNull(transport, "transport");
    MetricRegistry metrics = new MetricRegistry();
    // people sign in to the pages at the login service; their tokens are checked as every server checks them.
    // The pages call as a kernel service of their own: the login service gives its ended sessions to services
    // only, and on the kernel's own broker user only a kernel service's name is one (a nameless caller is
    // refused, so every token was refused as KEYS_UNAVAILABLE wherever the kernel user is not shared)
    Client client = Client.builder().transport(transport).name(PAGES_SERVICE).identities(identities).metrics(metrics).build();
    LoginTokenVerifier verifier = LoginTokenVerifier.builder().transport(transport)
        .source(new LoginServiceSource(client, LOGIN_FETCH_TIMEOUT)).identities(identities).metrics(metrics).build();
    Client signInClient = SignInClients.create(transport, PAGES_SERVICE, identities, metrics, LOGIN_FETCH_TIMEOUT);
    WebServer web;
    try {
      web = WebServer.start("0.0.0.0", httpPort, webOptions, verifier, new PageSignIn(signInClient), metrics);
    } catch (RuntimeException e) {
      verifier.close();
      signInClient.close();
      client.close();
      throw e;
    }
    Kernel k = new Kernel(web, metrics, new ArrayList<>(), verifier, client, signInClient);
    try {
      for (KernelService s : services) {
        // a registry of its own, its server's: what it counts goes to Graphite under its name, and two
        // services in one process do not report each other's figures
        MetricRegistry own = new MetricRegistry();
        k.serviceMetrics.put(s.name(), own);
        s.start(new KernelContext(transport, settings, web, own, services, new Guard(identities, own)));
        k.services.add(s);
        log.info("kernel service {} started", s.name());
      }
    } catch (RuntimeException e) {
      k.close();
      throw e;
    }
    return k;
  }

  /**
   * The HTTP port from the environment.
   *
   * @param env the environment
   * @return {@code SKIFF_HTTP_PORT}, or 8090
   * @throws IllegalArgumentException naming the variable when it is not a port
   */
  public static int httpPort(Map<String, String> env) {
    String v = env.get("SKIFF_HTTP_PORT");
    if (v == null || v.isBlank()) {
      return 8090;
    }
    try {
      int p = Integer.parseInt(v.trim());
      if (p >= 0 && p <= 65535) {
        return p;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new IllegalArgumentException("SKIFF_HTTP_PORT must be a port number (0-65535), not '" + v + "'");
  }

  /**
   * @return the kernel process's own metrics: its pages' (the sign-in pace), the pages' token checks and
   *     their clients'; each service's are in {@link #metricsOf(String)}
   */
  public MetricRegistry metrics() {
    return metrics;
  }

  /**
   * @param service a running service's name, e.g. {@code discovery}
   * @return that service's metrics: what it counts (its bounds, refusals) and its server's (the registry
   *     its server reports to Graphite, and takes its health reports' figures from)
   * @throws IllegalArgumentException naming the services that run when none has that name
   */
  public MetricRegistry metricsOf(String service) {
    MetricRegistry m = serviceMetrics.get(service);
    if (m == null) {
      throw new IllegalArgumentException("no kernel service '" + Printable.of(String.valueOf(service), 64) + "' runs here; running: "
          + services.stream().map(KernelService::name).toList());
    }
    return m;
  }

  /** @return the web server */
  public WebServer web() {
    return web;
  }

  /** @return the services running */
  public List<KernelService> services() {
    return List.copyOf(services);
  }

  /**
   * Blocks until the kernel is closed.
   *
   * @throws InterruptedException if interrupted
   */
  public void awaitTermination() throws InterruptedException {
    terminated.await();
  }

  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    for (int i = services.size() - 1; i >= 0; i--) {
      try {
        services.get(i).close();
      } catch (RuntimeException e) {
        log.warn("closing kernel service {}", services.get(i).name(), e);
      }
    }
    web.close();
    verifier.close();
    signInClient.close();
    client.close();
    terminated.countDown();
  }
}
