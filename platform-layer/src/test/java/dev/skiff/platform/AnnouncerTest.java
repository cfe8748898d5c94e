package dev.skiff.platform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.skiff.platform.config.Settings;
import dev.skiff.platform.discovery.Announcer;
import dev.skiff.platform.pubsub.PubSub;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.testproto.EchoRequest;
import dev.skiff.platform.testproto.EchoResponse;
import dev.skiff.platform.transport.Transport;
import dev.skiff.platform.transport.inprocess.InProcessTransport;
import dev.skiff.proto.v1.InstanceAnnouncement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/** What a server announces for discovery, in process. */
class AnnouncerTest {
  @Test
  void aServerAnnouncesItselfAtEveryHeartbeatAndOnAStop() {
    try (InProcessTransport t = InProcessTransport.create()) {
      List<InstanceAnnouncement> seen = new CopyOnWriteArrayList<>();
      Transport.Subscription sub = new PubSub(t).subscribe(Announcer.TOPIC_PATTERN, null, InstanceAnnouncement.class,
          (topic, a) -> seen.add(a));
      Server s = Server.builder("test.announce").version("1.2.0").instanceId("abc").description("d")
          .settings(Settings.fromEnvironment(Map.of("SKIFF_HEARTBEAT", "100ms")))
          .transport(t)
          .endpoint("echo", EchoRequest.class, EchoResponse.class, (req, ctx) -> EchoResponse.getDefaultInstance())
          .build().start();
      await().atMost(Duration.ofSeconds(2)).until(() -> seen.size() >= 3);
      InstanceAnnouncement a = seen.get(0);
      assertThat(a.getService()).isEqualTo("test.announce");
      assertThat(a.getVersion()).isEqualTo("1.2.0");
      assertThat(a.getInstance()).isEqualTo("abc");
      assertThat(a.getState()).isEqualTo(InstanceAnnouncement.State.RUNNING);
      assertThat(a.getHeartbeatMs()).isEqualTo(100);
      assertThat(a.getExpireAfterMs()).isEqualTo(300);
      assertThat(a.getEndpoints(0).getName()).isEqualTo("echo");
      assertThat(a.getEndpoints(0).getRequestType()).isEqualTo(EchoRequest.getDescriptor().getFullName());
      assertThat(a.getEndpoints(0).getResponseType()).isEqualTo(EchoResponse.getDescriptor().getFullName());
      s.close();
      await().atMost(Duration.ofSeconds(2))
          .until(() -> seen.get(seen.size() - 1).getState() == InstanceAnnouncement.State.STOPPING);
      sub.close();
    }
  }

  @Test
  void announcingCanBeSwitchedOff() {
    try (InProcessTransport t = InProcessTransport.create()) {
      List<InstanceAnnouncement> seen = new CopyOnWriteArrayList<>();
      new PubSub(t).subscribe(Announcer.TOPIC_PATTERN, null, InstanceAnnouncement.class, (topic, a) -> seen.add(a));
      Server s = Server.builder("test.silent").announce(false).heartbeat(Duration.ofMillis(50)).transport(t)
          .endpoint("echo", EchoRequest.class, EchoResponse.class, (req, ctx) -> EchoResponse.getDefaultInstance())
          .build().start();
      // a server that does announce, with the same heartbeat, is the clock: once it has been heard five
      // times after the silent one started (events arrive in the order they are published), the silent
      // one would have been heard at its start and several heartbeats since
      Server loud = Server.builder("test.loud").heartbeat(Duration.ofMillis(50)).transport(t)
          .endpoint("echo", EchoRequest.class, EchoResponse.class, (req, ctx) -> EchoResponse.getDefaultInstance())
          .build().start();
      await().atMost(Duration.ofSeconds(30)).until(() -> seen.stream().filter(a -> a.getService().equals("test.loud")).count() >= 5);
      s.close();
      loud.close();
      await().atMost(Duration.ofSeconds(30)).until(() -> seen.stream().anyMatch(a -> a.getState() == InstanceAnnouncement.State.STOPPING));
      assertThat(seen).as("announcements").allSatisfy(a -> assertThat(a.getService()).isEqualTo("test.loud"));
    }
  }
}
