package dev.skiff.kernel.trace;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ListValue;
import com.google.protobuf.StringValue;
import com.google.protobuf.util.JsonFormat;
import dev.skiff.kernel.Kernel;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.client.FanOut;
import dev.skiff.platform.client.Reply;
import dev.skiff.platform.config.Settings;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.trace.TraceSettings;
import dev.skiff.platform.trace.Tracing;
import dev.skiff.platform.transport.Transport;
import dev.skiff.proto.v1.GetTraceRequest;
import dev.skiff.proto.v1.ListTracesRequest;
import dev.skiff.proto.v1.Span;
import dev.skiff.proto.v1.SpanKind;
import dev.skiff.proto.v1.Trace;
import dev.skiff.proto.v1.TraceList;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A three-level call chain with a parallel fan-out, traced end to end through the trace kernel service:
 * user → front; front → inventory (first, alone), then front → pricing ∥ front → shipping (in parallel);
 * pricing → tax. Subclasses supply the transport.
 */
abstract class TraceChainContract {
  static final TraceSettings FAST = TraceSettings.DEFAULTS.withFlushInterval(Duration.ofMillis(20));
  static final StringValue REQ = StringValue.of("order-1");

  protected Transport transport;
  protected final List<AutoCloseable> toClose = new ArrayList<>();
  protected TraceService traces;
  protected Kernel kernel;
  protected String prefix;
  protected Client user;
  /** Holds slow/work (tracedRetryAndTimeout) until it is released. */
  protected final CountDownLatch slowHeld = new CountDownLatch(1);

  protected abstract Transport newTransport();

  /** @return the store of the trace service under test */
  protected TraceStore newStore() {
    return new InMemoryTraceStore(1000, 1000);
  }

  String svc(String name) {
    return prefix + "." + name;
  }

  @BeforeEach
  void setUp() {
    transport = newTransport();
    prefix = "shop" + Long.toHexString(System.nanoTime() & 0xfffffff);
    traces = new TraceService(newStore(), HealthSource.NONE, Clock.systemUTC());
    kernel = Kernel.start(transport, Settings.fromEnvironment(Map.of()), List.of(traces), 0);
    service("tax", (req, ctx) -> {
      sleep(15);
      return StringValue.of("tax for " + req.getValue());
    });
    // pricing and shipping meet at a barrier of two, which opens only while both are being handled: the
    // fan-out's calls overlap by construction, not because one sleeps longer than the other
    CyclicBarrier fanOutMeets = new CyclicBarrier(2);
    service("pricing", (req, ctx) -> {
      meet(fanOutMeets);
      sleep(10);
      StringValue tax = ctx.client().call(svc("tax"), "rate", req, StringValue.class);
      return StringValue.of("price, " + tax.getValue());
    });
    service("shipping", (req, ctx) -> {
      meet(fanOutMeets);
      sleep(40);
      return StringValue.of("shipping");
    });
    service("inventory", (req, ctx) -> {
      sleep(20);
      return StringValue.of("in stock");
    });
    service("front", (req, ctx) -> {
      StringValue stock = ctx.client().call(svc("inventory"), "check", req, StringValue.class);
      FanOut fan = ctx.client().fanOut(4);
      FanOut.Pending<StringValue> price = fan.call(svc("pricing"), "quote", req, StringValue.class);
      FanOut.Pending<StringValue> ship = fan.call(svc("shipping"), "quote", req, StringValue.class);
      fan.awaitAll();
      return StringValue.of(stock.getValue() + "; " + price.get().getValue() + "; " + ship.get().getValue());
    });
    Tracing userTracing = tracing("test-user", FAST.withSampleRate(1));
    user = Client.builder().transport(transport).name("test-user").observer(userTracing).build();
    toClose.add(user);
  }

  @AfterEach
  void tearDown() throws Exception {
    for (int i = toClose.size() - 1; i >= 0; i--) {
      toClose.get(i).close();
    }
    kernel.close();
    transport.close();
  }

  Tracing tracing(String service, TraceSettings settings) {
    Tracing t = Tracing.builder(service).transport(transport).settings(settings).build().start();
    toClose.add(t);
    return t;
  }

  void service(String name, dev.skiff.platform.server.Handler<StringValue, StringValue> handler) {
    String endpoint = switch (name) {
      case "tax" -> "rate";
      case "inventory" -> "check";
      case "front" -> "order";
      default -> "quote";
    };
    // every service samples no new traces (rate 0): it follows the caller's decision
    Tracing t = tracing(svc(name), FAST);
    Server s = Server.builder(svc(name)).transport(transport).observer(t)
        .endpoint(Endpoint.of(endpoint, StringValue.class, StringValue.class, handler)).build().start();
    toClose.add(s);
  }

