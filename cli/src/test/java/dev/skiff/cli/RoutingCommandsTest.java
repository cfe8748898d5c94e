package dev.skiff.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.skiff.platform.transport.amqp.AmqpNames;
import dev.skiff.kernel.binding.BindingService;
import dev.skiff.kernel.discovery.DiscoveryService;
import dev.skiff.kernel.login.LoginService;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** {@code skiff services}, {@code skiff route} and {@code call --version} against a kernel on the real broker. */
class RoutingCommandsTest {
  /** Only stops a hung test: nothing here is expected to take this long. */
  static final Duration HANG = Duration.ofSeconds(30);
  static EchoService svc;
  static final String ADMIN_PASSWORD = "routing-cli-admin-pass";
  static final BindingService binding = new BindingService(Clock.systemUTC(), Duration.ofSeconds(1));
  @RegisterExtension static final TestKernel kernel = new TestKernel(() -> List.of(new DiscoveryService(), binding,
      new LoginService(Map.of("SKIFF_BOOTSTRAP_ADMIN_PASSWORD", ADMIN_PASSWORD))));
  /** The tests' environment with a session file of this class's own (route changes need a signed-in administrator). */
  static final Map<String, String> ENV = Map.copyOf(Skiff.envWithTokenFile(EchoService.SESSION.resolveSibling("routing-token")));

  @BeforeAll
  static void start() {
    svc = EchoService.twoVersions("1.0.0", "2.0.0");
    Skiff.Result login = Skiff.login(ENV, "admin", ADMIN_PASSWORD);
    assertThat(login.out()).as(login.toString()).contains("signed in as admin");
  }

  @AfterAll
  static void stop() {
    Skiff.run(ENV, "logout");
    svc.close();
  }

  /** Runs the command until its result satisfies the condition; fails after {@link #HANG}. */
  static Skiff.Result until(Predicate<Skiff.Result> ok, String... args) {
    return await().atMost(HANG).pollInterval(Duration.ofMillis(200)).until(() -> Skiff.run(ENV, args), ok);
  }

  @Test
  void servicesRoutesAndPins() {
    Skiff.Result all = until(r -> r.out().contains(svc.name + "  2.0.0"), "services");
    assertThat(all.exitCode()).as(all.toString()).isZero();
    assertThat(all.out()).contains("SERVICE").contains("VERSION").contains("INSTANCE").contains("AGE")
        .contains(svc.name + "  1.0.0").contains(svc.name + "  2.0.0");

    Skiff.Result one = Skiff.run(ENV, "services", svc.name);
    assertThat(one.exitCode()).as(one.toString()).isZero();
    assertThat(one.out()).contains(svc.name + ": 2 instances; versions 1.0.0 (1), 2.0.0 (1)")
        .contains("echo(skiff.test.EchoRequest) -> skiff.test.EchoResponse");

    Skiff.Result none = Skiff.run(ENV, "services", "test.cli.nosuch");
    assertThat(none.exitCode()).isEqualTo(1);
    assertThat(none.err()).contains("NOT_FOUND: no running instance of service test.cli.nosuch");

    // wait until the binding service has heard both versions
    Skiff.Result shown = until(r -> r.out().contains("2.0.0"), "route", svc.name, "--show");
    assertThat(shown.out()).contains(svc.name + ": no rule");

    try {
      routed();
    } finally {
      Skiff.Result clear = Skiff.run(ENV, "route", svc.name, "--clear");
      assertThat(clear.exitCode()).as(clear.toString()).isZero();
      assertThat(clear.out()).contains("no rule");
    }
  }

  void routed() {
    Skiff.Result set = Skiff.run(ENV, "route", svc.name, "1.0.0=90", "2.0.0=10");
    assertThat(set.exitCode()).as(set.toString()).isZero();
    assertThat(set.out()).contains("rule 1.0.0=90 2.0.0=10").containsPattern("1\\.0\\.0 +90% +1");

    Skiff.Result show = Skiff.run(ENV, "route", svc.name, "--show");
    assertThat(show.out()).contains("rule 1.0.0=90 2.0.0=10");

    // the rule applied: the route exchange exists, and the leader (this test's binding service, the
    // only one) has made a full pass over every service since it read the rule, so the service's
    // traffic goes through the route exchange and no longer through the service queue
    await().atMost(HANG).until(binding::isLeader);
    await().atMost(HANG).until(() -> kernel.transport().routing().orElseThrow().splitExists(svc.name));
    long passes = binding.fullPasses();
    await().atMost(HANG).until(() -> binding.fullPasses() >= passes + 2);
    Skiff.Result load = Skiff.run(ENV, "load", svc.name, "echo", "{}", "--calls", "2000", "--concurrency", "32", "--json");
    assertThat(load.exitCode()).as(load.toString()).isZero();
    JsonObject byVersion = JsonParser.parseString(load.out()).getAsJsonObject().getAsJsonObject("byVersion");
    System.out.println("[cli] 90/10 over 2000 calls: " + byVersion);
    assertThat(byVersion.get("1.0.0").getAsInt()).isBetween(1740, 1860);

    Skiff.Result pinned = Skiff.run(ENV, "call", svc.name, "echo", "--version", "2.0.0", "-v");
    assertThat(pinned.exitCode()).as(pinned.toString()).isZero();
    assertThat(pinned.err()).contains("answered by " + svc.name + " 2.0.0 instance " + svc.instanceB());

    Skiff.Result noVersion = Skiff.run(ENV, "call", svc.name, "echo", "--version", "7.0.0");
    assertThat(noVersion.exitCode()).isEqualTo(1);
    assertThat(noVersion.err()).contains("NOT_FOUND: version 7.0.0 of service " + svc.name + " is not running");

    Skiff.Result badSum = Skiff.run(ENV, "route", svc.name, "1.0.0=90", "2.0.0=20");
    assertThat(badSum.exitCode()).isEqualTo(1);
    assertThat(badSum.err()).contains("BAD_REQUEST: the weights of a rule are percentages and must add up to 100; these add up to 110");

    Skiff.Result notRunning = Skiff.run(ENV, "route", svc.name, "1.0.0=50", "3.0.0=50");
    assertThat(notRunning.err()).contains("version 3.0.0 of " + svc.name + " is not running (running: [1.0.0, 2.0.0])");

    Skiff.Result unknown = Skiff.run(ENV, "route", "test.cli.nosuch", "1.0.0=100");
    assertThat(unknown.err()).contains("NOT_FOUND: service test.cli.nosuch has no running instance");

    Skiff.Result syntax = Skiff.run(ENV, "route", svc.name, "1.0.0:90");
    assertThat(syntax.exitCode()).isEqualTo(2);
    assertThat(syntax.err()).contains("not VERSION=PERCENT: '1.0.0:90'");

    // --force accepts a service (and versions) that nobody runs yet
    String later = svc.name + ".later";
    Skiff.Result forced = Skiff.run(ENV, "route", later, "1.0.0=100", "--force");
    try {
      assertThat(forced.exitCode()).as(forced.toString()).isZero();
      assertThat(forced.out()).contains(later + ": rule 1.0.0=100")
          .contains("none of the rule's versions with a share runs: every instance of every version shares the traffic until one does");
      assertThat(Skiff.run(ENV, "route", later, "--show").out()).contains(later + ": rule 1.0.0=100");
    } finally {
      assertThat(Skiff.run(ENV, "route", later, "--clear").out()).contains(later + ": no rule");
    }
  }
}
