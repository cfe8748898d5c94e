/**
 * The trace kernel service: collects the spans services ship over the broker, stores traces behind
 * {@link dev.skiff.kernel.trace.TraceStore}, serves them over RPC ({@code skiff.trace/get},
 * {@code skiff.trace/list}), as Zipkin v2 JSON, as a sequence diagram and as a service graph.
 */
package dev.skiff.kernel.trace;
