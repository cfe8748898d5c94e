package dev.skiff.kernel;

import com.codahale.metrics.MetricRegistry;
import dev.skiff.platform.config.Settings;
import dev.skiff.platform.security.ServiceIdentities;
import dev.skiff.platform.transport.Transport;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * What a kernel service gets to run with. It does not own any of these.
 *
 * @param transport the broker connection to serve, call and publish on
 * @param settings the environment's settings
 * @param web the web server its pages and JSON API mount on
 * @param metrics this service's own metrics: what it counts goes here, beside its server's (reported together to Graphite)
 * @param services every kernel service of this process's kernel (this one included), started or about
 *     to be: how a service finds another running beside it ({@link #service(Class)})
 * @param guard what the services accept from whom (docs/security.md)
 */
public record KernelContext(
    Transport transport, Settings settings, WebServer web, MetricRegistry metrics, List<KernelService> services, Guard guard) {
  /** Copies the list of services. */
  public KernelContext {
    services = List.copyOf(Objects.requireNonNull(services, "services"));
    Objects.requireNonNull(guard, "guard");
  }

  /**
   * A context whose guard takes who may act as whom from this process's environment
   * ({@link ServiceIdentities#fromEnvironment()}).
   *
   * @param transport the broker connection
   * @param settings the environment's settings
   * @param web the web server
   * @param metrics this service's own metrics: what it counts goes here, beside its server's (reported together to Graphite)
   * @param services every kernel service of this process's kernel
   */
  public KernelContext(Transport transport, Settings settings, WebServer web, MetricRegistry metrics, List<KernelService> services) {
    this(transport, settings, web, metrics, services, new Guard(ServiceIdentities.fromEnvironment(), metrics));
  }

  /**
   * A context of a service that runs alone (no other kernel service beside it).
   *
   * @param transport the broker connection
   * @param settings the environment's settings
   * @param web the web server
   * @param metrics this service's own metrics: what it counts goes here, beside its server's (reported together to Graphite)
   */
  public KernelContext(Transport transport, Settings settings, WebServer web, MetricRegistry metrics) {
    this(transport, settings, web, metrics, List.of());
  }

  /**
   * @param type a kernel service's class
   * @param <T> its type
   * @return the kernel service of that class in this process's kernel, if it runs one
   */
  public <T extends KernelService> Optional<T> service(Class<T> type) {
    return services.stream().filter(type::isInstance).map(type::cast).findFirst();
  }
}
