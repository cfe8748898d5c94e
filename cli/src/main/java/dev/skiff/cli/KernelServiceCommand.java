package dev.skiff.cli;

import com.google.protobuf.Message;
import dev.skiff.platform.client.Client;

/** A command that calls one kernel service (the config service, the login service) as the signed-in user. */
abstract class KernelServiceCommand extends BrokerCommand {
  private final String service;

  /** @param service the kernel service the command calls */
  KernelServiceCommand(String service) {
    this.service = service;
  }

  /**
   * Calls an endpoint of the service ({@link #KERNEL_CALL}).
   *
   * @param client the client of {@link #withClient}
   * @param endpoint the endpoint
   * @param request the request
   * @param type the response's type
   * @return the response
   * @throws dev.skiff.platform.SkiffException when the call fails
   */
  <T extends Message> T call(Client client, String endpoint, Message request, Class<T> type) {
    return client.call(service, endpoint, request, type, KERNEL_CALL);
  }
}
