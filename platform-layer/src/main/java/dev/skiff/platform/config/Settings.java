package dev.skiff.platform.config;

import dev.skiff.platform.internal.Redaction;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * The settings every Skiff process reads from its environment: the broker and the bounds of a service.
 *
 * <table>
 *   <caption>Environment variables</caption>
 *   <tr><th>variable</th><th>meaning</th><th>default</th></tr>
 *   <tr><td>SKIFF_AMQP_URI</td><td>the broker; for a cluster, its nodes' URIs separated by commas (tried in a
 *       random order, and again at each reconnection; docs/operations.md)</td><td>amqp://guest:guest@localhost:5672</td></tr>
 *   <tr><td>SKIFF_QUEUE_TYPE</td><td>{@code classic} or {@code quorum}: how the service's request queues are
 *       kept ({@link QueueType})</td><td>quorum when SKIFF_AMQP_URI lists several nodes, else classic</td></tr>
 *   <tr><td>SKIFF_SERVICE_VERSION</td><td>overrides the version an instance reports</td><td>the code's</td></tr>
 *   <tr><td>SKIFF_INSTANCE_ID</td><td>this instance's id</td><td>random</td></tr>
 *   <tr><td>SKIFF_CONCURRENCY</td><td>handlers running at once</td><td>16</td></tr>
 *   <tr><td>SKIFF_PREFETCH</td><td>unsettled requests held per queue</td><td>2 × concurrency</td></tr>
 *   <tr><td>SKIFF_MAX_MESSAGE_BYTES</td><td>largest request or response body</td><td>4194304</td></tr>
 *   <tr><td>SKIFF_MAX_IN_FLIGHT_BYTES</td><td>most bytes of request bodies an instance holds at once</td><td>67108864</td></tr>
 *   <tr><td>SKIFF_MAX_DELIVERIES</td><td>times a request may reach an instance, each ending unsettled, before it
 *       is set aside (docs/security.md "Hostile input")</td><td>5</td></tr>
 *   <tr><td>SKIFF_DEFAULT_TIMEOUT</td><td>a call's timeout when it names none</td><td>5s</td></tr>
 *   <tr><td>SKIFF_DRAIN_GRACE</td><td>how long close() lets in-flight requests finish</td><td>10s</td></tr>
 *   <tr><td>SKIFF_HEARTBEAT</td><td>how often an instance announces itself (forgotten after 3 missed)</td><td>2s</td></tr>
 *   <tr><td>SKIFF_OUTLIER_EJECTION</td><td>{@code on} or {@code off}: an instance failing while its peers
 *       succeed takes itself out of rotation (docs/writing-services.md)</td><td>on</td></tr>
 *   <tr><td>SKIFF_BROKER_WAIT</td><td>how long a service started while its broker cannot be reached waits
 *     for it before exiting with {@link dev.skiff.platform.ExitCodes#DEPENDENCY_UNAVAILABLE}</td><td>as long as it takes</td></tr>
 * </table>
 *
 * @param amqpUri the broker URI, or several separated by commas (the nodes of a cluster)
 * @param serviceVersion the version override, if any
 * @param instanceId the instance id, if set
 * @param concurrency handlers running at once
 * @param prefetch unsettled requests held per queue
 * @param maxMessageBytes the largest body
 * @param defaultTimeout a call's timeout when it names none
 * @param drainGrace how long close() lets in-flight requests finish
 * @param heartbeat how often an instance announces itself for discovery; it is forgotten after three
 *     missed heartbeats (docs/routing.md)
 * @param outlierEjection whether an instance failing while its peers succeed takes itself out of rotation
 * @param brokerWait how long a service started while its broker cannot be reached waits for it; empty to
 *     wait as long as it takes (docs/reliability.md, "Starting while a dependency is down")
 * @param maxInFlightBytes the most bytes of request bodies an instance holds at once
 * @param maxDeliveries how many times a request may reach an instance, each delivery ending unsettled,
 *     before it is set aside
 * @param queueType how the service's request queues are kept; empty to choose by the number of nodes
 *     ({@code AmqpOptions.of})
 */
public record Settings(
    String amqpUri,
    Optional<String> serviceVersion,
    Optional<String> instanceId,
    int concurrency,
    int prefetch,
    int maxMessageBytes,
    Duration defaultTimeout,
    Duration drainGrace,
    Duration heartbeat,
    boolean outlierEjection,
    Optional<Duration> brokerWait,
    long maxInFlightBytes,
    int maxDeliveries,
    Optional<QueueType> queueType) {

  /** The settings, with the broker URI's password hidden. */
  @Override
  public String toString() {
    return "Settings[amqpUri=" + Redaction.of(amqpUri) + ", serviceVersion=" + serviceVersion + ", instanceId=" + instanceId
        + ", concurrency=" + concurrency + ", prefetch=" + prefetch + ", maxMessageBytes=" + maxMessageBytes
        + ", defaultTimeout=" + defaultTimeout + ", drainGrace=" + drainGrace + ", heartbeat=" + heartbeat
        + ", outlierEjection=" + outlierEjection + ", brokerWait=" + brokerWait + ", maxInFlightBytes=" + maxInFlightBytes
        + ", maxDeliveries=" + maxDeliveries + ", queueType=" + queueType + "]";
  }

  /** The broker used when nothing else is configured: a RabbitMQ on this host, as its package installs it. */
  public static final String DEFAULT_AMQP_URI = "amqp://guest:guest@localhost:5672";

  /** The default largest message body: 4 MiB. */
  public static final int DEFAULT_MAX_MESSAGE_BYTES = 4 << 20;

  /** The default bound on the request bodies a service instance holds at once: 64 MiB. */
  public static final long DEFAULT_MAX_IN_FLIGHT_BYTES = 64L << 20;

  /** The default number of times a request may reach a service before it is set aside: 5. */
  public static final int DEFAULT_MAX_DELIVERIES = 5;

  /**
   * Settings from this process's environment.
   *
   * @return the settings
   * @throws IllegalArgumentException naming the variable whose value is invalid
   */
  public static Settings fromEnvironment() {
    return fromEnvironment(System.getenv());
  }

  /**
   * Settings from a map of environment variables.
   *
   * @param env the variables
   * @return the settings
   * @throws IllegalArgumentException naming the variable whose value is invalid
   */
  public static Settings fromEnvironment(Map<String, String> env) {
    int concurrency = EnvVars.positiveInt(env, "SKIFF_CONCURRENCY", 16);
    return new Settings(
        EnvVars.nonBlank(env, "SKIFF_AMQP_URI").orElse(DEFAULT_AMQP_URI),
        EnvVars.nonBlank(env, "SKIFF_SERVICE_VERSION").map(v -> named("SKIFF_SERVICE_VERSION", v, dev.skiff.platform.Names::checkVersion)),
        EnvVars.nonBlank(env, "SKIFF_INSTANCE_ID").map(v -> named("SKIFF_INSTANCE_ID", v, dev.skiff.platform.Names::checkInstance)),
        concurrency,
        EnvVars.positiveInt(env, "SKIFF_PREFETCH", 2 * concurrency),
        EnvVars.positiveInt(env, "SKIFF_MAX_MESSAGE_BYTES", DEFAULT_MAX_MESSAGE_BYTES),
        EnvVars.positiveDuration(env, "SKIFF_DEFAULT_TIMEOUT", Duration.ofSeconds(5)),
        EnvVars.positiveDuration(env, "SKIFF_DRAIN_GRACE", Duration.ofSeconds(10)),
        EnvVars.positiveDuration(env, "SKIFF_HEARTBEAT", Duration.ofSeconds(2)),
        EnvVars.onOff(env, "SKIFF_OUTLIER_EJECTION", true),
        EnvVars.nonBlank(env, "SKIFF_BROKER_WAIT").map(v -> EnvVars.positiveDuration(env, "SKIFF_BROKER_WAIT", Duration.ZERO)),
        EnvVars.positiveLong(env, "SKIFF_MAX_IN_FLIGHT_BYTES", DEFAULT_MAX_IN_FLIGHT_BYTES),
        EnvVars.positiveInt(env, "SKIFF_MAX_DELIVERIES", DEFAULT_MAX_DELIVERIES),
        QueueType.parse(env.get("SKIFF_QUEUE_TYPE")));
  }

  /** Checks a variable's value, naming the variable when it is refused. */
  private static String named(String variable, String value, java.util.function.UnaryOperator<String> check) {
    try {
      return check.apply(value);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(variable + ": " + e.getMessage(), e);
    }
  }
}
