package dev.skiff.kernel.trace;

import dev.skiff.platform.transport.Transport;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import dev.skiff.testing.RabbitMqExtension;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The traced call chain over RabbitMQ: spans travel over the broker's event exchange. */
class AmqpTraceChainTest extends TraceChainContract {
  @RegisterExtension static final RabbitMqExtension broker = RabbitMqExtension.create();

  @Override
  protected Transport newTransport() {
    return AmqpTransport.connect(broker.amqpUri());
  }
}
