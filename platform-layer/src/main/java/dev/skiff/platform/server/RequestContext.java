package dev.skiff.platform.server;

import dev.skiff.platform.client.Client;
import dev.skiff.platform.security.Caller;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * What a handler knows about the request it is handling. Calls made through {@link #client()} carry on
 * this request's deadline and trace. Valid for the duration of the handler call.
 */
public final class RequestContext {
  private final String requestId;
  private final String service;
  private final String endpoint;
  private final String fromService;
  private final String fromInstance;
  private final Caller caller;
  private final Instant deadline;
  private final String traceId;
  private final String spanId;
  private final String parentSpanId;
  private final boolean sampled;
  private final Client client;
  private final Clock clock;

  RequestContext(
      String requestId,
      String service,
      String endpoint,
      String fromService,
      String fromInstance,
      Caller caller,
      Instant deadline,
      String traceId,
      String spanId,
      String parentSpanId,
      boolean sampled,
      Client client,
      Clock clock) {
    this.requestId = requestId;
    this.service = service;
    this.endpoint = endpoint;
    this.fromService = fromService;
    this.fromInstance = fromInstance;
    this.caller = caller;
    this.deadline = deadline;
    this.traceId = traceId;
    this.spanId = spanId;
    this.parentSpanId = parentSpanId;
    this.sampled = sampled;
    this.client = client;
    this.clock = clock;
  }

  /** @return the request id, the same across retries of one logical request */
  public String requestId() {
    return requestId;
  }

  /** @return this service's name */
  public String service() {
    return service;
  }

  /** @return the endpoint being called */
  public String endpoint() {
    return endpoint;
  }

  /** @return the calling service as it names itself ("" for tools); see {@link #callerIdentity()} */
  public String fromService() {
    return fromService;
  }

  /** @return the calling instance's id, as it names itself */
  public String fromInstance() {
    return fromInstance;
  }

  /**
   * The caller's proven identity: the broker user the request was published as, which RabbitMQ validates
   * against the connection's login; never taken from what the caller says of itself ({@link #fromService()}).
   * Empty when the request proves none: it came without a {@code user_id} (a client that does not
   * assert it, or a hand-made message), so treat the caller as unauthenticated. In process it is
   * {@link dev.skiff.platform.transport.inprocess.InProcessTransport#IDENTITY} (docs/security.md).
   *
   * @return the identity, if proven
   */
  public Optional<String> callerIdentity() {
    return caller.brokerUser();
  }

  /**
   * Who is calling, as proven: the broker user, the calling service when that user may act as it, and
   * the signed-in person whose token came with the request (also when a service calls on their behalf),
   * with their roles. The endpoint's {@link Endpoint#withAccess(dev.skiff.platform.security.Access)} has
   * already been checked; a handler may check more, such as a role scoped to what the request is about.
   *
   * @return the caller
   */
  public Caller caller() {
    return caller;
  }

  /** @return when the caller stops waiting */
  public Instant deadline() {
    return deadline;
  }

  /** @return the time left until the deadline; zero or negative when it has passed */
  public Duration remaining() {
    return Duration.between(clock.instant(), deadline);
  }

  /** @return the W3C trace id (32 hex characters) */
  public String traceId() {
    return traceId;
  }

  /** @return this request's span id on the server (16 hex characters) */
  public String spanId() {
    return spanId;
  }

  /** @return the caller's span id, or "" when the request started a trace */
  public String parentSpanId() {
    return parentSpanId;
  }

  /** @return whether the trace is sampled */
  public boolean sampled() {
    return sampled;
  }

  /** @return a client whose calls stay within this request's deadline and carry its trace */
  public Client client() {
    return client;
  }
}
