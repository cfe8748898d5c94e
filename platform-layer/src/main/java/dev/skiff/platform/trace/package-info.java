/**
 * Distributed tracing built into RPC: {@link dev.skiff.platform.trace.Tracing} is an
 * {@link dev.skiff.platform.observe.RpcObserver} that decides the sampling of new traces and ships the
 * spans of sampled requests and calls, asynchronously and in batches, over the broker to the trace
 * kernel service; {@link dev.skiff.platform.trace.ZipkinJson} renders spans as Zipkin v2 JSON.
 */
package dev.skiff.platform.trace;
