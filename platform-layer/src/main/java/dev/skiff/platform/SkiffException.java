package dev.skiff.platform;

import dev.skiff.proto.v1.Error;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The one exception type of the platform: an {@link ErrorCode}, a description for a person, and
 * structured context. Handlers throw it to answer with an error; clients throw it when a call fails.
 * On the wire it travels as the {@code skiff.v1.Error} protobuf; no stack trace ever crosses the wire.
 *
 * <p>Instances are immutable and safe to share between threads.
 */
public final class SkiffException extends RuntimeException {
  /** The context key of {@link #retryAfter()}: how long to wait before trying again, in milliseconds. */
  public static final String RETRY_AFTER_MS = "retry_after_ms";
  /** The longest wait {@link #retryAfter()} reports. */
  public static final java.time.Duration MAX_RETRY_AFTER = java.time.Duration.ofDays(1);

  private static final long serialVersionUID = 1L;

  private final ErrorCode code;
  private final String description;
  private final Map<String, String> context;
  private final String service;
  private final String endpoint;
  private final String instance;
  private final String requestId;
  private final RpcProgress progress;
  private final Callee callee;

  private SkiffException(
      ErrorCode code,
      String description,
      Map<String, String> context,
      String service,
      String endpoint,
      String instance,
      String requestId,
      RpcProgress progress,
      Callee callee,
      Throwable cause) {
    super(code + ": " + description, cause);
    this.progress = progress;
    this.callee = callee;
    this.code = code;
    this.description = description;
    this.context = Map.copyOf(context);
    this.service = service;
    this.endpoint = endpoint;
    this.instance = instance;
    this.requestId = requestId;
  }

  /**
   * An error with a code and a description.
   *
   * @param code what kind of failure
   * @param description what failed, for a person
   */
  public SkiffException(ErrorCode code, String description) {
    this(code, description, Map.of(), "", "", "", "", RpcProgress.SENT, null, null);
  }

  /**
   * An error with a code, a description and the cause that stays on this side of the wire.
   *
   * @param code what kind of failure
   * @param description what failed, for a person
   * @param cause the local cause; never sent
   */
  public SkiffException(ErrorCode code, String description, Throwable cause) {
    this(code, description, Map.of(), "", "", "", "", RpcProgress.SENT, null, cause);
  }

  /**
   * A copy of this error with one more context entry.
   *
   * @param key the context key
   * @param value its value
   * @return a new exception
   */
  public SkiffException withContext(String key, String value) {
    Map<String, String> merged = new LinkedHashMap<>(context);
    merged.put(Objects.requireNonNull(key, "key"), String.valueOf(value));
    return new SkiffException(
        code, description, merged, service, endpoint, instance, requestId, progress, callee, getCause());
  }

  /**
   * A copy of this error that tells the caller how long to wait before trying again (a lock that ends at a
   * known time, a quota that refills), carried in the context under {@link #RETRY_AFTER_MS}; the gateway
   * answers it as {@code Retry-After}.
   *
   * @param wait how long; negative is taken as zero
   * @return a new exception
   */
  public SkiffException withRetryAfter(java.time.Duration wait) {
    return withContext(RETRY_AFTER_MS, Long.toString(Math.max(0, wait.toMillis())));
  }

  /**
   * @return how long the raiser asked the caller to wait before trying again ({@link #withRetryAfter}),
   *     when it said so with a valid value; bounded to a day (the value may come from another process)
   */
  public java.util.Optional<java.time.Duration> retryAfter() {
    String v = context.get(RETRY_AFTER_MS);
    if (v == null || v.isEmpty() || v.length() > 19 || !v.chars().allMatch(c -> c >= '0' && c <= '9')) {
      return java.util.Optional.empty();
    }
    try {
      return java.util.Optional.of(java.time.Duration.ofMillis(Math.min(Long.parseLong(v), MAX_RETRY_AFTER.toMillis())));
    } catch (NumberFormatException overLong) {
      return java.util.Optional.empty();
    }
  }

  /**
   * A copy of this error that names where it was raised, unless it already does.
   *
   * @param service the service
   * @param endpoint the endpoint
   * @param instance the instance id
   * @param requestId the request id
   * @return a new exception with the origin filled in
   */
  public SkiffException withOrigin(String service, String endpoint, String instance, String requestId) {
    if (!this.service.isEmpty()) {
      return this;
    }
    return new SkiffException(
        code, description, context, service, endpoint, instance, requestId, progress, callee, getCause());
  }

