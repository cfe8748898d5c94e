package dev.skiff.cli;

import dev.skiff.gateway.Gateway;
import dev.skiff.gateway.GatewayOptions;
import dev.skiff.platform.internal.Threads;
import dev.skiff.platform.security.ServiceIdentities;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import java.io.PrintWriter;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code skiff gateway}: the HTTP API gateway (docs/gateway.md), until interrupted. */
@Command(
    name = "gateway",
    header = "Runs the HTTP API gateway: the services' HTTP routes, JSON in and out.",
    description = {
      "Runs the HTTP API gateway: every service endpoint whose proto declares a",
      "google.api.http route is served at that route, JSON in and out, until",
      "interrupted. Settings: SKIFF_GATEWAY_* (docs/gateway.md)."
    },
    footer = {"", "Examples:", "  skiff gateway", "  skiff gateway --port 9080", "",
      "Exit codes: 0 stopped, 1 could not start (e.g. the port is in use), 2 usage error, 3 no connection to the broker."})
final class GatewayCommand extends BrokerCommand {

  @Option(names = "--port", paramLabel = "PORT", description = "HTTP port. Default: $SKIFF_GATEWAY_PORT, else 8080.")
  Integer port;

  @Override
  public Integer call() throws InterruptedException {
    KernelCommand.logAsALongRunningCommand();
    PrintWriter out = out();
    GatewayOptions fromEnv = given(() -> GatewayOptions.fromEnvironment(env()));
    GatewayOptions options = port == null ? fromEnv : given(() -> fromEnv.withPort(port));
    ServiceIdentities identities = given(() -> ServiceIdentities.fromEnvironment(env()));
    BrokerOption.Broker b = broker();
    AmqpTransport transport = b.connectTransport();
    Gateway gateway;
    try {
      gateway = Gateway.start(transport, identities, options);
    } catch (RuntimeException e) {
      transport.close();
      throw e;
    }
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(Threads.daemon("skiff-gateway-shutdown", () -> {
      gateway.close();
      transport.close();
      stopped.countDown();
    }));
    out.println("gateway: serving " + gateway.address() + " for the services on broker " + b.describe() + "; routes at /openapi.json");
    out.flush();
    stopped.await();
    return SkiffCli.EXIT_OK;
  }
}
