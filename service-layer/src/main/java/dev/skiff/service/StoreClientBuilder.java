package dev.skiff.service;

import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.health.HealthCheckRegistry;
import dev.skiff.platform.config.Config;
import dev.skiff.platform.config.LayeredConfig;
import dev.skiff.service.internal.SettingChecks;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * What every service-layer client is built from: its configuration (live or fixed), the config subtree
 * it reads, its name, where its metrics and health check go, and whether its store is required at start.
 *
 * @param <C> the client type
 * @param <B> the concrete builder type
 */
public abstract class StoreClientBuilder<C, B extends StoreClientBuilder<C, B>> {
  private LayeredConfig live;
  private Config fixed = Config.empty();
  private String path;
  private String name;
  private MetricRegistry metrics;
  private HealthCheckRegistry healthChecks;
  private Duration requiredAtStart = Duration.ZERO;
  private final Function<B, C> client;

  /**
   * @param defaultPath the config subtree read unless {@link #path(String)} names another
   * @param client makes the client from this builder: reads and checks its settings, does not connect
   */
  protected StoreClientBuilder(String defaultPath, Function<B, C> client) {
    this.path = Objects.requireNonNull(defaultPath, "defaultPath");
    this.client = Objects.requireNonNull(client, "client");
  }

  /** @return this builder, typed as the concrete builder (the {@code B} a subclass declares itself as) */
  @SuppressWarnings("unchecked")
  private B self() {
    return (B) this;
  }

  /**
   * Reads settings from live configuration and follows its changes (of the hosts, among others).
   *
   * @param config the configuration
   * @return this
   */
  public B config(LayeredConfig config) {
    this.live = Objects.requireNonNull(config, "config");
    return self();
  }

  /**
   * Reads settings from a fixed configuration (no live changes).
   *
   * @param config the configuration
   * @return this
   */
  public B config(Config config) {
    this.fixed = Objects.requireNonNull(config, "config");
    this.live = null;
    return self();
  }

  /**
   * @param path the config subtree of this client (default: the store's name, e.g. {@code cassandra})
   * @return this
   */
  public B path(String path) {
    this.path = Objects.requireNonNull(path, "path");
    return self();
  }

  /**
   * @param name the health check's name and the metrics' prefix (default: the config path)
   * @return this
   */
  public B name(String name) {
    this.name = Objects.requireNonNull(name, "name");
    return self();
  }

  /**
   * @param metrics where the client's metrics go (default: a registry of its own)
   * @return this
   */
  public B metrics(MetricRegistry metrics) {
    this.metrics = Objects.requireNonNull(metrics, "metrics");
    return self();
  }

  /**
   * @param healthChecks where the client's health check goes (default: a registry of its own)
   * @return this
   */
  public B healthChecks(HealthCheckRegistry healthChecks) {
    this.healthChecks = Objects.requireNonNull(healthChecks, "healthChecks");
    return self();
  }

  /**
   * Makes the store required at start: the client's {@code start()} waits up to {@code wait} for it and,
   * when it did not answer, throws {@link StoreUnavailableAtStart}. Where the store's settings read
   * {@code required-at-start} (Cassandra, ZooKeeper), that setting, when present, wins. Zero (the
   * default): not required; start succeeds while the store is down, and the client connects when it
   * answers.
   *
   * @param wait how long start waits for the store, at most 24h
   * @return this
   * @throws IllegalArgumentException if {@code wait} is negative or over 24h
   */
  public B requiredAtStart(Duration wait) {
    if (wait.isNegative() || wait.compareTo(SettingChecks.MAX_TIMEOUT) > 0) {
      throw new IllegalArgumentException("requiredAtStart must be 0 to 24h: " + wait);
    }
    this.requiredAtStart = wait;
    return self();
  }

  /**
   * Reads and checks the settings; does not connect.
   *
   * @return the client, not started
   * @throws dev.skiff.platform.config.ConfigException naming the key when a setting is invalid
   */
  public C build() {
    return client.apply(self());
  }

  /** @return the choices made, with their defaults filled in */
  public Setup setup() {
    return new Setup(
        live, fixed, path, name == null ? path : name, metrics == null ? new MetricRegistry() : metrics,
        healthChecks == null ? new HealthCheckRegistry() : healthChecks, requiredAtStart);
  }

  /**
   * What a client is built from, defaults filled in.
   *
   * @param live the live configuration, or null
   * @param fixed the fixed configuration (used when {@code live} is null)
   * @param path the config subtree
   * @param name the health check's name and metrics prefix
   * @param metrics where metrics go
   * @param healthChecks where the health check goes
   * @param requiredAtStart the builder's {@link StoreClientBuilder#requiredAtStart}: zero, or how long start waits
   */
  public record Setup(
      LayeredConfig live,
      Config fixed,
      String path,
      String name,
      MetricRegistry metrics,
      HealthCheckRegistry healthChecks,
      Duration requiredAtStart) {
    /** @return the client's section of the configuration ({@code path}), as it is now */
    public Config section() {
      return (live != null ? live.current() : fixed).at(path);
    }

    /**
     * How long start waits for a store whose settings read {@code required-at-start}.
     *
     * @param setting that setting, as the store's settings read it
     * @return the setting when the client's section sets {@code required-at-start}, else the builder's
     *     {@link #requiredAtStart()}
     */
    public Duration requiredAtStart(Duration setting) {
      return section().has("required-at-start") ? setting : requiredAtStart;
    }

    /**
     * Follows the live configuration of the client's section: every change is first read with
     * {@code parse} (a change it refuses is refused, with its reason, before it is committed), then
     * applied. Nothing to follow with a fixed configuration.
     *
     * @param parse reads the section into settings; throws on an invalid one
     * @param apply takes new settings
     * @param <S> the settings type
     * @return the subscriptions, to close with the client
     */
    public <S> List<LayeredConfig.Subscription> follow(Function<Config, S> parse, Consumer<S> apply) {
      if (live == null) {
        return List.of();
      }
      return List.of(live.addValidator(c -> parse.apply(c.at(path))), live.onChange(path, c -> apply.accept(parse.apply(c.at(path)))));
    }
  }
}