  /**
   * A copy of this error that says how far its request got (see {@link RpcProgress}).
   *
   * @param progress how far
   * @return a new exception
   */
  public SkiffException withProgress(RpcProgress progress) {
    return new SkiffException(
        code, description, context, service, endpoint, instance, requestId, java.util.Objects.requireNonNull(progress, "progress"),
        callee, getCause());
  }

  /**
   * A copy of this error marked as the failure of a call to {@code callee}. The client marks every error
   * a call fails with, whether the callee answered it or the client raised it; a handler has no need to.
   *
   * @param callee the endpoint called
   * @return a new exception
   */
  public SkiffException fromCallTo(Callee callee) {
    return new SkiffException(
        code, description, context, service, endpoint, instance, requestId, progress, Objects.requireNonNull(callee, "callee"),
        getCause());
  }

  /**
   * A copy of this error without its {@link #callee()} mark, for a handler that answers its own caller
   * with a nested call's error on purpose: for example a {@link ErrorCode#NOT_FOUND} from a store for an
   * id its caller gave. Thrown from a handler, it is answered as it is (code, description, context and
   * where it was raised), where the unmarked error would have been answered as this service's own
   * failure (docs/wire-protocol.md, "Errors from nested calls").
   *
   * @return a new exception
   */
  public SkiffException passThrough() {
    return new SkiffException(code, description, context, service, endpoint, instance, requestId, progress, null, getCause());
  }

  /**
   * The endpoint whose call failed with this error, when a client raised it for a call (the callee's
   * answer, or the client's own verdict on the call: a timeout, an open breaker...); empty for an error a
   * handler raised itself, and after {@link #passThrough()}. Local: it never crosses the wire.
   *
   * @return the callee, or empty
   */
  public java.util.Optional<Callee> callee() {
    return java.util.Optional.ofNullable(callee);
  }

  /**
   * How far the failed request got: {@link RpcProgress#NOT_SENT} only on a client-side error that proves
   * the request never left this process (such a call is retried under the client's retry policy even
   * when its endpoint is not idempotent, as gRPC retries a call that never reached the wire);
   * {@link RpcProgress#SENT} otherwise. Local: an error read off the wire says SENT.
   *
   * @return how far
   */
  public RpcProgress progress() {
    return progress;
  }

  /** @return what kind of failure this is */
  public ErrorCode code() {
    return code;
  }

  /** @return the description, for a person */
  public String description() {
    return description;
  }

  /** @return structured detail (never null, unmodifiable) */
  public Map<String, String> context() {
    return context;
  }

  /** @return the service that raised the error, or "" when raised locally */
  public String service() {
    return service;
  }

  /** @return the endpoint that raised the error, or "" */
  public String endpoint() {
    return endpoint;
  }

  /** @return the instance that raised the error, or "" */
  public String instance() {
    return instance;
  }

  /** @return the request id the error belongs to, or "" */
  public String requestId() {
    return requestId;
  }

  /**
   * The wire form of this error (no stack trace, no cause).
   *
   * @return the protobuf
   */
  public Error toProto() {
    return Error.newBuilder()
        .setCode(code.toProto())
        .setDescription(description)
        .putAllContext(context)
        .setService(service)
        .setEndpoint(endpoint)
        .setInstance(instance)
        .setRequestId(requestId)
        .build();
  }

  /**
   * Reads an error off the wire.
   *
   * @param error the protobuf
   * @return the exception
   */
  public static SkiffException fromProto(Error error) {
    return new SkiffException(
        ErrorCode.fromProto(error.getCode()),
        error.getDescription(),
        error.getContextMap(),
        error.getService(),
        error.getEndpoint(),
        error.getInstance(),
        error.getRequestId(),
        RpcProgress.SENT,
        null,
        null);
  }

  /**
   * The error for any throwable: itself if it is already a {@code SkiffException} (also when wrapped in
   * a completion or execution exception), else {@link ErrorCode#INTERNAL} with a generic description
   * and the throwable kept as the local cause.
   *
   * @param t the failure
   * @return the platform error
   */
  public static SkiffException of(Throwable t) {
    Throwable cur = t;
    while ((cur instanceof java.util.concurrent.CompletionException
            || cur instanceof java.util.concurrent.ExecutionException)
        && cur.getCause() != null) {
      cur = cur.getCause();
    }
    if (cur instanceof SkiffException e) {
      return e;
    }
    return new SkiffException(ErrorCode.INTERNAL, "unexpected error: " + cur.getClass().getName(), cur);
  }
}
