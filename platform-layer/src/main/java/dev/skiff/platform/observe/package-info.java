/**
 * <b>SPI.</b> Observers of every request a server finishes and every attempt a client makes
 * ({@link dev.skiff.platform.observe.RpcObserver} with its events): how metrics and tracing plug in, and
 * how others can.
 */
package dev.skiff.platform.observe;
