/**
 * <b>API.</b> Serving a service: {@link dev.skiff.platform.server.Server} (built by
 * {@link dev.skiff.platform.server.ServerBuilder}), its {@link dev.skiff.platform.server.Endpoint}s and
 * their {@link dev.skiff.platform.server.Handler}s with the {@link dev.skiff.platform.server.RequestContext}
 * they see, and {@link dev.skiff.platform.server.SkiffService}, the base of a service's main class.
 *
 * <p>Inside (package-private), a request's way: {@code Admission} (the rules that take or refuse it),
 * {@code Dedupe} (a request id answered or running here is not run again), {@code HandlerPool} (threads,
 * queue, watchdog), {@code ServerCall} (the request's own state, settled exactly once),
 * {@code ServerCounters} (its metrics).
 */
package dev.skiff.platform.server;
