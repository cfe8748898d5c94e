package dev.skiff.cli;

import dev.skiff.kernel.Kernel;
import dev.skiff.kernel.KernelService;
import dev.skiff.kernel.WebServer;
import dev.skiff.platform.config.Settings;
import dev.skiff.platform.security.ServiceIdentities;
import dev.skiff.platform.metrics.MonitoringOptions;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import dev.skiff.platform.internal.Threads;
import java.io.PrintWriter;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code skiff kernel}: every kernel service (or those named) in one process, for development. */
@Command(
    name = "kernel",
    header = "Runs the kernel services (discovery, routing, health, traces, login, config) and their pages.",
    description = {
      "Runs the kernel services (discovery, binding, monitoring, tracing, login,",
      "config, ... as installed) in this process, with their web pages at",
      "http://localhost:PORT/, until interrupted."
    },
    footer = {"", "Examples:", "  skiff kernel", "  SKIFF_BOOTSTRAP_ADMIN_PASSWORD=... skiff kernel --http-port 9090 login config", "",
      "Exit codes: 0 stopped, 1 could not start (e.g. the web port is in use), 2 usage error, 3 no connection to the broker."})
final class KernelCommand extends BrokerCommand {

  @Parameters(arity = "0..*", paramLabel = "SERVICE", description = "Kernel services to run; default: all.")
  List<String> names = List.of();

  @Option(names = "--http-port", paramLabel = "PORT", description = "Web port. Default: $SKIFF_HTTP_PORT, else 8090.")
  Integer httpPort;

  /**
   * The log of a long-running command ({@code skiff kernel}, {@code skiff gateway}): INFO and worse, each line
   * with its time and thread as a service's ({@code 01:15:27.899 [main] INFO dev.skiff... - ...}), and a lost
   * broker connection, where the short commands log warnings only ({@code simplelogger.properties}). SLF4J's
   * simple logger reads these system properties when the first logger is made, so they are set first thing; a
   * property the user set (e.g. in {@code SKIFF_JAVA_OPTS}) is kept.
   */
  static final Map<String, String> LONG_RUNNING_LOG = Map.of(
      "org.slf4j.simpleLogger.defaultLogLevel", "info",
      "org.slf4j.simpleLogger.showDateTime", "true",
      "org.slf4j.simpleLogger.dateTimeFormat", "HH:mm:ss.SSS",
      "org.slf4j.simpleLogger.showThreadName", "true",
      "org.slf4j.simpleLogger.showShortLogName", "false",
      "org.slf4j.simpleLogger.levelInBrackets", "false",
      "org.slf4j.simpleLogger.log.com.rabbitmq", "warn",
      // a lost broker connection is said, as a service says it (a short command reports it in its own words)
      "org.slf4j.simpleLogger.log.dev.skiff.platform.transport.amqp.DriverErrors", "info");

  /**
   * Sets {@link #LONG_RUNNING_LOG} as system properties, each unless set already. Without effect once a
   * logger has been made in this JVM.
   */
  static void logAsALongRunningCommand() {
    LONG_RUNNING_LOG.forEach((name, value) -> {
      if (System.getProperty(name) == null) {
        System.setProperty(name, value);
      }
    });
  }

  @Override
  public Integer call() throws InterruptedException {
    logAsALongRunningCommand();
    PrintWriter out = out();
    PrintWriter err = err();
    List<KernelService> chosen = given(() -> Kernel.select(Kernel.available(), new LinkedHashSet<>(names)));
    int port = given(() -> httpPort != null ? httpPort : Kernel.httpPort(env()));
    given(() -> MonitoringOptions.fromEnvironment(env()));
    WebServer.Options web = given(() -> WebServer.Options.fromEnvironment(env()));
    BrokerOption.Broker b = broker();
    AmqpTransport transport = b.connectTransport();
    Kernel kernel;
    try {
      kernel = Kernel.start(transport, Settings.fromEnvironment(env()), ServiceIdentities.fromEnvironment(env()), chosen, port, web);
    } catch (RuntimeException e) {
      transport.close();
      throw e;
    }
    Runtime.getRuntime().addShutdownHook(Threads.daemon("skiff-kernel-shutdown", () -> {
      kernel.close();
      transport.close();
    }));
    out.println("kernel: running " + kernel.services().stream().map(KernelService::name).toList() + " on broker "
        + b.describe() + "; pages at " + (web.tls().isPresent() ? "https" : "http") + "://localhost:" + kernel.web().port() + "/");
    out.flush();
    kernel.awaitTermination();
    return SkiffCli.EXIT_OK;
  }
}
