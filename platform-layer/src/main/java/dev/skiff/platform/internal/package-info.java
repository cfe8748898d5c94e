/**
 * <b>Internal.</b> Helpers shared by Skiff's own modules (ids, codecs, trace context, threads, the
 * lifecycle rule, the idle-aware sweep, JSON string literals, closing resources together). Public only because Java packages cannot be shared otherwise:
 * not API, not SPI, and may change in any release.
 */
package dev.skiff.platform.internal;
