package dev.skiff.platform.server;

import com.google.protobuf.Internal;
import dev.skiff.proto.v1.EndpointInfo;
import dev.skiff.proto.v1.InstanceAnnouncement;
import java.io.IOException;
import java.net.InetAddress;
import java.time.Duration;

/** What a server tells discovery about itself (docs/routing.md): its identity and its endpoints. */
final class Announcements {
  private Announcements() {}

  /**
   * @param server the server
   * @param defaultDeadline the deadline its endpoints give a request that carries none
   * @param startedMillis when it started (epoch milliseconds)
   * @return the announcement
   */
  static InstanceAnnouncement of(Server server, Duration defaultDeadline, long startedMillis) {
    InstanceAnnouncement.Builder a =
        InstanceAnnouncement.newBuilder()
            .setService(server.name())
            .setVersion(server.version())
            .setInstance(server.instanceId())
            .setHost(hostName())
            .setStartedMs(startedMillis)
            .setDescription(server.description());
    for (Endpoint<?, ?> e : server.endpoints().values()) {
      a.addEndpoints(
          EndpointInfo.newBuilder()
              .setName(e.name())
              .setRequestType(e.requestPrototype().getDescriptorForType().getFullName())
              .setResponseType(Internal.getDefaultInstance(e.responseType()).getDescriptorForType().getFullName())
              .setTimeoutMs(defaultDeadline.toMillis())
              .setIdempotent(e.idempotent()));
    }
    return a.build();
  }

  private static String hostName() {
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (IOException e) {
      return "unknown";
    }
  }
}
