package dev.skiff.platform.server;

import com.google.api.AnnotationsProto;
import com.google.api.HttpRule;
import com.google.protobuf.DescriptorProtos.FileDescriptorSet;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FileDescriptor;
import com.google.protobuf.Descriptors.MethodDescriptor;
import com.google.protobuf.Descriptors.ServiceDescriptor;
import com.google.protobuf.Internal;
import dev.skiff.proto.v1.EndpointInfo;
import dev.skiff.proto.v1.InstanceAnnouncement;
import java.io.IOException;
import java.net.InetAddress;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a server tells discovery about itself (docs/routing.md): its identity and its endpoints, with the
 * HTTP route of each endpoint that declares one and the proto files the gateway needs to map them
 * (docs/gateway.md).
 *
 * <p>An endpoint's HTTP route is the {@code google.api.http} option of the rpc that has the endpoint's name
 * and the endpoint's request and response types, in a {@code service} of the request type's .proto file
 * (docs/design-notes.md, "An endpoint's HTTP route is declared on an rpc of its request's file").
 */
final class Announcements {
  /** The most bytes of proto descriptors an announcement carries; over it, no endpoint gets an HTTP route. */
  static final int MAX_DESCRIPTOR_BYTES = 256 * 1024;

  private static final Logger log = LoggerFactory.getLogger(Announcements.class);

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
    Map<String, FileDescriptor> files = new LinkedHashMap<>();
    for (Endpoint<?, ?> e : server.endpoints().values()) {
      Descriptor request = e.requestPrototype().getDescriptorForType();
      Descriptor response = Internal.getDefaultInstance(e.responseType()).getDescriptorForType();
      EndpointInfo.Builder info = EndpointInfo.newBuilder()
          .setName(e.name())
          .setRequestType(request.getFullName())
          .setResponseType(response.getFullName())
          .setTimeoutMs(defaultDeadline.toMillis())
          .setIdempotent(e.idempotent());
      Optional<HttpRule> rule = httpRule(e.name(), request, response);
      if (rule.isPresent()) {
        info.setHttp(rule.get());
        addWithImports(request.getFile(), files);
        addWithImports(response.getFile(), files);
      }
      a.addEndpoints(info);
    }
    if (!files.isEmpty()) {
      FileDescriptorSet.Builder set = FileDescriptorSet.newBuilder();
      files.values().forEach(f -> set.addFile(f.toProto()));
      if (set.build().getSerializedSize() > MAX_DESCRIPTOR_BYTES) {
        log.warn("{}: the proto files of its HTTP endpoints take over {} bytes; no endpoint is announced with an HTTP route",
            server.name(), MAX_DESCRIPTOR_BYTES);
        a.getEndpointsBuilderList().forEach(EndpointInfo.Builder::clearHttp);
      } else {
        a.setDescriptors(set);
      }
    }
    return a.build();
  }

  /**
   * @param endpoint the endpoint's name
   * @param request its request type
   * @param response its response type
   * @return the {@code google.api.http} option of the rpc of that name, request and response in a service
   *     of the request's file, if one declares it
   */
  static Optional<HttpRule> httpRule(String endpoint, Descriptor request, Descriptor response) {
    for (ServiceDescriptor s : request.getFile().getServices()) {
      MethodDescriptor m = s.findMethodByName(endpoint);
      if (m != null && m.getInputType() == request && m.getOutputType() == response
          && m.getOptions().hasExtension(AnnotationsProto.http)) {
        return Optional.of(m.getOptions().getExtension(AnnotationsProto.http));
      }
    }
    return Optional.empty();
  }

  /** Adds a file and what it imports, imports first, leaving out the files every reader has. */
  private static void addWithImports(FileDescriptor f, Map<String, FileDescriptor> into) {
    if (into.containsKey(f.getName()) || isWellKnown(f.getName())) {
      return;
    }
    for (FileDescriptor d : f.getDependencies()) {
      addWithImports(d, into);
    }
    into.put(f.getName(), f);
  }

  /**
   * @param file a .proto file's name
   * @return whether every reader has it (protobuf's own and google.api's files)
   */
  static boolean isWellKnown(String file) {
    return file.startsWith("google/protobuf/") || file.startsWith("google/api/");
  }

  private static String hostName() {
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (IOException e) {
      return "unknown";
    }
  }
}
