package dev.skiff.cli;

import dev.skiff.platform.client.Client;
import java.io.PrintWriter;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * What every {@code skiff} command shares: its place under {@code skiff} (for the environment it
 * reads), the {@code --amqp} option and how the broker is chosen from it, {@code -h}, and its output
 * streams. A command that cannot reach the broker exits 3 without a line of its own
 * ({@link BrokerUnreachable}).
 */
abstract class BrokerCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Mixin BrokerOption broker;

  @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
  boolean help;

  /** @return the broker chosen by {@code --amqp}, {@code SKIFF_AMQP_URI} or the default */
  BrokerOption.Broker broker() {
    return broker.resolve(env(), spec);
  }

  /** @return the environment variables the command reads (those given to {@code skiff}) */
  Map<String, String> env() {
    return ((SkiffCli) spec.root().userObject()).env();
  }

  /**
   * @return a client on the broker chosen ({@link #broker()}) that owns its connection; close it to disconnect
   * @throws BrokerUnreachable when the broker cannot be reached (the command then exits 3)
   */
  Client connect() {
    return broker().connect();
  }

  /** @return where results go */
  PrintWriter out() {
    return spec.commandLine().getOut();
  }

  /** @return where errors and diagnostics go */
  PrintWriter err() {
    return spec.commandLine().getErr();
  }
}
