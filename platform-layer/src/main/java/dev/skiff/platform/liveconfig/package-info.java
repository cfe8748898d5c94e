/**
 * <b>API.</b> Live configuration from the config service ({@code skiff.config}): the layer of a service's
 * {@link dev.skiff.platform.config.LayeredConfig} that the config service feeds
 * ({@link dev.skiff.platform.liveconfig.ConfigServiceLayer}), followed within a second of each change,
 * with a last good copy kept locally for starts while the config service is down. A server follows it
 * with {@link dev.skiff.platform.server.ServerBuilder#liveConfig()} (docs/configuration.md, "Delivery").
 */
package dev.skiff.platform.liveconfig;
