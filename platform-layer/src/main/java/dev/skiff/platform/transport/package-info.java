/**
 * <b>SPI.</b> What a transport provides to servers and clients ({@link dev.skiff.platform.transport.Transport}:
 * bind a service, open a client channel, publish and subscribe to events) and the messages it carries
 * ({@link dev.skiff.platform.transport.RequestMessage}, {@link dev.skiff.platform.transport.ReplyMessage});
 * and, for the binding kernel service, the topology of routing by version and weight
 * ({@link dev.skiff.platform.transport.RoutingTopology}). Service authors pick a transport
 * ({@code transport.amqp} or {@code transport.inprocess}) and never call these methods themselves.
 */
package dev.skiff.platform.transport;