  /** Waits until the barrier's other party is there too (30 s at most: a bound that only stops a hung test). */
  static void meet(CyclicBarrier barrier) {
    try {
      barrier.await(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    } catch (BrokenBarrierException | TimeoutException e) {
      throw new SkiffException(ErrorCode.INTERNAL, "the fan-out's calls were never handled at once: " + e);
    }
  }

  static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** Calls front/order and waits for all ten spans of its trace to be stored. */
  List<Span> tracedOrder() {
    Reply<StringValue> r = Client.await(user.exchange(svc("front"), "order", REQ, StringValue.class, CallOptions.defaults()));
    assertThat(r.value().getValue()).isEqualTo("in stock; price, tax for order-1; shipping");
    await().atMost(Duration.ofSeconds(10)).until(() -> traces.store().trace(r.traceId()).map(List::size).orElse(0) == 10);
    return traces.store().trace(r.traceId()).orElseThrow();
  }

  static Span one(List<Span> spans, Predicate<Span> p) {
    List<Span> found = spans.stream().filter(p).toList();
    assertThat(found).hasSize(1);
    return found.get(0);
  }

  Span server(List<Span> spans, String name) {
    return one(spans, s -> s.getKind() == SpanKind.SPAN_KIND_SERVER && s.getService().equals(svc(name)));
  }

  Span client(List<Span> spans, String to) {
    return one(spans, s -> s.getKind() == SpanKind.SPAN_KIND_CLIENT && s.getRemoteService().equals(svc(to)));
  }

  static long end(Span s) {
    return s.getStartMicros() + s.getDurationMicros();
  }

  @Test
  void aThreeLevelChainWithAFanOutIsStoredAsOneTreeWithParallelCallsOverlapping() {
    List<Span> spans = tracedOrder();
    assertThat(spans).extracting(Span::getTraceId).containsOnly(spans.get(0).getTraceId());
    Span root = client(spans, "front");
    assertThat(root.getService()).isEqualTo("test-user");
    assertThat(root.getParentSpanId()).isEmpty();
    Span front = server(spans, "front");
    assertThat(front.getParentSpanId()).isEqualTo(root.getSpanId());
    assertThat(front.getRemoteService()).isEqualTo("test-user");
    for (String callee : List.of("inventory", "pricing", "shipping")) {
      Span call = client(spans, callee);
      assertThat(call.getService()).isEqualTo(svc("front"));
      assertThat(call.getParentSpanId()).as("%s call's parent", callee).isEqualTo(front.getSpanId());
      assertThat(server(spans, callee).getParentSpanId()).isEqualTo(call.getSpanId());
    }
    Span taxCall = client(spans, "tax");
    assertThat(taxCall.getParentSpanId()).isEqualTo(server(spans, "pricing").getSpanId());
    assertThat(server(spans, "tax").getParentSpanId()).isEqualTo(taxCall.getSpanId());
    assertThat(spans).allSatisfy(s -> {
      assertThat(s.getErrorCode()).isEmpty();
      assertThat(s.getDurationMicros()).isPositive();
    });
    assertThat(server(spans, "front").getInstance()).isNotEmpty();

    // The fan-out's two calls overlap in time (their handlers met at a barrier); the inventory call came
    // first and ended before them; a parent spans its children. A span is placed to the microsecond when
    // it is recorded within 2 ms of its end, else to the millisecond (Tracing): TOLERANCE covers both.
    Span pricing = client(spans, "pricing");
    Span shipping = client(spans, "shipping");
    Span inventory = client(spans, "inventory");
    assertThat(pricing.getStartMicros()).isLessThan(end(shipping));
    assertThat(shipping.getStartMicros()).isLessThan(end(pricing));
    assertThat(end(inventory)).isLessThanOrEqualTo(Math.min(pricing.getStartMicros(), shipping.getStartMicros()) + TOLERANCE);
    assertThat(front.getStartMicros()).isLessThanOrEqualTo(inventory.getStartMicros() + TOLERANCE);
    assertThat(end(front)).isGreaterThanOrEqualTo(Math.max(end(pricing), end(shipping)) - TOLERANCE);
  }

  /** How far a recorded span's ends may lie from the true ones, in microseconds (see above). */
  static final long TOLERANCE = 3000;

  @Test
  void theTraceServiceServesTracesOverRpcAndZipkinJsonOverHttp() throws Exception {
    List<Span> spans = tracedOrder();
    String id = spans.get(0).getTraceId();
    Trace t = user.call(TraceService.SERVICE, "get", GetTraceRequest.newBuilder().setTraceId(id.toUpperCase()).build(), Trace.class);
    assertThat(t.getSpansList()).extracting(Span::getSpanId).containsExactlyInAnyOrderElementsOf(
        spans.stream().map(Span::getSpanId).toList());
    // a handler's calls are attributed to the instance that served the request they were made from
    assertThat(client(t.getSpansList(), "inventory").getInstance()).isEqualTo(server(spans, "front").getInstance());
    assertThat(client(t.getSpansList(), "tax").getInstance()).isEqualTo(server(spans, "pricing").getInstance());
    TraceList list = user.call(TraceService.SERVICE, "list", ListTracesRequest.newBuilder().setService(svc("tax")).build(), TraceList.class);
    assertThat(list.getTracesList()).singleElement().satisfies(s -> {
      assertThat(s.getTraceId()).isEqualTo(id);
      assertThat(s.getRootService()).isEqualTo(svc("front"));
      assertThat(s.getSpanCount()).isEqualTo(10);
    });
    String unknown = "0123456789abcdef0123456789abcdef";
    assertThatThrownBy(() -> user.call(TraceService.SERVICE, "get", GetTraceRequest.newBuilder().setTraceId(unknown).build(), Trace.class))
        .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NOT_FOUND))
        .hasMessageContaining("no trace " + unknown);
    assertThatThrownBy(() -> user.call(TraceService.SERVICE, "get", GetTraceRequest.newBuilder().setTraceId("nope").build(), Trace.class))
        .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.BAD_REQUEST))
        .hasMessageContaining("'nope' is not a trace id");

    HttpClient http = HttpClient.newHttpClient();
    String base = "http://127.0.0.1:" + kernel.web().port();
    HttpResponse<String> zipkin = http.send(HttpRequest.newBuilder(URI.create(base + "/traces/api/v2/trace/" + id)).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(zipkin.statusCode()).isEqualTo(200);
    ListValue.Builder parsed = ListValue.newBuilder();
    JsonFormat.parser().merge(zipkin.body(), parsed);
    assertThat(parsed.getValuesList()).hasSize(10).allSatisfy(v -> {
      var f = v.getStructValue().getFieldsMap();
      assertThat(f.get("traceId").getStringValue()).isEqualTo(id);
      assertThat(f.get("kind").getStringValue()).isIn("CLIENT", "SERVER");
      assertThat(f).containsKeys("id", "name", "timestamp", "duration", "localEndpoint");
    });
    assertThat(parsed.getValuesList()).filteredOn(v -> !v.getStructValue().getFieldsMap().containsKey("parentId")).hasSize(1);
    HttpResponse<String> missing = http.send(HttpRequest.newBuilder(URI.create(base + "/traces/api/v2/trace/" + unknown)).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(missing.statusCode()).isEqualTo(404);
    assertThat(missing.body()).contains("no trace " + unknown);
    HttpResponse<String> many = http.send(HttpRequest.newBuilder(URI.create(base + "/traces/api/v2/traces?limit=5")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(many.body()).startsWith("[[").contains(id);
    for (String limit : new String[] {"0", "-1", "1001", "lots"}) {
      HttpResponse<String> bad = http.send(HttpRequest.newBuilder(URI.create(base + "/traces/api/v2/traces?limit=" + limit)).build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(bad.statusCode()).as(limit).isEqualTo(400);
      assertThat(bad.body()).as(limit).contains("limit must be");
    }
    HttpResponse<String> graph = http.send(HttpRequest.newBuilder(URI.create(base + "/traces/api/graph")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(graph.body()).contains("\"from\":\"" + svc("front") + "\",\"to\":\"" + svc("pricing") + "\",\"calls\":1");
  }

  /**
   * desk/book: calls flaky/get (fails UNAVAILABLE once, then answers: retried), then slow/work with a 60 ms
   * timeout. slow/work is held until desk's caller has its answer and the store has desk's TIMEOUT span of
   * the call: that span ended, and was recorded, without waiting for the handler.
   */
  String tracedRetryAndTimeout() {
    java.util.Set<String> seen = java.util.concurrent.ConcurrentHashMap.newKeySet();
    Tracing flakyTracing = tracing(svc("flaky"), FAST);
    toClose.add(Server.builder(svc("flaky")).transport(transport).observer(flakyTracing)
        .endpoint(Endpoint.of("get", StringValue.class, StringValue.class, (req, ctx) -> {
          if (seen.add(ctx.requestId())) {
            throw new SkiffException(ErrorCode.UNAVAILABLE, "warming up");
          }
          return StringValue.of("got");
        }).asIdempotent()).build().start());
    Tracing slowTracing = tracing(svc("slow"), FAST);
    toClose.add(Server.builder(svc("slow")).transport(transport).observer(slowTracing)
        .endpoint(Endpoint.of("work", StringValue.class, StringValue.class, (req, ctx) -> {
          try {
            slowHeld.await(30, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt(); // the server gave up on it at its deadline
          }
          return StringValue.of("done");
        })).build().start());
    Tracing deskTracing = tracing(svc("desk"), FAST);
    toClose.add(Server.builder(svc("desk")).transport(transport).observer(deskTracing)
        .endpoint(Endpoint.of("book", StringValue.class, StringValue.class, (req, ctx) -> {
          String got = ctx.client().call(svc("flaky"), "get", req, StringValue.class).getValue();
          try {
            ctx.client().call(svc("slow"), "work", req, StringValue.class, CallOptions.timeout(Duration.ofMillis(60)));
            return StringValue.of(got + ", done");
          } catch (SkiffException e) {
            return StringValue.of(got + ", " + e.code());
          }
        })).build().start());
    Reply<StringValue> r;
    try {
      r = Client.await(user.exchange(svc("desk"), "book", REQ, StringValue.class, CallOptions.defaults()));
      assertThat(r.value().getValue()).isEqualTo("got, TIMEOUT");
      await("desk's span of the timed-out call, stored while slow/work is still held").atMost(Duration.ofSeconds(10))
          .until(() -> traces.store().trace(r.traceId()).orElse(List.of()).stream()
              .anyMatch(s -> s.getKind() == SpanKind.SPAN_KIND_CLIENT && s.getRemoteService().equals(svc("slow"))
                  && s.getErrorCode().equals("TIMEOUT")));
    } finally {
      slowHeld.countDown();
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> traces.store().trace(r.traceId()).map(List::size).orElse(0) == 8);
    return r.traceId();
  }

  @Test
  void retriesAndTimeoutsAreSpansOfTheirOwn() {
    List<Span> spans = traces.store().trace(tracedRetryAndTimeout()).orElseThrow();
    List<Span> attempts = spans.stream()
        .filter(s -> s.getKind() == SpanKind.SPAN_KIND_CLIENT && s.getRemoteService().equals(svc("flaky"))).toList();
    assertThat(attempts).hasSize(2);
    assertThat(attempts.get(0).getAttempt()).isEqualTo(1);
    assertThat(attempts.get(0).getErrorCode()).isEqualTo("UNAVAILABLE");
    assertThat(attempts.get(0).getRetrying()).isTrue();
    assertThat(attempts.get(1).getAttempt()).isEqualTo(2);
    assertThat(attempts.get(1).getErrorCode()).isEmpty();
    assertThat(attempts.get(1).getRequestId()).isEqualTo(attempts.get(0).getRequestId());
    assertThat(attempts.get(1).getParentSpanId()).isEqualTo(attempts.get(0).getParentSpanId());
    for (Span a : attempts) {
      assertThat(spans).filteredOn(s -> s.getParentSpanId().equals(a.getSpanId())).singleElement()
          .satisfies(s -> assertThat(s.getService()).isEqualTo(svc("flaky")));
    }
    Span slowCall = client(spans, "slow");
    assertThat(slowCall.getErrorCode()).isEqualTo("TIMEOUT");
    assertThat(slowCall.getRetrying()).isFalse();
    // it lasted until its 60 ms timeout (less what came between the call's deadline being set and its
    // attempt's start); that it did not wait for the handler, tracedRetryAndTimeout made sure
    assertThat(slowCall.getDurationMicros()).isGreaterThanOrEqualTo(50_000L);
    assertThat(server(spans, "slow").getParentSpanId()).isEqualTo(slowCall.getSpanId());
    assertThat(server(spans, "desk").getErrorCode()).isEmpty();
  }

  @Test
  void unsampledTracesAreNotRecordedButAForcedOneIs() {
    try (Client quiet = Client.builder().transport(transport).name("test-quiet").build()) {
      Reply<StringValue> r = Client.await(quiet.exchange(svc("front"), "order", REQ, StringValue.class, CallOptions.defaults()));
      Reply<StringValue> forced = Client.await(quiet.exchange(svc("front"), "order", REQ, StringValue.class,
          CallOptions.defaults().withTrace(true)));
      // the quiet client records no spans itself: the services record the 9 below it
      await().atMost(Duration.ofSeconds(10)).until(() -> traces.store().trace(forced.traceId()).map(List::size).orElse(0) == 9);
      assertThat(traces.store().trace(r.traceId())).isEmpty();
    }
  }
}
