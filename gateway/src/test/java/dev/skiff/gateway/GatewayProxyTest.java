package dev.skiff.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.skiff.gateway.testproto.Echoed;
import dev.skiff.gateway.testproto.Thing;
import dev.skiff.platform.internal.Ids;
import dev.skiff.platform.security.Access;
import dev.skiff.platform.security.ServiceIdentities;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.Server;
import dev.skiff.testing.RabbitMqExtension;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * What the gateway forwards end to end: the service sees the W3C trace of the request's
 * {@code traceparent} (a child span of it) and the gateway's request id, the one the client gets in
 * {@code X-Request-Id}; without a valid traceparent the call starts a trace of its own.
 */
class GatewayProxyTest {
  @RegisterExtension static final RabbitMqExtension broker = RabbitMqExtension.create();

  @Test
  void theTraceAndTheRequestIdReachTheService() throws Exception {
    try (GatewayFixture f = new GatewayFixture(broker.amqpUri(), GatewayOptions.defaults(), null)) {
      String name = "gwtest.proxy" + Ids.random32().substring(0, 6);
      // answers with what it was given: "traceId parentSpanId requestId" in the user field
      f.server = Server.builder(name).transport(f.transport).identities(ServiceIdentities.defaults())
          .endpoint(Endpoint.of("get", Thing.class, Echoed.class, (req, ctx) -> Echoed.newBuilder().setGot(req)
              .setUser(ctx.traceId() + " " + ctx.parentSpanId() + " " + ctx.requestId()).build()).withAccess(Access.anyone()))
          .build().start();
      await().atMost(Duration.ofSeconds(10)).until(() -> f.gateway.routeCount() >= 1);

      // the gateway's spans, as the trace service would receive them
      java.util.List<dev.skiff.proto.v1.Span> spans = new java.util.concurrent.CopyOnWriteArrayList<>();
      dev.skiff.platform.transport.Transport.Subscription sub = new dev.skiff.platform.pubsub.PubSub(f.transport)
          .subscribe(dev.skiff.platform.trace.SpanSink.TOPIC_PREFIX + "#", null, dev.skiff.proto.v1.SpanBatch.class,
              (topic, batch) -> spans.addAll(batch.getSpansList()));
      String traceId = Ids.random128();
      String parent = Ids.random128().substring(0, 16);
      String tp = "00-" + traceId + "-" + parent + "-01";
      HttpResponse<String> r = f.send(f.request("/v1/things/t1").header("traceparent", tp).GET());
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      String[] seen = user(r);
      assertThat(seen[0]).isEqualTo(traceId);
      assertThat(seen[1]).matches("[0-9a-f]{16}");
      // the service's parent is the gateway's client span, which is recorded, a child of the HTTP caller's span:
      // the trace links up from the caller to the service
      await().atMost(Duration.ofSeconds(10)).until(() -> spans.stream().anyMatch(s -> s.getSpanId().equals(seen[1])));
      dev.skiff.proto.v1.Span call = spans.stream().filter(s -> s.getSpanId().equals(seen[1])).findFirst().orElseThrow();
      assertThat(call.getTraceId()).isEqualTo(traceId);
      assertThat(call.getParentSpanId()).isEqualTo(parent);
      assertThat(call.getService()).isEqualTo("skiff.gateway");
      assertThat(call.getKind()).isEqualTo(dev.skiff.proto.v1.SpanKind.SPAN_KIND_CLIENT);
      sub.close();
      assertThat(seen[2]).isEqualTo(r.headers().firstValue("X-Request-Id").orElseThrow());
      assertThat(r.headers().firstValue("traceparent")).hasValue(tp);

      for (String bad : new String[] {null, "00-" + "0".repeat(32) + "-" + parent + "-01", "garbage", "00-" + traceId + "-" + parent}) {
        HttpResponse<String> n = f.send(bad == null ? f.request("/v1/things/t2").GET() : f.request("/v1/things/t2").header("traceparent", bad).GET());
        assertThat(n.statusCode()).as(bad).isEqualTo(200);
        String[] s = user(n);
        assertThat(s[0]).as(bad).matches("[0-9a-f]{32}").isNotEqualTo(traceId).isNotEqualTo("0".repeat(32));
        assertThat(s[2]).isEqualTo(n.headers().firstValue("X-Request-Id").orElseThrow());
        assertThat(n.headers().firstValue("traceparent")).as(bad).isEmpty();
      }
    }
  }

  private static String[] user(HttpResponse<String> r) {
    String body = r.body();
    int at = body.indexOf("\"user\":\"") + 8;
    return body.substring(at, body.indexOf('"', at)).split(" ", -1);
  }
}
