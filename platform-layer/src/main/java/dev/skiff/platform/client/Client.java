package dev.skiff.platform.client;

import com.codahale.metrics.MetricRegistry;
import com.google.protobuf.Message;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.Names;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.config.Settings;
import dev.skiff.platform.internal.Codec;
import dev.skiff.platform.internal.Ids;
import dev.skiff.platform.security.ServiceIdentities;
import dev.skiff.platform.internal.Observers;
import dev.skiff.platform.observe.RpcObserver;
import java.util.ArrayList;
import java.util.List;
import dev.skiff.platform.transport.ContentTypes;
import dev.skiff.platform.transport.Transport;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * Calls endpoints of Skiff services: synchronously, asynchronously, or many at once with
 * {@link #fanOut(int)}. Every call has a deadline: its own timeout (or the client's default), never
 * later than the deadline of the request it is made for (see {@link #withScope(CallScope)}).
 *
 * <pre>{@code
 * try (Client client = Client.builder().transport(AmqpTransport.connect(uri)).ownTransport().build()) {
 *   HelloResponse r = client.call("com.example.greeter", "hello",
 *       HelloRequest.newBuilder().setName("Ada").build(), HelloResponse.class);
 * }
 * }</pre>
 *
 * <p>Thread-safe; share one client per process. Futures complete on transport threads: do not block in
 * their callbacks.
 */
public final class Client implements AutoCloseable {
  private final CallEngine core;
  private final CallScope scope;
  private final boolean root;

  private Client(CallEngine core, CallScope scope, boolean root) {
    this.core = core;
    this.scope = scope;
    this.root = root;
  }

  /** @return a builder */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * A view of this client whose calls stay within a parent request's deadline and trace. Closing the
   * view does nothing; the client it came from owns the resources.
   *
   * @param scope the parent
   * @return the scoped view
   */
  public Client withScope(CallScope scope) {
    return new Client(core, Objects.requireNonNull(scope, "scope"), false);
  }

  /** @return the scope of this view, or null for a root client without a person's token */
  public CallScope scope() {
    return scope;
  }

  /**
   * Calls an endpoint and waits for the response.
   *
   * @param service the service's dotted name
   * @param endpoint the endpoint
   * @param request the request
   * @param responseType the response's class
   * @param <R> the response type
   * @return the response
   * @throws SkiffException when the call fails, with the code saying why
   */
  public <R extends Message> R call(String service, String endpoint, Message request, Class<R> responseType) {
    return call(service, endpoint, request, responseType, CallOptions.defaults());
  }

  /**
   * Calls an endpoint with options and waits for the response.
   *
   * @param service the service's dotted name
   * @param endpoint the endpoint
   * @param request the request
   * @param responseType the response's class
   * @param options timeout, instance, request id
   * @param <R> the response type
   * @return the response
   * @throws SkiffException when the call fails, with the code saying why
   */
  public <R extends Message> R call(
      String service, String endpoint, Message request, Class<R> responseType, CallOptions options) {
    return await(exchange(service, endpoint, request, responseType, options)).value();
  }

  /**
   * Calls an endpoint without waiting.
   *
   * @param service the service's dotted name
   * @param endpoint the endpoint
   * @param request the request
   * @param responseType the response's class
   * @param <R> the response type
   * @return the response, or a {@link SkiffException} failure
   */
  public <R extends Message> CompletableFuture<R> callAsync(
      String service, String endpoint, Message request, Class<R> responseType) {
    return callAsync(service, endpoint, request, responseType, CallOptions.defaults());
  }

  /**
   * Calls an endpoint with options without waiting.
   *
   * @param service the service's dotted name
   * @param endpoint the endpoint
   * @param request the request
   * @param responseType the response's class
   * @param options timeout, instance, request id
   * @param <R> the response type
   * @return the response, or a {@link SkiffException} failure
   */
  public <R extends Message> CompletableFuture<R> callAsync(
      String service, String endpoint, Message request, Class<R> responseType, CallOptions options) {
    return exchange(service, endpoint, request, responseType, options).thenApply(Reply::value);
  }

  /**
   * Calls an endpoint without waiting, and tells who answered.
   *
   * @param service the service's dotted name
   * @param endpoint the endpoint
   * @param request the request
   * @param responseType the response's class
   * @param options timeout, instance, request id
   * @param <R> the response type
   * @return the reply with the answering version and instance, or a {@link SkiffException} failure
   */
  public <R extends Message> CompletableFuture<Reply<R>> exchange(
      String service, String endpoint, Message request, Class<R> responseType, CallOptions options) {
    return exchange(service, endpoint, request, Codec.prototype(Objects.requireNonNull(responseType, "responseType")), options);
  }


  /**
   * Calls an endpoint without waiting, with a response type known only by its descriptor (a
   * {@link com.google.protobuf.DynamicMessage}): for a gateway that learns types at run time.
   *
   * @param service the service's dotted name
   * @param endpoint the endpoint
   * @param request the request
   * @param responsePrototype any instance of the response type, e.g. {@code DynamicMessage.getDefaultInstance(d)}
   * @param options timeout, instance, request id
   * @param <R> the response type
   * @return the reply, or a {@link SkiffException} failure
   */
  public <R extends Message> CompletableFuture<Reply<R>> exchange(
      String service, String endpoint, Message request, R responsePrototype, CallOptions options) {
    Objects.requireNonNull(request, "request");
    Objects.requireNonNull(responsePrototype, "responsePrototype");
    return core.send(
        scope,
        service,
        endpoint,
        request.toByteArray(),
        ContentTypes.PROTOBUF,
        ContentTypes.PROTOBUF,
        options,
        reply -> Codec.decode(reply.body(), reply.contentType(), responsePrototype));
  }


  /**
   * Calls an endpoint with a JSON request (protobuf's JSON mapping) and gets the response as JSON, for
   * tools that do not have the service's classes. The service decodes and validates the JSON.
   *
   * @param service the service's dotted name
   * @param endpoint the endpoint
   * @param json the request as JSON, e.g. {@code {"name": "Ada"}}
   * @param options timeout, instance, request id
   * @return the reply with the response as JSON text
   */
  public CompletableFuture<Reply<String>> callJson(
      String service, String endpoint, String json, CallOptions options) {
    Objects.requireNonNull(json, "json");
    return core.send(
        scope,
        service,
        endpoint,
        json.getBytes(StandardCharsets.UTF_8),
        ContentTypes.JSON,
        ContentTypes.JSON,
        options,
        reply -> new String(reply.body(), StandardCharsets.UTF_8));
  }

  /**
   * Starts a parallel fan-out: calls added to it run at once, at most {@code maxConcurrency} at a time.
   *
   * @param maxConcurrency how many of its calls may be in flight together
   * @return the fan-out
   */
  public FanOut fanOut(int maxConcurrency) {
    return new FanOut(this, maxConcurrency);
  }

  /** @return the registry holding this client's metrics */
  public MetricRegistry metrics() {
    return core.config.metrics();
  }

  /** @return the default timeout of calls that name none */
  public Duration defaultTimeout() {
    return core.config.defaultTimeout();
  }

  /**
   * Closes the client: pending calls fail with UNAVAILABLE, its channel closes, and the transport too if
   * the client owns it. Does nothing on a scoped view. Idempotent.
   */
  @Override
  public void close() {
    if (root) {
      core.close();
    }
  }

  /**
   * Waits for the result of an asynchronous call, turning its failure back into the {@link SkiffException}.
   *
   * @param f the call
   * @param <T> its type
   * @return the result
   * @throws SkiffException the call's failure
   */
  public static <T> T await(CompletableFuture<T> f) {
    try {
      return f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new SkiffException(ErrorCode.TIMEOUT, "interrupted while waiting for a reply", e);
    } catch (ExecutionException e) {
      throw SkiffException.of(e);
    }
  }

  /** Builds a {@link Client}. */
  public static final class Builder {
    private Transport transport;
    private boolean ownsTransport;
    private String name = "";
    private String instanceId = Ids.random32();
    private Duration defaultTimeout = Duration.ofSeconds(5);
    private int maxMessageBytes = Settings.DEFAULT_MAX_MESSAGE_BYTES;
    private int maxInFlight = 10_000;
    private RetryPolicy retryPolicy = RetryPolicy.defaults();
    private BreakerOptions circuitBreaker = BreakerOptions.defaults();
    private MetricRegistry metrics;
    private Clock clock = Clock.systemUTC();
    private ServiceIdentities identities;
    private String userToken;
    private final List<RpcObserver> observers = new ArrayList<>();

    private Builder() {}

    /**
     * Which broker users may answer for which service: a reply from any other is dropped and counted
     * ({@code skiff.client.impostor-replies}), and the call waits on for the real one (docs/security.md).
     *
     * @param identities the mapping (default: {@link ServiceIdentities#fromEnvironment()})
     * @return this
     */
    public Builder identities(ServiceIdentities identities) {
      this.identities = Objects.requireNonNull(identities, "identities");
      return this;
    }

    /**
     * Adds an observer of every attempt this client makes (for metrics and tracing).
     *
     * @param observer the observer
     * @return this
     */
    public Builder observer(RpcObserver observer) {
      observers.add(Objects.requireNonNull(observer, "observer"));
      return this;
    }

    /**
     * Adds observers.
     *
     * @param all the observers
     * @return this
     */
    public Builder observers(List<RpcObserver> all) {
      all.forEach(this::observer);
      return this;
    }

    /**
     * The transport to call over. Required.
     *
     * @param transport the transport; the client does not close it unless told to own it
     * @return this
     */
    public Builder transport(Transport transport) {
      this.transport = Objects.requireNonNull(transport, "transport");
      return this;
    }

    /** @return this, with the client closing its transport when it closes */
    public Builder ownTransport() {
      this.ownsTransport = true;
      return this;
    }

    /**
     * The calling service's name, sent with every call; empty for tools.
     *
     * @param name the name
     * @return this
     */
    public Builder name(String name) {
      Objects.requireNonNull(name, "name");
      if (!name.isEmpty() && !Names.isService(name)) {
        throw new IllegalArgumentException(
            "invalid caller name '" + name + "': a service name (see Names), or \"\" for a tool");
      }
      this.name = name;
      return this;
    }

    /**
     * @param instanceId the calling instance's id (letters, digits, '.', '_' and '-')
     * @return this
     */
    public Builder instanceId(String instanceId) {
      Objects.requireNonNull(instanceId, "instanceId");
      Names.checkInstance(instanceId);
      this.instanceId = instanceId;
      return this;
    }

    /**
     * @param timeout the timeout of calls that name none (default 5 s; at most {@link CallOptions#MAX_TIMEOUT})
     * @return this
     */
    public Builder defaultTimeout(Duration timeout) {
      if (timeout.isNegative() || timeout.isZero() || timeout.compareTo(CallOptions.MAX_TIMEOUT) > 0) {
        throw new IllegalArgumentException("defaultTimeout must be positive and at most 30 days: " + timeout);
      }
      this.defaultTimeout = timeout;
      return this;
    }

    /** @param bytes the largest request or reply body (default 4 MiB) @return this */
    public Builder maxMessageBytes(int bytes) {
      if (bytes <= 0) {
        throw new IllegalArgumentException("maxMessageBytes must be positive: " + bytes);
      }
      this.maxMessageBytes = bytes;
      return this;
    }

    /** @param calls calls in flight at once before new ones fail with CAPACITY (default 10,000) @return this */
    public Builder maxInFlight(int calls) {
      if (calls <= 0) {
        throw new IllegalArgumentException("maxInFlight must be positive: " + calls);
      }
      this.maxInFlight = calls;
      return this;
    }

    /**
     * When calls are retried (default {@link RetryPolicy#defaults()}: up to 3 attempts, and only for
     * idempotent endpoints and transient errors).
     *
     * @param policy the policy; {@link RetryPolicy#none()} to never retry
     * @return this
     */
    public Builder retryPolicy(RetryPolicy policy) {
      this.retryPolicy = Objects.requireNonNull(policy, "policy");
      return this;
    }

    /**
     * The circuit breakers kept per service endpoint (see {@link BreakerOptions}). The default
     * ({@link BreakerOptions#defaults()}) opens when at least half of the calls of the last 10 s (once
     * they are at least 50) failed in a way that says the service is unwell (TIMEOUT, CAPACITY, INTERNAL,
     * UNAVAILABLE answered by the service; not UNKNOWN_OUTCOME, which says an instance went away),
     * answers CIRCUIT_OPEN without sending for 5 s, then lets 3 trial calls through and closes again if
     * they succeed.
     *
     * @param options how the breakers behave, or null for no circuit breaker
     * @return this
     */
    public Builder circuitBreaker(BreakerOptions options) {
      this.circuitBreaker = options;
      return this;
    }

    /** @param metrics where the client's metrics go (default: a registry of its own) @return this */
    public Builder metrics(MetricRegistry metrics) {
      this.metrics = Objects.requireNonNull(metrics, "metrics");
      return this;
    }

    /** @param clock the clock deadlines are measured by (for tests) @return this */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Makes every call of the client carry a person's session token, as a tool acting for that person
     * does (the CLI after {@code skiff login}); the same as calling through
     * {@code withScope(CallScope.forUser(token))}, on a client that owns its resources.
     *
     * @param token the session token the login service issued
     * @return this
     */
    public Builder userToken(String token) {
      this.userToken = Objects.requireNonNull(token, "token");
      return this;
    }

    /** @return the client */
    public Client build() {
      if (transport == null) {
        throw new IllegalStateException("a transport is required: call transport(...)");
      }
      return new Client(
          new CallEngine(
              new CallEngine.Config(
                  transport, ownsTransport, name, instanceId, defaultTimeout, maxMessageBytes, maxInFlight, retryPolicy,
                  circuitBreaker, metrics == null ? new MetricRegistry() : metrics, clock, new Observers(observers),
                  identities == null ? ServiceIdentities.fromEnvironment() : identities)),
          userToken == null ? null : CallScope.forUser(userToken),
          true);
    }
  }
}
