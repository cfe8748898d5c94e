package dev.skiff.gateway.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.api.CustomHttpPattern;
import com.google.api.HttpRule;
import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.DescriptorProtos.FileDescriptorSet;
import dev.skiff.gateway.GatewayFixture;
import dev.skiff.gateway.GatewayOptions;
import dev.skiff.gateway.testproto.Thing;
import dev.skiff.platform.discovery.Announcer;
import dev.skiff.platform.pubsub.PubSub;
import dev.skiff.proto.v1.EndpointInfo;
import dev.skiff.proto.v1.InstanceAnnouncement;
import dev.skiff.testing.RabbitMqExtension;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Announcements are hostile input: proto files that import what is missing or each other, rules with bad
 * templates, bodies, types, response bodies or custom methods, a claim on a path another service serves or
 * the gateway serves itself, and a kernel service's routes are all left out (counted), while the honest service's routes are served.
 */
class HostileAnnouncementTest {
  @RegisterExtension static final RabbitMqExtension broker = RabbitMqExtension.create();

  @Test
  void badAnnouncementsAddNoRouteAndBreakNothing() throws Exception {
    try (GatewayFixture f = new GatewayFixture(broker.amqpUri(), GatewayOptions.defaults(), null).startService()) {
      PubSub bus = new PubSub(f.transport);
      FileDescriptorProto good = Thing.getDescriptor().getFile().toProto();
      FileDescriptorProto missingImport = good.toBuilder().setName("evil/a.proto").addDependency("evil/nothing.proto").build();
      FileDescriptorProto cycleA = good.toBuilder().setName("evil/b.proto").setPackage("evil.b").addDependency("evil/c.proto").build();
      FileDescriptorProto cycleB = good.toBuilder().setName("evil/c.proto").setPackage("evil.c").addDependency("evil/b.proto").build();
      announce(bus, "gwtest.evil1", FileDescriptorSet.newBuilder().addFile(missingImport).build(), rule("/v1/evil1"));
      announce(bus, "gwtest.evil2", FileDescriptorSet.newBuilder().addFile(cycleA).addFile(cycleB).build(), rule("/v1/evil2"));
      FileDescriptorSet ok = FileDescriptorSet.newBuilder().addFile(good.toBuilder().setName("evil/ok.proto")).build();
      announce(bus, "gwtest.evil3", ok, rule("/v1/{id=**}/x/{id}"));
      announce(bus, "gwtest.evil4", ok, rule("/v1/evil4\u001b[31m{"));
      announce(bus, "gwtest.evil5", ok, HttpRule.newBuilder().setPost("/v1/evil5").setBody("nothing").build());
      announce(bus, "gwtest.evil6", ok, HttpRule.newBuilder().setGet("/v1/evil6/{address}").build());
      // custom methods the gateway keeps (OPTIONS answers CORS preflights), or that are not methods at all
      announce(bus, "gwtest.evil7", ok, custom("OPTIONS", "/v1/evil7"));
      announce(bus, "gwtest.evil8", ok, custom("TRACE", "/v1/evil8"));
      announce(bus, "gwtest.evil9", ok, custom("GET /v1/x HTTP/1.1\r\nHost: y\r\n\r\nGET", "/v1/evil9"));
      announce(bus, "gwtest.evil10", ok, custom("get", "/v1/evil10"));
      // a response_body naming no field of the answer; a Struct (an object, not one value) in the path
      announce(bus, "gwtest.evil11", ok, HttpRule.newBuilder().setGet("/v1/evil11").setResponseBody("nothing").build());
      announce(bus, "gwtest.evil12", ok, HttpRule.newBuilder().setGet("/v1/evil12/{extra}").build());
      // paths the gateway serves itself: a service may not claim them (they would never be reached)
      announce(bus, "gwtest.evil13", ok, HttpRule.newBuilder().setPost("/auth/v1/login").setBody("*").build());
      announce(bus, "gwtest.evil14", ok, rule("/admin/v1/evil14"));
      announce(bus, "gwtest.evil15", ok, rule("/openapi.json"));
      announce(bus, "gwtest.evil16", ok, rule("/{id=explorer}"));
      announce(bus, "gwtest.evil17", ok, rule("/readyz"));
      // a claim on the honest service's path: the name that sorts first keeps it ("gwtest.things..." < "gwtest.zz")
      announce(bus, "gwtest.zz", ok, rule("/v1/things/{id}"));
      announce(bus, "skiff.login", ok, rule("/v1/kernel"));
      await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(20))
          .until(() -> f.gateway.metrics().counter("skiff.gateway.routes.refused").getCount() >= 17
              && f.gateway.metrics().counter("skiff.gateway.routes.conflicts").getCount() >= 1);
      assertThat(f.get("/v1/evil1").statusCode()).isEqualTo(404);
      assertThat(f.get("/v1/evil2").statusCode()).isEqualTo(404);
      assertThat(f.get("/v1/kernel").statusCode()).isEqualTo(404);
      for (int i = 7; i <= 12; i++) {
        assertThat(f.get("/v1/evil" + i).statusCode()).isEqualTo(404);
      }
      assertThat(f.send("OPTIONS", "/v1/evil7", "").statusCode()).isEqualTo(404);
      assertThat(f.get("/openapi.json").body()).doesNotContain("/admin/", "\"/openapi.json\"", "{id=explorer}", "/readyz");
      assertThat(f.get("/readyz").body()).as("still the gateway's own probe").contains("\"status\"");
      assertThat(f.get("/v1/things/mine").body()).contains("\"id\":\"mine\"");
      assertThat(f.get("/openapi.json").body()).doesNotContain("evil").doesNotContain("/v1/kernel");
    }
  }

  private static HttpRule rule(String path) {
    return HttpRule.newBuilder().setGet(path).build();
  }

  private static HttpRule custom(String kind, String path) {
    return HttpRule.newBuilder().setCustom(CustomHttpPattern.newBuilder().setKind(kind).setPath(path)).build();
  }

  private static void announce(PubSub bus, String service, FileDescriptorSet files, HttpRule rule) {
    bus.publish(Announcer.TOPIC_PREFIX + service, InstanceAnnouncement.newBuilder().setService(service).setVersion("1")
        .setInstance("i1").setStartedMs(System.currentTimeMillis()).setState(InstanceAnnouncement.State.RUNNING)
        .setExpireAfterMs(60_000).setDescriptors(files)
        .addEndpoints(EndpointInfo.newBuilder().setName("get").setRequestType("skiff.gatewaytest.Thing")
            .setResponseType("skiff.gatewaytest.Echoed").setHttp(rule))
        .build());
  }
}
