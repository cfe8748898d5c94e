/**
 * <b>API.</b> Calling services: {@link dev.skiff.platform.client.Client} with
 * {@link dev.skiff.platform.client.CallOptions} (timeout, pins, request id), parallel calls with
 * {@link dev.skiff.platform.client.FanOut}, and how failures are met:
 * {@link dev.skiff.platform.client.RetryPolicy} and {@link dev.skiff.platform.client.BreakerOptions}.
 *
 * <p>Inside (package-private): {@code CallEngine} (a call's attempts), {@code PendingCalls} (attempts
 * waiting for replies), {@code Retries}, {@code Breakers} (resilience4j, hidden here),
 * {@code IdempotencyMemory}.
 */
package dev.skiff.platform.client;
