/**
 * <b>API.</b> A transport inside one JVM, with the RabbitMQ transport's semantics (competing consumers,
 * redelivery marks, bounded events) and no broker: for tests and for the zero-install demo.
 */
package dev.skiff.platform.transport.inprocess;
