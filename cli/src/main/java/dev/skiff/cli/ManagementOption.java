package dev.skiff.cli;

import dev.skiff.platform.transport.amqp.AmqpOptions;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/**
 * The {@code --management} option of the {@code skiff credentials} commands: where RabbitMQ's HTTP
 * management API is, and as which administrator to use it. By default the broker's host on port 15672
 * (15671 for amqps), as the user of the broker URI; the virtual host is always the broker URI's. With a
 * node list, the first node's host, user and virtual host.
 */
final class ManagementOption {
  /** The environment variable naming the management API when {@code --management} is not given. */
  static final String ENV = "SKIFF_BROKER_MANAGEMENT_URI";

  @Option(
      names = "--management",
      paramLabel = "URL",
      description = {
        "RabbitMQ's management API (as an administrator):",
        "  http[s]://USER:PASSWORD@HOST:PORT",
        "Default: $" + ENV + ", else the broker's host on port 15672 as the broker URI's user."
      })
  String url;

  /**
   * @param env the environment
   * @param broker the broker chosen by {@code --amqp}
   * @param spec the command, for usage errors
   * @return the API
   */
  ManagementApi resolve(Map<String, String> env, AmqpOptions broker, CommandSpec spec) {
    String chosen = url != null ? url.trim() : env.getOrDefault(ENV, "").trim();
    try {
      URI amqp = new URI(firstNode(broker));
      URI api;
      if (chosen.isEmpty()) {
        boolean tls = "amqps".equals(amqp.getScheme());
        api = new URI((tls ? "https" : "http") + "://" + amqp.getHost() + ":" + (tls ? 15671 : 15672) + "/");
        return new ManagementApi(api, user(amqp, "guest"), password(amqp, "guest"));
      }
      URI given = new URI(chosen).parseServerAuthority();
      if (!"http".equals(given.getScheme()) && !"https".equals(given.getScheme()) || given.getHost() == null) {
        throw new URISyntaxException(AmqpOptions.redact(chosen), "not an http:// or https:// URL with a host");
      }
      if (chosen.indexOf('@') != chosen.lastIndexOf('@') || (given.getRawUserInfo() == null && chosen.indexOf('@') >= 0)) {
        // http://u:p@ss@host/ parses as host "ss": the password's first part would go to a host named by its second
        throw new URISyntaxException(AmqpOptions.redact(chosen),
            "an '@' after the host (in a user name or password, write @ / : # ? % and spaces as %40 %2F %3A %23 %3F %25 %20)");
      }
      api = new URI(given.getScheme(), null, given.getHost(), given.getPort(), "/", null, null);
      return new ManagementApi(api, user(given, "guest"), password(given, "guest"));
    } catch (URISyntaxException e) {
      throw new ParameterException(spec.commandLine(), "invalid management URL: " + AmqpOptions.redact(e.getMessage()));
    }
  }

  /**
   * @param broker the broker chosen by {@code --amqp}
   * @return the virtual host its URI names ("/" when none)
   */
  static String vhost(AmqpOptions broker) {
    String path = URI.create(firstNode(broker)).getRawPath();
    if (path == null || path.length() <= 1) {
      return "/";
    }
    return URLDecoder.decode(path.substring(1), StandardCharsets.UTF_8);
  }

  /**
   * The first node's URI of a broker chosen by a node list ({@code amqp://…,amqp://…}): every node of a
   * cluster has the same user, password and virtual host ({@code BrokerNodes} checks it), and the list as a
   * whole is no URI: read as one, the rest of the list became the virtual host's name, second node's
   * password and all.
   */
  private static String firstNode(AmqpOptions broker) {
    return broker.nodeUris().get(0);
  }

  private static String user(URI u, String dflt) {
    String info = u.getRawUserInfo();
    if (info == null) {
      return dflt;
    }
    int colon = info.indexOf(':');
    return URLDecoder.decode(colon < 0 ? info : info.substring(0, colon), StandardCharsets.UTF_8);
  }

  private static String password(URI u, String dflt) {
    String info = u.getRawUserInfo();
    int colon = info == null ? -1 : info.indexOf(':');
    return colon < 0 ? dflt : URLDecoder.decode(info.substring(colon + 1), StandardCharsets.UTF_8);
  }
}
