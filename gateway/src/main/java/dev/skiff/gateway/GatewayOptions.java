package dev.skiff.gateway;

import dev.skiff.kernel.WebServer;
import dev.skiff.kernel.http.TrustedProxies;
import dev.skiff.platform.config.Durations;
import dev.skiff.platform.internal.Printable;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The gateway's settings (docs/gateway.md, "Settings"). Immutable.
 *
 * @param port the port ({@code SKIFF_GATEWAY_PORT}, default 8080; 0 for any free one)
 * @param http the server's limits: idle timeout, connections, threads, header bytes
 *     ({@code SKIFF_GATEWAY_IDLE_TIMEOUT}, {@code SKIFF_GATEWAY_MAX_CONNECTIONS}, {@code SKIFF_GATEWAY_MAX_THREADS},
 *     {@code SKIFF_GATEWAY_MAX_HEADER_BYTES}; the kernel's pages' defaults: 30 s, 256, 32, 8 KiB), the trusted
 *     proxies and the sign-in pace ({@link #proxies()}, {@link #signInsPerMinute()}), and TLS
 *     ({@code SKIFF_GATEWAY_TLS_KEYSTORE}, {@code SKIFF_GATEWAY_TLS_KEYSTORE_PASSWORD}; default plain HTTP)
 * @param maxBodyBytes the largest request body; larger is 413 ({@code SKIFF_GATEWAY_MAX_BODY_BYTES}, default 1 MiB)
 * @param cors the origins browsers may read answers from ({@code SKIFF_GATEWAY_CORS_ORIGINS}, comma-separated;
 *     default none)
 * @param ratePerAddress requests a second per client address ({@code SKIFF_GATEWAY_RATE_PER_ADDRESS}, default 200),
 *     with a burst of as many
 * @param ratePerUser requests a second per signed-in person ({@code SKIFF_GATEWAY_RATE_PER_USER}, default 100),
 *     with a burst of as many
 * @param maxRateKeys the most addresses and people each rate table remembers ({@code SKIFF_GATEWAY_RATE_TABLE},
 *     default 100,000)
 * @param drain how long stopping waits for requests in progress ({@code SKIFF_GATEWAY_DRAIN}, default 10 s)
 * @param stopGrace how long stopping goes on serving everything, {@code /readyz} answering 503, before it
 *     stops accepting and drains: time for a load balancer's health check to see it and turn away
 *     ({@code SKIFF_GATEWAY_STOP_GRACE}, default {@link #DEFAULT_STOP_GRACE})
 */
public record GatewayOptions(int port, WebServer.Options http, int maxBodyBytes, Cors cors, int ratePerAddress,
    int ratePerUser, int maxRateKeys, Duration drain, Duration stopGrace) {
  /** The default port. */
  public static final int DEFAULT_PORT = 8080;
  /**
   * The default stop grace: a few seconds, for a load balancer whose health check runs every few
   * seconds (one with a longer interval wants it as long).
   */
  public static final Duration DEFAULT_STOP_GRACE = Duration.ofSeconds(5);

  private static final Pattern ORIGIN = Pattern.compile("https?://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?");

  /** Checks the values. */
  public GatewayOptions {
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("port must be from 0 to 65535: " + port);
    }
    Objects.requireNonNull(http, "http");
    Objects.requireNonNull(cors, "cors");
    if (maxBodyBytes < 0 || ratePerAddress < 1 || ratePerUser < 1 || maxRateKeys < 1) {
      throw new IllegalArgumentException("body limit, rates and rate table size must be positive");
    }
    if (drain.isNegative()) {
      throw new IllegalArgumentException("drain must not be negative");
    }
    if (stopGrace.isNegative()) {
      throw new IllegalArgumentException("stop grace must not be negative");
    }
  }

  /** @return port 8080 and the defaults above */
  public static GatewayOptions defaults() {
    return new GatewayOptions(DEFAULT_PORT, WebServer.Options.defaults(), 1 << 20, new Cors(Set.of()), 200, 100, 100_000,
        Duration.ofSeconds(10), DEFAULT_STOP_GRACE);
  }

  /**
   * @return sign-ins ({@code POST /auth/v1/login}) a minute per client address ({@code SKIFF_GATEWAY_SIGN_INS_PER_MINUTE},
   *     default 60), with a burst of a sixth as many (at least 1); on top of the login service's own slowing down
   *     and locking of a name that fails again and again
   */
  public int signInsPerMinute() {
    return http.signInsPerMinute();
  }

  /**
   * @return the load balancers whose forwarding header names the client ({@code SKIFF_GATEWAY_TRUSTED_PROXIES}, CIDRs,
   *     default none; {@code SKIFF_GATEWAY_FORWARDED_HEADER}, {@code X-Forwarded-For} or {@code Forwarded})
   */
  public TrustedProxies proxies() {
    return http.proxies();
  }

  /**
   * @param env the environment
   * @return the settings it gives, defaults for the rest
   * @throws IllegalArgumentException naming a variable whose value is wrong
   */
  public static GatewayOptions fromEnvironment(Map<String, String> env) {
    GatewayOptions d = defaults();
    Duration drainFor = duration(env, "SKIFF_GATEWAY_DRAIN", d.drain());
    Duration graceFor = duration(env, "SKIFF_GATEWAY_STOP_GRACE", d.stopGrace());
    return new GatewayOptions(
        (int) WebServer.Options.number(env, "SKIFF_GATEWAY_PORT", d.port(), 0, 65535),
        WebServer.Options.fromEnvironment(env, "SKIFF_GATEWAY_"),
        (int) WebServer.Options.number(env, "SKIFF_GATEWAY_MAX_BODY_BYTES", d.maxBodyBytes(), 0, 64L << 20),
        new Cors(origins(env.getOrDefault("SKIFF_GATEWAY_CORS_ORIGINS", ""))),
        (int) WebServer.Options.number(env, "SKIFF_GATEWAY_RATE_PER_ADDRESS", d.ratePerAddress(), 1, 1_000_000),
        (int) WebServer.Options.number(env, "SKIFF_GATEWAY_RATE_PER_USER", d.ratePerUser(), 1, 1_000_000),
        (int) WebServer.Options.number(env, "SKIFF_GATEWAY_RATE_TABLE", d.maxRateKeys(), 1, 10_000_000),
        drainFor, graceFor);
  }

  /**
   * @param env the environment
   * @param name a variable holding a duration ({@code 10s}, {@code 500ms})
   * @param otherwise its default
   * @return its value, or the default when it is unset or blank
   * @throws IllegalArgumentException naming the variable when its value is not a duration
   */
  private static Duration duration(Map<String, String> env, String name, Duration otherwise) {
    String value = env.getOrDefault(name, "").trim();
    try {
      return value.isEmpty() ? otherwise : Durations.parse(value);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(name + ": " + e.getMessage());
    }
  }

  /**
   * @param list comma-separated origins
   * @return them
   * @throws IllegalArgumentException naming one that is not {@code http(s)://host[:port]}
   */
  static Set<String> origins(String list) {
    return Arrays.stream(list.split(",")).map(String::trim).filter(s -> !s.isEmpty()).peek(o -> {
      if (!ORIGIN.matcher(o).matches()) {
        throw new IllegalArgumentException("SKIFF_GATEWAY_CORS_ORIGINS: '" + Printable.of(o)
            + "' is not an origin (scheme://host[:port], no path)");
      }
    }).collect(Collectors.toUnmodifiableSet());
  }

  /** @param port the port @return these options with it */
  public GatewayOptions withPort(int port) {
    return new GatewayOptions(port, http, maxBodyBytes, cors, ratePerAddress, ratePerUser, maxRateKeys, drain, stopGrace);
  }

  /** @param http the server's limits @return these options with them */
  public GatewayOptions withHttp(WebServer.Options http) {
    return new GatewayOptions(port, http, maxBodyBytes, cors, ratePerAddress, ratePerUser, maxRateKeys, drain, stopGrace);
  }

  /** @param bytes the largest request body @return these options with it */
  public GatewayOptions withMaxBodyBytes(int bytes) {
    return new GatewayOptions(port, http, bytes, cors, ratePerAddress, ratePerUser, maxRateKeys, drain, stopGrace);
  }

  /** @param origins the allowed origins @return these options with them */
  public GatewayOptions withCorsOrigins(Set<String> origins) {
    return new GatewayOptions(port, http, maxBodyBytes, new Cors(origins), ratePerAddress, ratePerUser, maxRateKeys, drain, stopGrace);
  }

  /**
   * @param cidrs the trusted proxies, comma-separated CIDRs
   * @param header {@code X-Forwarded-For} or {@code Forwarded}
   * @return these options with them
   */
  public GatewayOptions withTrustedProxies(String cidrs, String header) {
    return withHttp(http.withTrustedProxies(TrustedProxies.parse(cidrs, header, "SKIFF_GATEWAY_")));
  }

  /** @param perAddress per client address @param perUser per person @return these options with those rates */
  public GatewayOptions withRates(int perAddress, int perUser) {
    return new GatewayOptions(port, http, maxBodyBytes, cors, perAddress, perUser, maxRateKeys, drain, stopGrace);
  }

  /** @param grace how long stopping serves on, not ready, before it drains @return these options with it */
  public GatewayOptions withStopGrace(Duration grace) {
    return new GatewayOptions(port, http, maxBodyBytes, cors, ratePerAddress, ratePerUser, maxRateKeys, drain, grace);
  }

  /** @param perMinute sign-ins a minute per client address @return these options with it */
  public GatewayOptions withSignInsPerMinute(int perMinute) {
    return withHttp(http.withSignInsPerMinute(perMinute));
  }
}
