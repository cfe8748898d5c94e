package dev.skiff.platform.trace;

import dev.skiff.platform.internal.Lifecycle;
import dev.skiff.platform.internal.Threads;
import dev.skiff.platform.observe.ClientEvent;
import dev.skiff.platform.observe.RpcObserver;
import dev.skiff.platform.observe.ServerEvent;
import dev.skiff.platform.pubsub.PubSub;
import dev.skiff.platform.transport.Transport;
import dev.skiff.proto.v1.SpanBatch;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Records the spans of sampled traces and ships them, asynchronously and in batches, to the trace kernel
 * service. It is an {@link RpcObserver}: register it on a server (which passes it on to the client its
 * handlers call through, so nested calls are traced too) or on a client.
 *
 * <pre>{@code
 * Tracing tracing = Tracing.builder("com.example.greeter")
 *     .transport(transport)
 *     .settings(TraceSettings.fromEnvironment())      // SKIFF_TRACE_SAMPLE_RATE=0.01, ...
 *     .build().start();
 * Server server = Server.builder("com.example.greeter").transport(transport).observer(tracing)...start();
 * ...
 * server.close();
 * tracing.close();                                     // ships what is still buffered
 * }</pre>
 *
 * <p>Cost on a request: for a new trace, one random number against the sampling rate; for an unsampled
 * request or attempt, nothing more; for a sampled one, one offer to a bounded queue. When the queue is
 * full the span is dropped and counted ({@link #droppedSpans()}): tracing never blocks or fails a request.
 * Spans are built and encoded on the tracing's own thread ({@code skiff-trace-SERVICE}), which ships a
 * batch when it is full or has waited its flush interval. A batch that cannot be shipped (the broker is
 * down) is dropped and counted ({@link #failedBatches()}).
 *
 * <p>Thread-safe. Started once ({@link #start()}); {@link #close()} is idempotent. Does not own the
 * transport.
 */
public final class Tracing implements RpcObserver, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Tracing.class);
  private static final long WARN_EVERY_NANOS = TimeUnit.MINUTES.toNanos(1);
  private static final long SLICE_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
  /** While a batch fills, how often the shipper looks whether it is full. */
  private static final long FILL_CHECK_NANOS = TimeUnit.MILLISECONDS.toNanos(10);

  private final String service;
  private final String instanceId;
  private final TraceSettings settings;
  private final double sampleRate;
  private final SpanSink sink;
  private final ArrayBlockingQueue<Object> buffer;
  private final LongAdder dropped = new LongAdder();
  private final LongAdder shipped = new LongAdder();
  private final LongAdder failed = new LongAdder();
  private final Lifecycle lifecycle;
  private final Object shipping = new Object();
  private final Thread shipper;
  private long lastWarn = System.nanoTime() - WARN_EVERY_NANOS;

  private Tracing(Builder b) {
    this.service = b.service;
    this.instanceId = b.instanceId;
    this.settings = b.settings;
    this.sampleRate = b.settings.sampleRate();
    this.sink = b.sink != null ? b.sink : publisher(b.transport, b.service);
    this.buffer = new ArrayBlockingQueue<>(b.settings.bufferCapacity());
    this.shipper = Threads.daemon("skiff-trace-" + service, this::shipLoop);
    this.lifecycle = new Lifecycle("tracing of " + service);
  }

  private static SpanSink publisher(Transport transport, String service) {
    if (transport == null) {
      throw new IllegalStateException("tracing for " + service + " needs a transport (or a sink) to ship spans on");
    }
    PubSub events = new PubSub(transport);
    String topic = SpanSink.TOPIC_PREFIX + service;
    return batch -> events.publish(topic, batch);
  }

  /**
   * A builder.
   *
   * @param service the name of the service whose spans this records (the caller's name for client spans
   *     whose client has none)
   * @return the builder
   */
  public static Builder builder(String service) {
    return new Builder(service);
  }

  /**
   * Starts the shipping thread.
   *
   * @return this
   * @throws IllegalStateException if started before or closed
   */
  public Tracing start() {
    lifecycle.start(shipper::start, () -> { });
    return this;
  }

  /** @return the service name */
  public String service() {
    return service;
  }

  /** @return the settings in force */
  public TraceSettings settings() {
    return settings;
  }

  @Override
  public boolean sampleNewTrace(String calledService, String endpoint) {
    double rate = sampleRate;
    return rate >= 1.0 || (rate > 0 && ThreadLocalRandom.current().nextDouble() < rate);
  }

  @Override
  public void onServerRequest(ServerEvent event) {
    if (event.sampled()) {
      record(event);
    }
  }

  @Override
  public void onClientAttempt(ClientEvent event) {
    if (event.sampled()) {
      record(event);
    }
  }

  /**
   * Keeps a recorded call's or request's event for the next batch. Its start is to the microsecond already
   * ({@link dev.skiff.platform.internal.EpochMicros#start}: read as it began, because its trace is recorded).
   */
  private void record(Object event) {
    if (!buffer.offer(event)) {
      dropped.increment();
    }
  }

  /** @return spans dropped because the buffer was full */
  public long droppedSpans() {
    return dropped.sum();
  }

  /** @return spans handed to the sink */
  public long shippedSpans() {
    return shipped.sum();
  }

  /** @return batches the sink failed to take (their spans are lost) */
  public long failedBatches() {
    return failed.sum();
  }

  /** @return spans waiting to be shipped */
  public int bufferedSpans() {
    return buffer.size();
  }

  /**
   * Ships everything buffered now, on the calling thread (for tests and orderly shutdown).
   */
  public void flush() {
    List<Object> batch = new ArrayList<>();
    while (buffer.drainTo(batch, settings.batchSize()) > 0) {
      ship(batch);
      batch.clear();
    }
  }

  private void shipLoop() {
    long flushNanos = settings.flushInterval().toNanos();
    long slice = Math.min(flushNanos, SLICE_NANOS); // how often it looks whether it was closed
    int batchSize = settings.batchSize();
    List<Object> batch = new ArrayList<>(batchSize);
    while (lifecycle.isRunning()) {
      try {
        Object first = buffer.poll(slice, TimeUnit.NANOSECONDS);
        if (first == null) {
          continue;
        }
        batch.add(first);
        long deadline = System.nanoTime() + flushNanos;
        while (batch.size() < batchSize && lifecycle.isRunning()) {
          buffer.drainTo(batch, batchSize - batch.size());
          long left = deadline - System.nanoTime();
          if (batch.size() >= batchSize || left <= 0) {
            break;
          }
          // Sleep instead of waiting on the queue: a waiting consumer is signalled by every span
          // offered, a thread wake-up per span on the request path; a sleeping one costs nothing there.
          java.util.concurrent.locks.LockSupport.parkNanos(Math.min(left, FILL_CHECK_NANOS));
          if (Thread.interrupted()) {
            throw new InterruptedException();
          }
        }
        ship(batch);
        batch.clear();
      } catch (InterruptedException e) {
        break;
      } catch (RuntimeException e) {
        log.warn("tracing for {}: unexpected failure while shipping spans", service, e);
        batch.clear();
      }
    }
    if (!batch.isEmpty()) {
      ship(batch);
    }
    flush();
  }

  private void ship(List<Object> events) {
    SpanBatch.Builder b =
        SpanBatch.newBuilder().setService(service).setInstance(instanceId).setSampleRate(sampleRate);
    for (Object o : events) {
      if (o instanceof ServerEvent s) {
        b.addSpans(Spans.of(s));
      } else {
        var span = Spans.of((ClientEvent) o, instanceId).toBuilder();
        b.addSpans(span.getService().isEmpty() ? span.setService(service) : span);
      }
    }
    b.setDroppedTotal(dropped.sum());
    synchronized (shipping) {
      try {
        sink.ship(b.build());
        shipped.add(events.size());
      } catch (RuntimeException ex) {
        failed.increment();
        long now = System.nanoTime();
        if (now - lastWarn >= WARN_EVERY_NANOS) {
          lastWarn = now;
          log.warn("tracing for {}: could not ship {} spans ({} batches lost so far): {}", service, events.size(), failed.sum(), ex.toString());
        }
      }
    }
  }

  /** Stops the shipping thread after it shipped what is buffered (waiting up to a few seconds). */
  @Override
  public void close() {
    Lifecycle.State was = lifecycle.beginClose();
    if (was == Lifecycle.State.CLOSED) {
      return;
    }
    if (was == Lifecycle.State.NEW) {
      flush();
      lifecycle.closed();
      return;
    }
    try {
      shipper.join(Duration.ofSeconds(5).toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (shipper.isAlive()) {
      shipper.interrupt();
    }
    lifecycle.closed();
  }

  @Override
  public String toString() {
    return "Tracing[" + service + ", rate " + sampleRate + "]";
  }

  /** Builds a {@link Tracing}. */
  public static final class Builder {
    private final String service;
    private String instanceId = "";
    private Transport transport;
    private SpanSink sink;
    private TraceSettings settings = TraceSettings.DEFAULTS;

    private Builder(String service) {
      Objects.requireNonNull(service, "service");
      if (service.isBlank()) {
        throw new IllegalArgumentException("service must not be blank");
      }
      this.service = service;
    }

    /**
     * @param transport the transport to publish spans on (not owned)
     * @return this
     */
    public Builder transport(Transport transport) {
      this.transport = Objects.requireNonNull(transport, "transport");
      return this;
    }

    /**
     * @param sink where to ship spans instead of the transport
     * @return this
     */
    public Builder sink(SpanSink sink) {
      this.sink = Objects.requireNonNull(sink, "sink");
      return this;
    }

    /**
     * @param instanceId the instance id to record on client spans (server spans carry the server's own)
     * @return this
     */
    public Builder instanceId(String instanceId) {
      this.instanceId = Objects.requireNonNull(instanceId, "instanceId");
      return this;
    }

    /**
     * @param settings sampling rate and buffer bounds, e.g. {@link TraceSettings#fromEnvironment()}
     * @return this
     */
    public Builder settings(TraceSettings settings) {
      this.settings = Objects.requireNonNull(settings, "settings");
      return this;
    }

    /**
     * @param rate the share of new traces to record, 0 to 1
     * @return this
     */
    public Builder sampleRate(double rate) {
      this.settings = settings.withSampleRate(rate);
      return this;
    }

    /**
     * @return the tracing, not yet started
     * @throws IllegalStateException when neither a transport nor a sink was given
     */
    public Tracing build() {
      return new Tracing(this);
    }
  }
}
