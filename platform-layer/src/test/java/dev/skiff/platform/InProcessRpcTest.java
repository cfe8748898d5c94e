package dev.skiff.platform;

import dev.skiff.platform.transport.Transport;
import dev.skiff.platform.transport.inprocess.InProcessTransport;

/** The RPC contract over the in-process transport. */
class InProcessRpcTest extends RpcContract {
  @Override
  protected Transport newTransport() {
    return InProcessTransport.create();
  }
}
