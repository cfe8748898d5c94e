package dev.skiff.examples.demo;

import com.example.greeter.Greeter;
import com.example.greeter.proto.HelloRequest;
import com.example.greeter.proto.HelloResponse;
import com.example.journey.Journey;
import com.example.journey.proto.PlanRequest;
import com.example.journey.proto.PlanResponse;
import dev.skiff.broker.EmbeddedBroker;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.client.Reply;
import dev.skiff.platform.config.Settings;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.transport.amqp.AmqpOptions;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * The main job: starts an AMQP broker inside this JVM (unless {@code SKIFF_AMQP_URI} names one), runs
 * the example services on it, and has them call each other, printing what happens: responses, which
 * version answered, a parallel fan-out, and the errors a caller gets for bad input.
 */
public final class Demo {
  private final PrintStream out;

  Demo(PrintStream out) {
    this.out = out;
  }

  public static void main(String[] args) throws Exception {
    System.exit(new Demo(System.out).run(System.getenv()));
  }

  int run(Map<String, String> env) throws Exception {
    String named = env.get("SKIFF_AMQP_URI");
    EmbeddedBroker broker = null;
    String uri;
    if (named == null || named.isBlank()) {
      long t0 = System.nanoTime();
      broker = EmbeddedBroker.start();
      uri = broker.amqpUri();
      say("embedded AMQP 0-9-1 broker (Apache Qpid Broker-J) up on %s in %d ms", AmqpOptions.redact(uri), ms(t0));
    } else {
      uri = named;
      say("using the broker named by SKIFF_AMQP_URI: %s", AmqpOptions.redact(uri));
    }
    List<Server> servers = new ArrayList<>();
    try (AmqpTransport transport = AmqpTransport.connect(AmqpOptions.of(uri).withConnectionName("skiff-demo"));
        Client client = Client.builder().transport(transport).name("demo").build()) {
      Settings settings = Settings.fromEnvironment(Map.of());
      servers.add(new Greeter().newServer(transport, settings).start());
      servers.add(new Greeter().newServer(transport, Settings.fromEnvironment(Map.of("SKIFF_SERVICE_VERSION", "1.1.0"))).start());
      servers.addAll(Journey.startAll(transport, settings, List.of()));
      for (Server s : servers) {
        say("started %s %s (instance %s), endpoints %s", s.name(), s.version(), s.instanceId(), s.endpoints().keySet());
      }

      out.println();
      for (int i = 0; i < 20; i++) { // let connections and the JIT warm up before timing anything
        client.call(Greeter.NAME, "hello", HelloRequest.newBuilder().setName("warm-up").build(), HelloResponse.class);
      }
      say("-- two instances of %s (versions 1.0.0 and 1.1.0) share its queue:", Greeter.NAME);
      for (String name : List.of("Ada", "Grace", "Linus", "Barbara")) {
        long t0 = System.nanoTime();
        Reply<HelloResponse> r = Client.await(client.exchange(Greeter.NAME, "hello",
            HelloRequest.newBuilder().setName(name).build(), HelloResponse.class, CallOptions.defaults()));
        say("hello %-8s -> \"%s\"  answered by version %s, instance %s, in %.1f ms",
            name, r.value().getGreeting(), r.serviceVersion(), r.instance(), micros(t0) / 1000.0);
      }
      Reply<String> json = Client.await(client.callJson(Greeter.NAME, "hello", "{\"name\": \"JSON\"}", CallOptions.defaults()));
      say("a tool may send JSON: {\"name\": \"JSON\"} -> %s", json.value().replaceAll("\\s+", " "));

      out.println();
      say("-- %s/plan calls eta, fare and driver in parallel (each takes ~50 ms):", Journey.JOURNEY);
      PlanRequest trip = PlanRequest.newBuilder().setPickup("King's Cross").setDropoff("Soho").build();
      PlanResponse plan = null;
      long fastest = Long.MAX_VALUE;
      for (int i = 0; i < 5; i++) {
        long t0 = System.nanoTime();
        plan = client.call(Journey.JOURNEY, "plan", trip, PlanResponse.class);
        fastest = Math.min(fastest, ms(t0));
      }
      say("plan King's Cross -> Soho: driver %s, %d min away, fare £%.2f  (fastest of 5: %d ms; one after another would be 150+)",
          plan.getDriver(), plan.getEtaMinutes(), plan.getFarePence() / 100.0, fastest);
      Server fare = servers.stream().filter(s -> s.name().equals(Journey.FARE)).findFirst().orElseThrow();
      fare.close();
      say("stopped %s; its queue stays, so a plan waits for a fare for 250 ms, then answers without it:", Journey.FARE);
      long t0 = System.nanoTime();
      plan = client.call(Journey.JOURNEY, "plan", trip, PlanResponse.class, CallOptions.timeout(Duration.ofSeconds(2)));
      say("plan without fares: driver %s, %d min away, problems %s  (took %d ms)",
          plan.getDriver(), plan.getEtaMinutes(), plan.getProblemsList(), ms(t0));

      out.println();
      say("-- what a caller gets for bad input (one error type, a code and a description):");
      attempt("hello with no name", () -> client.call(Greeter.NAME, "hello", HelloRequest.getDefaultInstance(), HelloResponse.class));
      attempt("an endpoint that does not exist", () -> client.call(Greeter.NAME, "goodbye", HelloRequest.getDefaultInstance(), HelloResponse.class));
      attempt("a service that is not running", () -> client.call("com.example.nobody", "hello", HelloRequest.getDefaultInstance(), HelloResponse.class));
      attempt("malformed JSON", () -> Client.await(client.callJson(Greeter.NAME, "hello", "{\"name\": ", CallOptions.defaults())));
      attempt("a field the request does not have", () -> Client.await(client.callJson(Greeter.NAME, "hello", "{\"nmae\": \"Ada\"}", CallOptions.defaults())));

      out.println();
      say("-- stopping: each server drains its in-flight requests first");
      for (int i = servers.size() - 1; i >= 0; i--) {
        servers.get(i).close();
      }
    } finally {
      if (broker != null) {
        broker.close();
      }
    }
    say("done");
    return 0;
  }

  private void attempt(String what, Callable<?> call) throws Exception {
    long t0 = System.nanoTime();
    try {
      call.call();
      say("%-34s -> unexpectedly succeeded", what);
    } catch (SkiffException e) {
      say("%-34s -> %s: %s  (%d ms)", what, e.code(), e.description(), ms(t0));
    }
  }

  private void say(String format, Object... args) {
    out.println("[demo] " + String.format(format, args));
  }

  private static long ms(long t0) {
    return (System.nanoTime() - t0) / 1_000_000;
  }

  private static long micros(long t0) {
    return (System.nanoTime() - t0) / 1_000;
  }
}
