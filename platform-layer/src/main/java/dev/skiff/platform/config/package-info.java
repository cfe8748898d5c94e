/**
 * <b>API.</b> Configuration: layered and live ({@link dev.skiff.platform.config.LayeredConfig} over
 * {@link dev.skiff.platform.config.ConfigSource}s), read as {@link dev.skiff.platform.config.Config}, and
 * the process's environment settings ({@link dev.skiff.platform.config.Settings}). Knows no transport.
 */
package dev.skiff.platform.config;
