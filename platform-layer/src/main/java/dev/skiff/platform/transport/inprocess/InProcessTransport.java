package dev.skiff.platform.transport.inprocess;

import dev.skiff.platform.internal.Threads;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.RpcProgress;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.transport.ReplyMessage;
import dev.skiff.platform.transport.RequestMessage;
import dev.skiff.platform.transport.Transport;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A transport with no broker: servers and clients that share one instance reach each other in memory,
 * with the same encoding, deadlines and errors as over RabbitMQ. Meant for users' unit tests of their
 * own services, which then run in milliseconds (like gRPC's in-process transport).
 *
 * <p>Differences from RabbitMQ, by design: there is no queue between caller and service, so a service
 * with no running instance fails a call at once with NOT_FOUND, prefetch and queue depth are not
 * enforced, nothing is ever redelivered, and a requeued request goes straight to another bound instance
 * (or waits until one binds). A paused instance ({@link ServerBinding#pause}) is passed over; while every
 * instance of a service is paused, its requests wait here as they would in its queue, and those
 * addressed to a paused instance wait for it to resume (or are dropped if it closes first).
 *
 * <p>Identity: there is no broker to prove who sent what, and everything on one instance runs in one
 * process, trusted alike. Every request, reply and event therefore carries the one identity
 * {@link #IDENTITY}, which {@link dev.skiff.platform.security.ServiceIdentities} counts as a shared user
 * (it may act as any service) unless configured otherwise.
 *
 * <p>Thread-safe. Create one per test; {@link #close()} unbinds everything.
 */
public final class InProcessTransport implements Transport {
  /** The sender identity every request, reply and event carries in process. */
  public static final String IDENTITY = dev.skiff.platform.security.ServiceIdentities.IN_PROCESS;
  private final String name;
  private final Map<String, CopyOnWriteArrayList<Binding>> byService = new ConcurrentHashMap<>();
  private final Map<String, Binding> byInstance = new ConcurrentHashMap<>();
  private final Map<String, ReplyListener> clients = new ConcurrentHashMap<>();
  private final Map<String, CopyOnWriteArrayList<RequestMessage>> parked = new ConcurrentHashMap<>();
  private final AtomicInteger roundRobin = new AtomicInteger();
  private final AtomicLong ids = new AtomicLong();
  private final AtomicBoolean closed = new AtomicBoolean();
  private final List<EventSub> subscriptions = new CopyOnWriteArrayList<>();
  private final Map<String, AtomicInteger> groupTurns = new ConcurrentHashMap<>();
  private final java.util.concurrent.ExecutorService events =
      java.util.concurrent.Executors.newSingleThreadExecutor(Threads.named("skiff-inprocess-events"));

  private InProcessTransport(String name) {
    this.name = name;
  }

  /**
   * A new, empty in-process transport.
   *
   * @return the transport
   */
  public static InProcessTransport create() {
    return new InProcessTransport("in-process");
  }

  @Override
  public String describe() {
    return name;
  }

  @Override
  public ServerBinding bind(String service, String instanceId, BindOptions options, InboundHandler handler) {
    checkOpen();
    Binding b = new Binding(service, instanceId, options.version(), handler);
    byService.computeIfAbsent(service, k -> new CopyOnWriteArrayList<>()).add(b);
    byInstance.put(service + "@" + instanceId, b);
    List<RequestMessage> waiting = parked.remove(service);
    if (waiting != null) {
      waiting.forEach(r -> deliver(b, r, false));
    }
    return b;
  }

  @Override
  public ClientChannel openClient(ReplyListener replies) {
    checkOpen();
    String address = "reply-" + ids.incrementAndGet();
    clients.put(address, replies);
    return new Channel(address);
  }

  @Override
  public void publish(String topic, String contentType, byte[] body) {
    checkOpen();
    Map<String, List<EventSub>> byQueue = new java.util.LinkedHashMap<>();
    for (EventSub sub : subscriptions) {
      if (sub.matches(topic)) {
        byQueue.computeIfAbsent(sub.queueKey(), k -> new java.util.ArrayList<>()).add(sub);
      }
    }
    for (List<EventSub> members : byQueue.values()) {
      int turn = groupTurns.computeIfAbsent(members.get(0).queueKey(), k -> new AtomicInteger()).getAndIncrement();
      EventSub chosen = members.get(Math.floorMod(turn, members.size()));
      events.execute(() -> {
        if (chosen.open) {
          chosen.listener.onEvent(topic, contentType, body, IDENTITY);
        }
      });
    }
  }

  @Override
  public Subscription subscribe(String pattern, String group, EventListener listener) {
    checkOpen();
    EventSub sub = new EventSub(pattern, group, listener);
    subscriptions.add(sub);
    return sub;
  }

  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      events.shutdownNow();
      subscriptions.clear();
      byService.clear();
      byInstance.clear();
      clients.clear();
      parked.clear();
    }
  }

  private void checkOpen() {
    if (closed.get()) {
      throw new SkiffException(ErrorCode.UNAVAILABLE, "the in-process transport is closed");
    }
  }

  private Binding pick(String service) {
    return pick(service, null);
  }

  /**
   * Round robin over the service's instances that take requests, or those of one version (a pin; no
   * weights in process).
   */
  private Binding pick(String service, String version) {
    List<Binding> all = byService.getOrDefault(service, new CopyOnWriteArrayList<>()).stream()
        .filter(b -> !b.paused && (version == null || version.equals(b.version)))
        .toList();
    int n = all.size();
    if (n == 0) {
      return null;
    }
    return all.get(Math.floorMod(roundRobin.getAndIncrement(), n));
  }

  private void park(RequestMessage r) {
    parked.computeIfAbsent(r.service(), k -> new CopyOnWriteArrayList<>()).add(r);
  }

  private void deliver(Binding b, RequestMessage r, boolean redelivered) {
    b.handler.onRequest(r, new InProcessDelivery(b, r, redelivered));
  }

  private final class InProcessDelivery implements Delivery {
    private final Binding binding;
    private final RequestMessage request;
    private final boolean redelivered;

    InProcessDelivery(Binding binding, RequestMessage request, boolean redelivered) {
      this.binding = binding;
      this.request = request;
      this.redelivered = redelivered;
    }

    @Override
    public void reply(ReplyMessage reply) {
      ReplyListener l = request.replyTo() == null ? null : clients.get(request.replyTo());
      if (l != null) {
        l.onReply(reply.withUserId(IDENTITY));
      }
    }

    @Override
    public void ack() {}

    @Override
    public void requeue() {
      if (request.targetInstance() != null) {
        return;
      }
      Binding other = pick(request.service());
      if (other != null && other != binding && other.active) {
        deliver(other, request, false);
      } else {
        park(request);
      }
    }

    @Override
    public boolean instanceAddressed() {
      return request.targetInstance() != null;
    }

    @Override
    public boolean redelivered() {
      return redelivered;
    }
  }

  private final class Binding implements ServerBinding {
    private final String service;
    private final String instanceId;
    private final String version;
    private final InboundHandler handler;
    private volatile boolean active = true;
    private volatile boolean paused;
    /** Requests addressed to this instance while it was paused. */
    private final List<RequestMessage> waiting = new CopyOnWriteArrayList<>();

    Binding(String service, String instanceId, String version, InboundHandler handler) {
      this.service = service;
      this.instanceId = instanceId;
      this.version = version;
      this.handler = handler;
    }

    @Override
    public void stopConsuming() {
      active = false;
      List<Binding> list = byService.get(service);
      if (list != null) {
        list.remove(this);
      }
      byInstance.remove(service + "@" + instanceId, this);
    }

    @Override
    public synchronized void pause() {
      if (active) {
        paused = true;
      }
    }

    @Override
    public void resume() {
      List<RequestMessage> mine;
      List<RequestMessage> shared;
      synchronized (this) {
        if (!active || !paused) {
          return;
        }
        paused = false;
        mine = List.copyOf(waiting);
        waiting.removeAll(mine);
        shared = parked.remove(service);
      }
      mine.forEach(r -> deliver(this, r, false));
      if (shared != null) {
        shared.forEach(r -> deliver(this, r, false));
      }
    }

    /** Takes a request addressed to this instance: now, or when it resumes. */
    synchronized boolean offer(RequestMessage r) {
      if (paused) {
        waiting.add(r);
        return false;
      }
      return true;
    }

    @Override
    public void close() {
      stopConsuming();
      waiting.clear();
    }
  }

  private final class Channel implements ClientChannel {
    private final String address;

    Channel(String address) {
      this.address = address;
    }

    @Override
    public CompletableFuture<Void> send(RequestMessage request) {
      RequestMessage r = request.toBuilder().replyTo(address).userId(IDENTITY).build();
      Binding b =
          r.targetInstance() == null
              ? pick(r.service(), r.targetVersion())
              : byInstance.get(r.service() + "@" + r.targetInstance());
      if (b == null && r.targetInstance() == null && !closed.get() && anyPaused(r.service(), r.targetVersion())) {
        park(r); // as in a queue with no consumer: it waits for an instance to take requests again
        return CompletableFuture.completedFuture(null);
      }
      if (b == null || closed.get()) {
        String what =
            r.targetInstance() != null
                ? "instance " + r.targetInstance() + " of service " + r.service()
                : r.targetVersion() != null
                    ? "version " + r.targetVersion() + " of service " + r.service()
                    : "service " + r.service();
        return CompletableFuture.failedFuture(
            new SkiffException(ErrorCode.NOT_FOUND, what + " is not running (in-process transport)")
                .withContext("service", r.service())
                .withProgress(RpcProgress.NOT_RECEIVED));
      }
      if (b.offer(r)) {
        deliver(b, r, false);
      }
      return CompletableFuture.completedFuture(null);
    }

    private boolean anyPaused(String service, String version) {
      return byService.getOrDefault(service, new CopyOnWriteArrayList<>()).stream()
          .anyMatch(x -> x.paused && (version == null || version.equals(x.version)));
    }

    @Override
    public void close() {
      clients.remove(address);
    }
  }

  private final class EventSub implements Subscription {
    private final java.util.regex.Pattern regex;
    private final String queueKey;
    private final EventListener listener;
    private volatile boolean open = true;

    EventSub(String pattern, String group, EventListener listener) {
      this.regex = topicRegex(pattern);
      this.queueKey = group == null ? "sub-" + ids.incrementAndGet() : "group-" + group;
      this.listener = listener;
    }

    boolean matches(String topic) {
      return regex.matcher(topic).matches();
    }

    String queueKey() {
      return queueKey;
    }

    @Override
    public void close() {
      open = false;
      subscriptions.remove(this);
    }
  }

  /** AMQP topic matching: '*' is one word, '#' zero or more, words separated by dots. */
  static java.util.regex.Pattern topicRegex(String pattern) {
    StringBuilder re = new StringBuilder();
    String[] words = pattern.split("\\.", -1);
    for (int i = 0; i < words.length; i++) {
      String w = words[i];
      boolean last = i == words.length - 1;
      if (w.equals("#")) {
        if (words.length == 1) {
          re.append(".*");
        } else if (i == 0) {
          re.append("(?:[^.]+\\.)*");
        } else if (last) {
          re.setLength(re.length() - 2); // drop the preceding "\."
          re.append("(?:\\.[^.]+)*");
        } else {
          re.append("(?:[^.]+\\.)*");
        }
        continue;
      }
      re.append(w.equals("*") ? "[^.]+" : java.util.regex.Pattern.quote(w));
      if (!last) {
        re.append("\\.");
      }
    }
    return java.util.regex.Pattern.compile(re.toString());
  }
}
