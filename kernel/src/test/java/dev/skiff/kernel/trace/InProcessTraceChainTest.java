package dev.skiff.kernel.trace;

import dev.skiff.platform.transport.Transport;
import dev.skiff.platform.transport.inprocess.InProcessTransport;

/** The traced call chain over the in-process transport. */
class InProcessTraceChainTest extends TraceChainContract {
  @Override
  protected Transport newTransport() {
    return InProcessTransport.create();
  }
}
