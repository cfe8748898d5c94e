package dev.skiff.cli;

import dev.skiff.platform.SkiffException;
import dev.skiff.platform.transport.amqp.AmqpOptions;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.Map;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/** The {@code --amqp} option every command has, and how the broker is chosen. */
final class BrokerOption {
  /** The environment variable naming the broker when {@code --amqp} is not given. */
  static final String ENV = "SKIFF_AMQP_URI";

  @Option(
      names = "--amqp",
      paramLabel = "URI",
      description = {
        "The broker's amqp:// or amqps:// URI; for a cluster,",
        "  its nodes' URIs separated by commas.",
        "Default: $" + ENV + ", else",
        "  " + AmqpOptions.DEFAULT_URI
      })
  String uri;

  /**
   * Chooses the broker: {@code --amqp}, else {@code SKIFF_AMQP_URI}, else the platform default; a cluster's
   * nodes' URIs separated by commas in either.
   *
   * @param env the environment
   * @param spec the command, for usage errors
   * @return the broker and where its address came from
   * @throws ParameterException when the chosen URI is not an amqp:// or amqps:// URI
   */
  Broker resolve(Map<String, String> env, CommandSpec spec) {
    String chosen;
    String source;
    if (uri != null) {
      chosen = uri.trim();
      source = "--amqp";
    } else if (env.get(ENV) != null && !env.get(ENV).isBlank()) {
      chosen = env.get(ENV).trim();
      source = ENV;
    } else {
      chosen = AmqpOptions.DEFAULT_URI;
      source = "default";
    }
    try {
      AmqpOptions options = AmqpOptions.of(chosen).withConnectionName("skiff-cli");
      // a cluster's nodes, separated by commas: each must name its server
      for (String node : options.nodeUris()) {
        checkServerAddress(node);
      }
      return new Broker(options, source, spec);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(
          spec.commandLine(), "invalid broker URI (from " + source + "): " + AmqpOptions.redact(e.getMessage()));
    }
  }

  /**
   * Rejects a URI whose authority is not [user[:password]@]host[:port]: the AMQP client would silently
   * ignore such an authority, user and password included, and connect to localhost as guest. (An empty
   * authority, as in {@code amqp:///vhost}, is the AMQP URI spec's way to say localhost, and passes.)
   */
  private static void checkServerAddress(String uri) {
    URI parsed;
    try {
      parsed = new URI(uri).parseServerAuthority();
    } catch (URISyntaxException e) {
      // not e.getMessage(), which quotes the URI whole; nor e as the cause
      throw new IllegalArgumentException(e.getReason()
          + " (in a user name or password, write @ / : # ? % and spaces as %40 %2F %3A %23 %3F %25 %20): " + AmqpOptions.redact(uri));
    }
    if (parsed.getRawAuthority() != null && parsed.getHost() == null) {
      throw new IllegalArgumentException("no host in " + AmqpOptions.redact(uri));
    }
  }

  /**
   * A chosen broker.
   *
   * @param options the transport options to connect with
   * @param source where the URI came from: {@code --amqp}, {@code SKIFF_AMQP_URI} or {@code default}
   * @param spec the command, for usage errors
   */
  record Broker(AmqpOptions options, String source, CommandSpec spec) {
    /** @return the address without its password, and where it came from */
    String describe() {
      return AmqpOptions.redact(options.uri()) + " (from " + source + ")";
    }

    /**
     * Connects.
     *
     * @return the transport; close it to disconnect
     * @throws BrokerUnreachable when the broker cannot be reached or refuses the connection (the command then
     *     exits 3)
     * @throws ParameterException when the URI is malformed in a way only the AMQP client notices
     */
    AmqpTransport connectTransport() {
      AmqpTransport transport;
      try {
        transport = AmqpTransport.connect(options);
      } catch (SkiffException e) {
        throw new BrokerUnreachable(e, switch (e.code()) {
          case UNAUTHORIZED -> "(check the user name and password in the broker URI from " + source
              + "; write @ / : # ? % and spaces in them as %40 %2F %3A %23 %3F %25 %20)";
          case FORBIDDEN -> "(the broker user of the broker URI from " + source + " may not use that virtual host, "
              + "or the broker has none of that name: give the URI of one it may, with --amqp)";
          default -> null;
        });
      } catch (IllegalArgumentException e) {
        String why = e.getCause() == null ? "" : ": " + e.getCause().getMessage();
        throw new ParameterException(
            spec.commandLine(),
            AmqpOptions.redact(e.getMessage() + why) + " (from " + source + ")");
      }
      return transport;
    }
  }
}
