package dev.skiff.kernel.config;

import com.google.protobuf.Struct;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.Names;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.internal.Printable;
import dev.skiff.proto.v1.EndpointInfo;
import dev.skiff.proto.v1.InstanceInfo;
import dev.skiff.proto.v1.ListServicesRequest;
import dev.skiff.proto.v1.ListServicesResponse;
import dev.skiff.proto.v1.ValidateConfigRequest;
import dev.skiff.proto.v1.ValidateConfigResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Asks the running services a change would reach whether they take it, before the change is recorded:
 * each gets, at its endpoint {@value #ENDPOINT}, the merged view it would see, and a service that refuses
 * it refuses the change ({@code BAD_REQUEST} with the service's reason). A change to a service's layers
 * asks that service; a change to a layer every service sees (global, a region, an environment) asks every
 * running service that offers {@value #ENDPOINT} (from discovery). A service that is not running, or has
 * no validators, or does not answer in time, does not hold a change up: it checks the view again when it
 * arrives and keeps its last good configuration if it refuses it then.
 */
final class ServiceValidators {
  /** The endpoint a service with validators offers. */
  static final String ENDPOINT = "config.validate";
  private static final String DISCOVERY = "skiff.discovery";
  private static final Duration WAIT = Duration.ofSeconds(2);
  private static final Logger log = LoggerFactory.getLogger(ServiceValidators.class);

  /** A service instance's place: which layers it sees. */
  private record Target(String service, String region, String env) {}

  private final Client client;

  /** @param client the config service's client (its calls show the service they come from) */
  ServiceValidators(Client client) {
    this.client = client;
  }

  /**
   * @param docs every layer's document as the change would leave it
   * @param changed the keys of the layers the change makes
   * @param version the version it would make
   * @throws SkiffException BAD_REQUEST with the first refusing service's reason
   */
  void check(Map<String, Struct> docs, Collection<String> changed, long version) {
    Set<Target> targets = new LinkedHashSet<>();
    List<String> everyService = null;
    for (String key : changed) {
      LayerId l = LayerId.parse(key);
      if (l.service() != null) {
        targets.add(new Target(l.service(), l.region(), l.env()));
      } else {
        if (everyService == null) {
          everyService = servicesWithValidators();
        }
        for (String s : everyService) {
          targets.add(new Target(s, l.region(), l.env()));
        }
      }
    }
    List<CompletableFuture<String>> answers = new ArrayList<>();
    for (Target t : targets) {
      if (!Names.isService(t.service())) {
        continue; // no running service has that name
      }
      Struct merged = Struct.getDefaultInstance();
      for (LayerId l : LayerId.chain(t.service(), t.region(), t.env())) {
        merged = Documents.merge(merged, docs.getOrDefault(l.key(), Struct.getDefaultInstance()));
      }
      // a secret is shown to validators as the marker: no sealed text leaves the service (its real value is checked on arrival)
      ValidateConfigRequest req = ValidateConfigRequest.newBuilder().setJson(Documents.print(Secrets.redact(merged))).setVersion(version).build();
      answers.add(client.callAsync(t.service(), ENDPOINT, req, ValidateConfigResponse.class, CallOptions.timeout(WAIT).withIdempotent(true))
          .handle((r, failure) -> refusal(t, r, failure)));
    }
    for (CompletableFuture<String> a : answers) {
      String refusal = a.join();
      if (refusal != null) {
        throw new SkiffException(ErrorCode.BAD_REQUEST, refusal);
      }
    }
  }

  /** @return why the target refuses, or null when it takes the view or cannot say */
  private static String refusal(Target t, ValidateConfigResponse r, Throwable failure) {
    if (failure == null) {
      return r.getOk() ? null : "service " + t.service() + where(t) + " refuses this change: " + Printable.of(r.getReason());
    }
    Throwable cause = failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
    if (!(cause instanceof SkiffException se) || se.code() != ErrorCode.NOT_FOUND) {
      log.warn("config: could not ask {} whether it takes the change (it checks it on arrival): {}", t.service(), cause.toString());
    }
    return null;
  }

  private static String where(Target t) {
    return t.region() != null ? " (region " + t.region() + ")" : t.env() != null ? " (environment " + t.env() + ")" : "";
  }

  /** @return the running services offering {@value #ENDPOINT}, as discovery knows them; none when it cannot say */
  private List<String> servicesWithValidators() {
    try {
      ListServicesResponse all = client.call(DISCOVERY, "list", ListServicesRequest.getDefaultInstance(), ListServicesResponse.class,
          CallOptions.timeout(WAIT).withIdempotent(true));
      Set<String> out = new TreeSet<>();
      for (InstanceInfo i : all.getInstancesList()) {
        for (EndpointInfo e : i.getAnnouncement().getEndpointsList()) {
          if (e.getName().equals(ENDPOINT)) {
            out.add(i.getAnnouncement().getService());
          }
        }
      }
      return List.copyOf(out);
    } catch (SkiffException e) {
      log.warn("config: discovery cannot say which services validate their configuration ({}): they check the change on arrival",
          e.code());
      return List.of();
    }
  }
}
