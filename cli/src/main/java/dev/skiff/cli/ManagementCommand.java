package dev.skiff.cli;

import picocli.CommandLine.Mixin;

/** A {@code skiff credentials} command: a broker command that also uses RabbitMQ's management API. */
abstract class ManagementCommand extends BrokerCommand {
  @Mixin ManagementOption management;

  /** @return the management API, as {@code --management} or the broker URI says */
  ManagementApi api() {
    return management.resolve(env(), broker().options(), spec);
  }

  /** @return the virtual host of the broker URI */
  String vhost() {
    return ManagementOption.vhost(broker().options());
  }
}
