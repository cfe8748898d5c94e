/**
 * <b>API.</b> Healthchecks ({@link dev.skiff.platform.health.HealthCheck}, registered in
 * {@link dev.skiff.platform.health.HealthChecks} with a {@link dev.skiff.platform.health.Priority}) and the
 * monitor every server runs with no code from its author ({@link dev.skiff.platform.health.ServiceMonitor}),
 * which reads the server's live load through {@link dev.skiff.platform.health.ServerLoad}.
 */
package dev.skiff.platform.health;
