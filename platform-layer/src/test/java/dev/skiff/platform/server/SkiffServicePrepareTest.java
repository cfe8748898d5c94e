package dev.skiff.platform.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.skiff.platform.client.Client;
import dev.skiff.platform.config.LayeredConfig;
import dev.skiff.platform.testproto.EchoRequest;
import dev.skiff.platform.testproto.EchoResponse;
import dev.skiff.platform.transport.inprocess.InProcessTransport;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

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

  /** Validates its own key, read from a watched file, with a validator registered as the docs say. */
  static final class Validated extends SkiffService {
    final Path file;

    Validated(Path file) {
      super("test.validated", "1.0.0", "Validates its own keys");
      this.file = file;
    }

    @Override
    protected LayeredConfig.Builder configLayers() {
      return LayeredConfig.builder().environment(Map.of()).systemProperties(Map.of()).watchedFile(file, Duration.ofMillis(50));
    }

    @Override
    protected void register(ServerBuilder service) {
      service.configValidator(c -> {
        Duration ttl = c.getDuration("ttl", Duration.ofMinutes(5));
        if (ttl.compareTo(Duration.ofDays(30)) > 0) {
          throw c.invalid("ttl", "must be at most 30 days (720h)");
        }
      });
      service.endpoint("echo", EchoRequest.class, EchoResponse.class,
          (req, ctx) -> EchoResponse.newBuilder().setText(config().current().getString("ttl", "5m")).build());
    }
  }

  /**
   * A validator registered in {@code register} checks the service's own configuration when it does not
   * follow the config service ({@code start(transport)}, {@code SKIFF_CONFIG_SERVICE=off}): at start, and
   * on every change, where a bad edit is refused and the last good value stays. The server does not
   * follow the config service because of it.
   */
  @Test
  void aValidatorChecksTheOwnConfigurationOfAServiceThatDoesNotFollowTheConfigService(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("v.conf");
    Files.writeString(file, "ttl = 1000h\n");
    try (InProcessTransport t = InProcessTransport.create(); Client client = Client.builder().transport(t).build()) {
      assertThatThrownBy(() -> new Validated(file).start(t)).as("refused at start")
          .hasMessageContaining("ttl = '1000h'").hasMessageContaining("must be at most 30 days");

      Files.writeString(file, "ttl = 2m\n");
      Validated service = new Validated(file);
      try (Server s = service.start(t)) {
        assertThatThrownBy(s::config).as("it does not follow the config service").isInstanceOf(IllegalStateException.class);
        LayeredConfig own = service.config();
        replaceWhole(file, "ttl = soon\n");
        await().atMost(Duration.ofSeconds(5)).until(() -> own.rejectedChanges() == 1);
        replaceWhole(file, "ttl = 1000h\n");
        await().atMost(Duration.ofSeconds(5)).until(() -> own.rejectedChanges() == 2);
        assertThat(own.lastError()).hasMessageContaining("ttl = '1000h'");
        assertThat(client.call("test.validated", "echo", EchoRequest.getDefaultInstance(), EchoResponse.class).getText())
            .as("the last good value stays").isEqualTo("2m");
      } finally {
        service.config().close();
      }
    }
  }

  /**
   * Writes a watched file as a config tool does, whole at once (write, then rename): written in place, the
   * watcher may read it empty between the truncation and the write, and refuse that as a change too.
   */
  private static void replaceWhole(Path file, String text) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.writeString(tmp, text);
    Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
  }
}
