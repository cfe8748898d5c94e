/**
 * <b>API.</b> How an instance announces itself for discovery ({@link dev.skiff.platform.discovery.Announcer}):
 * started by its server, on start, every heartbeat and at a clean stop (docs/routing.md).
 */
package dev.skiff.platform.discovery;
