/**
 * <b>API.</b> Metrics every server and client keeps (Dropwizard Metrics,
 * {@link dev.skiff.platform.metrics.RpcMetrics}), how monitoring is switched and reported
 * ({@link dev.skiff.platform.metrics.MonitoringOptions}, Graphite).
 */
package dev.skiff.platform.metrics;
