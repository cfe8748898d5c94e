/**
 * <b>API</b> to connect ({@link dev.skiff.platform.transport.amqp.AmqpTransport},
 * {@link dev.skiff.platform.transport.amqp.AmqpOptions}) and the names Skiff gives RabbitMQ objects
 * ({@link dev.skiff.platform.transport.amqp.AmqpNames}); the rest is the RabbitMQ transport's inside,
 * package-private: connections and recovery, serving, calling, events, routing topology, the wire format
 * of the headers, and write corking.
 */
package dev.skiff.platform.transport.amqp;
