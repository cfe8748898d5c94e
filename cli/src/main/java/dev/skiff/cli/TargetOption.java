package dev.skiff.cli;

import dev.skiff.platform.client.CallOptions;
import picocli.CommandLine.Option;

/** The {@code --instance} and {@code --version} options of the commands that call a service's endpoint. */
final class TargetOption {
  @Option(names = "--instance", paramLabel = "ID", converter = TargetConverters.Instance.class, description = "Call only this instance of the service.")
  String instance;

  @Option(
      names = "--version",
      paramLabel = "VERSION",
      converter = TargetConverters.Version.class,
      description = "Call only this version of the service (any of its instances), whatever the routing rule.")
  String version;

  /**
   * @param options the calls' options so far
   * @return them, sent to the instance or version given, if any
   * @throws IllegalArgumentException when both are given (an instance has one version: one or the other)
   */
  CallOptions applyTo(CallOptions options) {
    if (instance != null && version != null) {
      throw new IllegalArgumentException("give --instance or --version, not both: an instance runs one version");
    }
    CallOptions o = options;
    if (instance != null) {
      o = o.withInstance(instance);
    }
    if (version != null) {
      o = o.withVersion(version);
    }
    return o;
  }
}
