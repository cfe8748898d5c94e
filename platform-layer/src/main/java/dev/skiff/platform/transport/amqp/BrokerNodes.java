package dev.skiff.platform.transport.amqp;

import com.rabbitmq.client.Address;
import com.rabbitmq.client.ConnectionFactory;
import dev.skiff.platform.internal.Redaction;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The broker setting read as the nodes it names: one URI, or the URIs of a cluster's nodes separated by
 * commas ({@code amqp://u:p@h1:5672/vh,amqp://u:p@h2:5672/vh}; a comma splits only where a URI's scheme
 * follows it, so a password may hold commas). Every node's URI must be a valid
 * {@code amqp://} or {@code amqps://} URI, and they may differ only in host and port: one set of
 * credentials, one virtual host and one scheme for the whole cluster, as RabbitMQ keeps users and virtual
 * hosts cluster-wide. Errors never quote a password ({@link Redaction}).
 */
final class BrokerNodes {
  /** The most nodes one setting may name. */
  static final int MAX_NODES = 64;

  /** What to do about a user name or password that breaks its URI. */
  private static final String ENCODE_HINT =
      "in a user name or password, write @ / : # ? % and spaces percent-encoded (%40 %2F %3A %23 %3F %25 %20)";

  /** A comma between two nodes' URIs: one that a scheme follows. */
  private static final Pattern NODE_SEPARATOR = Pattern.compile("\\s*,\\s*(?=amqps?://)");

  private BrokerNodes() {}

  /**
   * Splits the setting at each comma that a URI's scheme follows ({@code ,amqp://} or {@code ,amqps://},
   * spaces allowed around the comma), so that a comma inside a password never splits it.
   *
   * @param uris the setting
   * @return each node's URI, trimmed, in the order given
   * @throws IllegalArgumentException for more than {@link #MAX_NODES}
   */
  static List<String> split(String uris) {
    Objects.requireNonNull(uris, "uri");
    String[] parts = NODE_SEPARATOR.split(uris.trim(), -1);
    if (parts.length > MAX_NODES) {
      throw new IllegalArgumentException("the broker setting names " + parts.length + " nodes; at most " + MAX_NODES);
    }
    return List.of(parts);
  }

  /**
   * Checks the setting.
   *
   * @param uris the setting
   * @throws IllegalArgumentException saying what is wrong, without the password
   */
  static void check(String uris) {
    List<URI> nodes = parse(uris);
    URI first = nodes.get(0);
    Set<String> seen = new HashSet<>();
    for (URI n : nodes) {
      if (!Objects.equals(first.getScheme(), n.getScheme()) || !Objects.equals(first.getRawUserInfo(), n.getRawUserInfo())
          || !Objects.equals(first.getRawPath(), n.getRawPath()) || !Objects.equals(first.getRawQuery(), n.getRawQuery())) {
        throw new IllegalArgumentException("the nodes of a broker cluster must differ only in host and port (one scheme, user, "
            + "password and virtual host): " + Redaction.of(uris));
      }
      if (!seen.add(n.getHost() + ":" + n.getPort())) {
        throw new IllegalArgumentException("the broker setting names node " + n.getHost() + (n.getPort() < 0 ? "" : ":" + n.getPort())
            + " twice: " + Redaction.of(uris));
      }
    }
  }

  /**
   * @param uris a setting that passed {@link #check}
   * @return the first node's URI: where the credentials, virtual host and TLS choice come from
   */
  static String first(String uris) {
    return split(uris).get(0);
  }

  /**
   * @param uris a setting that passed {@link #check}
   * @return each node's host and port (the scheme's default port where none is given), in order
   */
  static List<Address> addresses(String uris) {
    List<Address> out = new ArrayList<>();
    for (URI n : parse(uris)) {
      int port = n.getPort() >= 0 ? n.getPort()
          : "amqps".equals(n.getScheme()) ? ConnectionFactory.DEFAULT_AMQP_OVER_SSL_PORT : ConnectionFactory.DEFAULT_AMQP_PORT;
      out.add(new Address(n.getHost(), port));
    }
    return out;
  }

  private static List<URI> parse(String uris) {
    List<URI> out = new ArrayList<>();
    for (String uri : split(uris)) {
      out.add(parseOne(uri));
    }
    return out;
  }

  private static URI parseOne(String uri) {
    URI parsed;
    try {
      // parseServerAuthority: a host:port that does not parse must fail here, not fall back silently
      // to localhost:5672 as guest
      parsed = new URI(uri).parseServerAuthority();
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("not a valid broker URI (" + e.getReason() + "; " + ENCODE_HINT + "): " + Redaction.uri(uri));
    }
    if (!"amqp".equals(parsed.getScheme()) && !"amqps".equals(parsed.getScheme())) {
      throw new IllegalArgumentException("broker URI must start with amqp:// or amqps://: " + Redaction.uri(uri));
    }
    if (parsed.getHost() == null) {
      throw new IllegalArgumentException("broker URI names no host: " + Redaction.uri(uri));
    }
    if (parsed.getPort() == 0 || parsed.getPort() > 65535) {
      throw new IllegalArgumentException("broker URI's port must be 1 to 65535: " + Redaction.uri(uri));
    }
    // amqp://u:p@s/s@host/ parses, as host "s" and password "p": it would send the password's first part
    // to a host named by its second
    if (uri.indexOf('@') != uri.lastIndexOf('@') || (parsed.getRawUserInfo() == null && uri.indexOf('@') >= 0)) {
      throw new IllegalArgumentException("broker URI has an '@' after its host (" + ENCODE_HINT + "): " + Redaction.uri(uri));
    }
    String userInfo = parsed.getRawUserInfo();
    if (userInfo != null && userInfo.indexOf(':') != userInfo.lastIndexOf(':')) {
      // amqp-client refuses it, with a message that quotes the user-info
      throw new IllegalArgumentException("broker URI has a ':' in its password (" + ENCODE_HINT + "): " + Redaction.uri(uri));
    }
    return parsed;
  }
}
