package dev.skiff.kernel;

import com.codahale.metrics.MetricRegistry;
import dev.skiff.platform.config.Settings;
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
 * @param metrics the kernel process's metrics
 * @param services every kernel service of this process's kernel (this one included), started or about
 *     to be: how a service finds another running beside it ({@link #service(Class)})
 */
public record KernelContext(Transport transport, Settings settings, WebServer web, MetricRegistry metrics, List<KernelService> services) {
  /** Copies the list of services. */
  public KernelContext {
    services = List.copyOf(Objects.requireNonNull(services, "services"));
  }

  /**
   * A context of a service that runs alone (no other kernel service beside it).
   *
   * @param transport the broker connection
   * @param settings the environment's settings
   * @param web the web server
   * @param metrics the kernel process's metrics
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
