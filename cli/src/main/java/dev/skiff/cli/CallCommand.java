package dev.skiff.cli;

import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.client.Reply;
import dev.skiff.platform.internal.Printable;
import dev.skiff.platform.observe.ClientEvent;
import dev.skiff.platform.observe.RpcObserver;
import dev.skiff.platform.trace.TraceSettings;
import dev.skiff.platform.trace.Tracing;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Locale;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Help.Visibility;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code skiff call SERVICE ENDPOINT [JSON]}: one call, its JSON response on stdout. */
@Command(
    name = "call",
    header = "Calls an endpoint and prints its JSON response.",
    description = {
      "Sends JSON (protobuf's JSON mapping; the service decodes and validates it) and prints the "
          + "response JSON on stdout. On failure prints CODE: description on stderr, e.g.",
      "  NOT_FOUND: service com.x is not running (no queue is bound for it)",
      ""
    },
    footer = {
      "",
      "Example:",
      "  skiff call com.example.greeter hello '{\"name\": \"Ada\"}' --timeout 2s -v",
      "  skiff call com.example.greeter hello '{}' --trace      (then: skiff trace ID)",
      "",
      "Exit codes: 0 answered, 1 the call failed, 2 usage error, 3 no connection to the broker, 4 not signed in (or the session "
          + "expired) where the endpoint needs it, 5 not allowed."
    })
final class CallCommand extends BrokerCommand {
  /** The service name the command's own spans are recorded under. */
  static final String TRACE_SERVICE_NAME = "skiff-cli";

  @Parameters(index = "0", paramLabel = "SERVICE", converter = ServiceNameConverter.class, description = "The service's dotted name, e.g. com.example.greeter.")
  String service;

  @Parameters(index = "1", paramLabel = "ENDPOINT", description = "The endpoint, e.g. hello.")
  String endpoint;

  @Parameters(
      index = "2",
      arity = "0..1",
      paramLabel = "JSON",
      defaultValue = "{}",
      showDefaultValue = Visibility.ALWAYS,
      description = "The request as JSON; the service decodes and validates it.")
  String json;

  @Mixin TimeoutOption timeout;

  @Mixin TargetOption target;

  @Option(
      names = "--trace",
      description = "Record this call's trace whatever the services' sampling rates, and print its trace id on stderr "
          + "(trace ID); then 'skiff trace ID' shows it (with 'skiff kernel' running).")
  boolean trace;

  @Option(
      names = {"-v", "--verbose"},
      description = "Also print on stderr the broker, who answered (service, version, instance), the request id and the latency.")
  boolean verbose;

  @Override
  public Integer call() {
    PrintWriter out = out();
    PrintWriter err = err();
    String requestId = newRequestId();
    CallOptions options = given(() -> target.applyTo(CallOptions.timeout(timeout.get()).withRequestId(requestId).withTrace(trace)));
    BrokerOption.Broker b = broker();
    if (verbose) {
      err.println("broker " + b.describe());
    }
    Client client;
    Tracing started = null;
    AtomicReference<String> traceId = new AtomicReference<>();
    if (trace) {
      AmqpTransport transport = b.connectTransport();
      // the call's own span goes to the trace service too, as the root of the trace
      started = Tracing.builder(TRACE_SERVICE_NAME).transport(transport)
          .settings(TraceSettings.DEFAULTS.withFlushInterval(Duration.ofMillis(50))).build().start();
      client = clientBuilder(transport).observer(started).observer(new RpcObserver() {
        @Override
        public void onClientAttempt(ClientEvent event) {
          traceId.set(event.traceId());
        }
      }).build();
    } else {
      client = connect(b);
    }
    Tracing tracing = started;
    long start = System.nanoTime();
    try (client) {
      Reply<String> reply;
      try {
        reply = Client.await(client.callJson(service, endpoint, json, options));
      } finally {
        if (tracing != null) {
          tracing.close(); // ships the call's span while the connection is still open
        }
      }
      double ms = (System.nanoTime() - start) / 1e6;
      String body = reply.value();
      out.print(Printable.json(body));
      if (!body.endsWith("\n")) {
        out.println();
      }
      out.flush();
      if (verbose) {
        err.printf(
            Locale.ROOT,
            "answered by %s %s instance %s in %.1f ms (request %s)%n",
            Printable.text(reply.service()), Printable.text(reply.serviceVersion()), Printable.text(reply.instance()), ms,
            Printable.text(reply.requestId()));
      }
      if (trace) {
        err.println("trace " + reply.traceId());
      }
      return SkiffCli.EXIT_OK;
    } catch (SkiffException e) {
      double ms = (System.nanoTime() - start) / 1e6;
      SkiffCli.printError(err, e);
      if (verbose) {
        StringBuilder line = new StringBuilder();
        line.append(String.format(Locale.ROOT, "failed after %.1f ms (request %s)", ms, requestId));
        if (!e.service().isEmpty()) {
          line.append("; raised by ").append(Printable.text(e.service()));
          if (!e.endpoint().isEmpty()) {
            line.append('/').append(Printable.text(e.endpoint()));
          }
          if (!e.instance().isEmpty()) {
            line.append(" instance ").append(Printable.text(e.instance()));
          }
        }
        if (!e.context().isEmpty()) {
          line.append("; context ")
              .append(
                  e.context().entrySet().stream()
                      .map(en -> Printable.text(en.getKey()) + "=" + Printable.text(en.getValue()))
                      .sorted()
                      .collect(Collectors.joining(", ")));
        }
        err.println(line);
      }
      if (trace && traceId.get() != null) {
        err.println("trace " + traceId.get());
      }
      return SkiffCli.exitCode(e);
    }
  }

  /** @return a fresh request id (32 hex characters), chosen here so that --verbose can name it on failure too */
  static String newRequestId() {
    byte[] b = new byte[16];
    ThreadLocalRandom.current().nextBytes(b);
    return HexFormat.of().formatHex(b);
  }
}
