package dev.skiff.kernel;

/**
 * A service that runs on the platform and adds a capability to it: discovery, routing, monitoring,
 * tracing. Each runs on its own in production or with the others in one process ({@link Kernel}) for
 * development; several copies of each may run at once.
 *
 * <p>Implementations are found with {@link java.util.ServiceLoader} (list them in
 * {@code META-INF/services/dev.skiff.kernel.KernelService}), so {@code skiff kernel} starts every kernel
 * service on its classpath. A kernel service must never be needed for a plain call between services.
 */
public interface KernelService extends AutoCloseable {
  /** @return a short name, e.g. {@code monitoring}, used in logs and to pick services to run */
  String name();

  /**
   * Starts the service.
   *
   * @param context the transport, settings and web server it may use
   */
  void start(KernelContext context);

  /** Stops the service and releases what it holds. Idempotent. */
  @Override
  void close();
}
