package dev.skiff.kernel;

import com.codahale.metrics.MetricRegistry;
import dev.skiff.platform.config.Settings;
import dev.skiff.platform.transport.Transport;

/**
 * What a kernel service gets to run with. It does not own any of these.
 *
 * @param transport the broker connection to serve, call and publish on
 * @param settings the environment's settings
 * @param web the web server its pages and JSON API mount on
 * @param metrics the kernel process's metrics
 */
public record KernelContext(Transport transport, Settings settings, WebServer web, MetricRegistry metrics) {}
