package dev.skiff.kernel.http;

import dev.skiff.platform.internal.Printable;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Who the client really is when an HTTP server (the gateway, the kernel's pages) runs behind load balancers
 * (docs/gateway.md, "Behind a proxy"): the TCP peer, unless that peer is one of the trusted proxies
 * ({@code SKIFF_GATEWAY_TRUSTED_PROXIES} or {@code SKIFF_HTTP_TRUSTED_PROXIES}, CIDRs); then the forwarding
 * header ({@code X-Forwarded-For}, or RFC 7239 {@code Forwarded} with {@code ..._FORWARDED_HEADER}) is walked
 * from the right, skipping trusted hops, and the first
 * address that is not a trusted proxy is the client. A header from a peer that is not trusted is never
 * read (a client cannot choose its own rate-limit key). A malformed entry, {@code unknown}, or an
 * obfuscated identifier stops the walk: the client is then the last trusted hop reached, the one that
 * passed the entry on. At most {@value #MAX_HOPS} entries (the rightmost) are looked at.
 *
 * <p>Addresses are parsed as literals only (never a DNS lookup). Immutable, thread-safe.
 */
public final class TrustedProxies {
  /** Which header carries the chain. */
  public enum Header {
    /** {@code X-Forwarded-For: client, proxy1, proxy2}. */
    X_FORWARDED_FOR("X-Forwarded-For"),
    /** RFC 7239 {@code Forwarded: for=client;proto=https, for="[2001:db8::1]:4711"}. */
    FORWARDED("Forwarded");

    final String headerName;

    Header(String headerName) {
      this.headerName = headerName;
    }
  }

  /** The most chain entries looked at (the rightmost ones). */
  static final int MAX_HOPS = 32;

  private static final Logger log = LoggerFactory.getLogger(TrustedProxies.class);

  private static final Pattern IPV4 = Pattern.compile("(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}");
  private static final Pattern IPV6 = Pattern.compile("[0-9A-Fa-f:.]{2,45}");
  private static final TrustedProxies NONE = new TrustedProxies(List.of(), Header.X_FORWARDED_FOR);

  /** A block of addresses. */
  record Cidr(byte[] network, int prefix) {
    boolean contains(InetAddress a) {
      byte[] b = a.getAddress();
      if (b.length != network.length) {
        return false;
      }
      int whole = prefix / 8;
      for (int i = 0; i < whole; i++) {
        if (b[i] != network[i]) {
          return false;
        }
      }
      int rest = prefix % 8;
      if (rest == 0) {
        return true;
      }
      int mask = (0xff << (8 - rest)) & 0xff;
      return (b[whole] & mask) == (network[whole] & mask);
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Cidr c && c.prefix == prefix && Arrays.equals(c.network, network);
    }

    @Override
    public int hashCode() {
      return Arrays.hashCode(network) * 31 + prefix;
    }

    @Override
    public String toString() {
      try {
        return InetAddress.getByAddress(network).getHostAddress() + "/" + prefix;
      } catch (UnknownHostException e) {
        throw new IllegalStateException(e);
      }
    }
  }

  private final List<Cidr> trusted;
  private final Header header;

  /**
   * @param trusted the proxies' address blocks
   * @param header the header they put the chain in
   */
  TrustedProxies(List<Cidr> trusted, Header header) {
    this.trusted = List.copyOf(trusted);
    this.header = Objects.requireNonNull(header, "header");
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TrustedProxies t && t.trusted.equals(trusted) && t.header == header;
  }

  @Override
  public int hashCode() {
    return trusted.hashCode() * 31 + header.hashCode();
  }

  @Override
  public String toString() {
    return trusted.isEmpty() ? "no trusted proxy" : trusted + " via " + header.headerName;
  }

  /** @return no trusted proxy: the client is always the TCP peer */
  public static TrustedProxies none() {
    return NONE;
  }

  /**
   * @param env the environment
   * @param prefix the settings' prefix: {@code SKIFF_GATEWAY_} or {@code SKIFF_HTTP_}, then
   *     {@code PREFIXTRUSTED_PROXIES} and {@code PREFIXFORWARDED_HEADER} are read
   * @return the proxies they name (none when unset)
   * @throws IllegalArgumentException naming the variable and the value that is wrong
   */
  public static TrustedProxies fromEnvironment(java.util.Map<String, String> env, String prefix) {
    return parse(env.getOrDefault(prefix + "TRUSTED_PROXIES", ""), env.getOrDefault(prefix + "FORWARDED_HEADER", ""), prefix);
  }

  /**
   * @param cidrs comma-separated blocks ({@code 10.0.0.0/8, 192.168.1.7, fd00::/8}); empty for none
   * @param header {@code X-Forwarded-For} or {@code Forwarded} (any case); empty for {@code X-Forwarded-For}
   * @param prefix the settings' prefix, for errors ({@code SKIFF_GATEWAY_}, {@code SKIFF_HTTP_})
   * @return them
   * @throws IllegalArgumentException naming the setting and the value that is wrong
   */
  public static TrustedProxies parse(String cidrs, String header, String prefix) {
    List<Cidr> blocks = new ArrayList<>();
    for (String s : cidrs.split(",")) {
      String c = s.trim();
      if (!c.isEmpty()) {
        blocks.add(cidr(c, prefix));
      }
    }
    String h = header.trim().toLowerCase(Locale.ROOT);
    Header which = switch (h) {
      case "", "x-forwarded-for" -> Header.X_FORWARDED_FOR;
      case "forwarded" -> Header.FORWARDED;
      default -> throw new IllegalArgumentException(prefix + "FORWARDED_HEADER: '" + Printable.of(header)
          + "' is neither X-Forwarded-For nor Forwarded");
    };
    TrustedProxies proxies = new TrustedProxies(blocks, which);
    if (proxies.trustsEveryone()) {
      log.warn("{}TRUSTED_PROXIES: '{}' trusts every address: any client can then choose the address it is rate-limited and "
          + "logged as (its own {}); name only your proxies' addresses", prefix, Printable.of(cidrs), proxies.headerName());
    }
    return proxies;
  }

  /** @return whether a block of prefix length 0 trusts every peer of its address family ({@code 0.0.0.0/0}, {@code ::/0}) */
  boolean trustsEveryone() {
    return trusted.stream().anyMatch(c -> c.prefix() == 0);
  }

  private static Cidr cidr(String text, String settings) {
    int slash = text.indexOf('/');
    String addr = slash < 0 ? text : text.substring(0, slash);
    InetAddress a = literal(addr);
    if (a == null) {
      throw new IllegalArgumentException(settings + "TRUSTED_PROXIES: '" + Printable.of(text) + "' is not an address or CIDR block");
    }
    int bits = a.getAddress().length * 8;
    int prefix = bits;
    if (slash >= 0) {
      String p = text.substring(slash + 1);
      if (!p.matches("[0-9]{1,3}") || Integer.parseInt(p) > bits) {
        throw new IllegalArgumentException(settings + "TRUSTED_PROXIES: '" + Printable.of(text) + "' has a prefix length that is not 0 to " + bits);
      }
      prefix = Integer.parseInt(p);
    }
    return new Cidr(a.getAddress(), prefix);
  }

  /** @return the header the chain is read from */
  public String headerName() {
    return header.headerName;
  }

  /** @return whether any proxy is trusted (else the header is never read) */
  public boolean any() {
    return !trusted.isEmpty();
  }

  /** @return the trusted blocks */
  List<Cidr> blocks() {
    return trusted;
  }

  /**
   * @param peer the TCP peer's address, as the server gives it
   * @param values the forwarding header's values, in the order received (empty when absent)
   * @return the client's address: the peer's, or from the chain when the peer is a trusted proxy
   */
  public String client(String peer, List<String> values) {
    InetAddress hop = literal(peer);
    if (hop == null || trusted.isEmpty() || !isTrusted(hop) || values.isEmpty()) {
      return hop == null ? peer : hop.getHostAddress();
    }
    List<String> chain = entries(values);
    for (int i = chain.size() - 1; i >= 0 && i >= chain.size() - MAX_HOPS; i--) {
      InetAddress next = literal(header == Header.FORWARDED ? forwardedNode(chain.get(i)) : stripPort(chain.get(i)));
      if (next == null) {
        return hop.getHostAddress(); // malformed, unknown or obfuscated: go no further than the proxy that passed it on
      }
      hop = next;
      if (!isTrusted(hop)) {
        return hop.getHostAddress();
      }
    }
    return hop.getHostAddress();
  }

  private boolean isTrusted(InetAddress a) {
    for (Cidr c : trusted) {
      if (c.contains(a)) {
        return true;
      }
    }
    return false;
  }

  /** @return the comma-separated entries of all the values, in order (at most the last MAX_HOPS + 1 matter) */
  private List<String> entries(List<String> values) {
    List<String> out = new ArrayList<>();
    for (String v : values) {
      if (header == Header.FORWARDED) {
        splitForwarded(v, out);
      } else {
        for (String e : v.split(",", -1)) {
          out.add(e.trim());
        }
      }
    }
    return out;
  }

  /** Splits a Forwarded value on commas that are outside quoted strings. */
  private static void splitForwarded(String v, List<String> out) {
    boolean quoted = false;
    int start = 0;
    for (int i = 0; i < v.length(); i++) {
      char c = v.charAt(i);
      if (c == '"') {
        quoted = !quoted;
      } else if (c == ',' && !quoted) {
        out.add(v.substring(start, i).trim());
        start = i + 1;
      }
    }
    out.add(v.substring(start).trim());
  }

  /** @return the {@code for=} node of one Forwarded element without quotes and port, or null when it has none */
  private static String forwardedNode(String element) {
    String node = null;
    for (String pair : element.split(";", -1)) {
      int eq = pair.indexOf('=');
      if (eq > 0 && pair.substring(0, eq).trim().equalsIgnoreCase("for")) {
        if (node != null) {
          return null; // two for= in one element: malformed
        }
        node = pair.substring(eq + 1).trim();
      }
    }
    if (node == null) {
      return null;
    }
    if (node.length() >= 2 && node.startsWith("\"") && node.endsWith("\"")) {
      node = node.substring(1, node.length() - 1);
    }
    return stripPort(node);
  }

  /** @return an address without brackets or port ({@code [::1]:80}, {@code 1.2.3.4:80}); as is otherwise */
  private static String stripPort(String s) {
    if (s.startsWith("[")) {
      int end = s.indexOf(']');
      if (end < 0 || (end + 1 < s.length() && !(s.charAt(end + 1) == ':' && isPort(s.substring(end + 2))))) {
        return null;
      }
      return s.substring(1, end);
    }
    int colon = s.indexOf(':');
    if (colon > 0 && colon == s.lastIndexOf(':')) {
      return isPort(s.substring(colon + 1)) ? s.substring(0, colon) : null;
    }
    return s;
  }

  private static boolean isPort(String p) {
    return p.matches("[0-9]{1,5}") && Integer.parseInt(p) <= 65535;
  }

  /** @return the address that the text is a literal of, or null (never a name lookup) */
  static InetAddress literal(String s) {
    if (s == null || s.isEmpty() || s.length() > 47) {
      return null;
    }
    if (s.startsWith("[") && s.endsWith("]")) {
      s = s.substring(1, s.length() - 1);
    }
    boolean v4 = IPV4.matcher(s).matches();
    if (!v4 && !(s.indexOf(':') >= 0 && IPV6.matcher(s).matches())) {
      return null; // a name, "unknown", "_hidden", garbage: InetAddress would look a name up
    }
    try {
      return InetAddress.getByName(s); // a literal: parsed, not resolved
    } catch (UnknownHostException e) {
      return null;
    }
  }
}
