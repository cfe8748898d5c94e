/**
 * <b>Internal.</b> What the service layer's store clients share: their lifecycle
 * ({@link dev.skiff.service.internal.StoreLifecycle}) and when their watchdogs rebuild a connection that
 * stopped recovering by itself ({@link dev.skiff.service.internal.StallWatch}). Public only because the
 * clients live in packages of their own: not API, and may change in any release.
 */
package dev.skiff.service.internal;
