package dev.skiff.platform.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.skiff.platform.client.Client;
import dev.skiff.platform.config.LayeredConfig;
import dev.skiff.platform.testproto.EchoRequest;
import dev.skiff.platform.testproto.EchoResponse;
import dev.skiff.platform.transport.inprocess.InProcessTransport;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A service opens what its handlers need from its configuration as it starts ({@link SkiffService#prepare}),
 * after the configuration is read and before the first request; a failure there ends the start.
 */
class SkiffServicePrepareTest {
  /** Answers with the value it read from its configuration in prepare. */
  static final class Prepared extends SkiffService {
    final List<String> events = new ArrayList<>();
    volatile String greeting;
    final boolean fail;

    Prepared(boolean fail) {
      super("test.prepared", "1.0.0", "Reads its greeting as it starts");
      this.fail = fail;
    }

    @Override
    protected LayeredConfig.Builder configLayers() {
      return LayeredConfig.builder().environment(Map.of()).systemProperties(Map.of()).defaults(Map.of("greeting", "hello"));
    }

    @Override
    protected void prepare(LayeredConfig config) {
      if (fail) {
        throw new IllegalStateException("the store is not there");
      }
      events.add("prepare");
      greeting = config.current().getString("greeting");
      assertThat(config()).isSameAs(config);
    }

    @Override
    protected void register(ServerBuilder service) {
      service.endpoint("echo", EchoRequest.class, EchoResponse.class, (req, ctx) -> {
        events.add("request");
        return EchoResponse.newBuilder().setText(greeting + ", " + req.getText()).build();
      });
    }
  }

  @Test
  void prepareReadsTheConfigurationBeforeTheFirstRequest() {
    try (InProcessTransport t = InProcessTransport.create(); Client client = Client.builder().transport(t).build()) {
      Prepared service = new Prepared(false);
      try (Server s = service.start(t)) {
        assertThat(s.name()).isEqualTo("test.prepared");
        assertThat(service.events).containsExactly("prepare");
        EchoResponse r = client.call("test.prepared", "echo", EchoRequest.newBuilder().setText("Ada").build(), EchoResponse.class);
        assertThat(r.getText()).isEqualTo("hello, Ada");
        assertThat(service.events).containsExactly("prepare", "request");
      }
    }
  }

  @Test
  void aFailureInPrepareEndsTheStartAndNothingIsServed() {
    try (InProcessTransport t = InProcessTransport.create()) {
      Prepared service = new Prepared(true);
      assertThatThrownBy(() -> service.start(t)).hasMessageContaining("the store is not there");
      assertThat(service.events).isEmpty();
    }
  }
}
