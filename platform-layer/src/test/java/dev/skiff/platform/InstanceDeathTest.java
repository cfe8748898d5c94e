package dev.skiff.platform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.testproto.EchoRequest;
import dev.skiff.platform.testproto.EchoResponse;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Issue 23's proof that one dying instance does not take its service down: three instances of a service,
 * each in its own JVM on the suite's broker, 16 calls in flight from a client with every default (its
 * circuit breaker and retry policy included) for 20 s, and one instance killed with SIGKILL. The calls in
 * flight on the dead instance end with their clear code (UNKNOWN_OUTCOME for a non-idempotent endpoint,
 * since its handler may have run; retried to success for an idempotent one), every other call goes on to
 * the two survivors, and the breaker never opens (docs/reliability.md, "When an instance dies").
 */
class InstanceDeathTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(10);
  private static final int IN_FLIGHT = 16;
  private static final long LOAD_NANOS = TimeUnit.SECONDS.toNanos(20);
  private final List<Process> instances = new ArrayList<>();

  @AfterEach
  void tearDown() {
    instances.forEach(Process::destroyForcibly);
  }

  @ParameterizedTest
  @ValueSource(strings = {"once", "idem"})
  void killingOneOfThreeInstancesCostsOnlyTheCallsInFlightOnIt(String endpoint, @TempDir Path dir) throws Exception {
    String service = "test.death." + endpoint + "." + Long.toHexString(System.nanoTime() & 0xffffff);
    instances.addAll(ChaosService.launchThree(AmqpRpcTest.brokerUri(), service, dir));
    Map<String, AtomicInteger> outcomes = new ConcurrentHashMap<>();
    AtomicInteger calls = new AtomicInteger();
    AtomicInteger okAfterKill = new AtomicInteger();
    AtomicInteger overDeadline = new AtomicInteger();
    AtomicLong killedAt = new AtomicLong();
    AtomicLong lastOk = new AtomicLong();
    AtomicLong longestGapAfterKill = new AtomicLong();
    AtomicBoolean loading = new AtomicBoolean(true);
    List<CompletableFuture<?>> all = java.util.Collections.synchronizedList(new ArrayList<>());
    long start = System.nanoTime();
    try (AmqpTransport transport = AmqpTransport.connect(AmqpRpcTest.brokerUri());
        Client client = Client.builder().transport(transport).name("death-caller").build()) {
      Thread caller = new Thread(() -> {
        Semaphore window = new Semaphore(IN_FLIGHT);
        while (loading.get()) {
          window.acquireUninterruptibly();
          long t0 = System.nanoTime();
          calls.incrementAndGet();
          all.add(client.callAsync(service, endpoint, EchoRequest.newBuilder().setSleepMs(20).build(), EchoResponse.class,
                  CallOptions.timeout(TIMEOUT))
              .whenComplete((r, e) -> {
                long now = System.nanoTime();
                window.release();
                if (now - t0 > TIMEOUT.toNanos() + TimeUnit.SECONDS.toNanos(1)) {
                  overDeadline.incrementAndGet();
                }
                outcomes.computeIfAbsent(e == null ? "OK" : SkiffException.of(e).code().name(), k -> new AtomicInteger()).incrementAndGet();
                if (e == null && killedAt.get() != 0) {
                  okAfterKill.incrementAndGet();
                  long previous = lastOk.getAndSet(now);
                  longestGapAfterKill.accumulateAndGet(now - Math.max(previous, killedAt.get()), Math::max);
                } else if (e == null) {
                  lastOk.set(now);
                }
              }));
        }
      }, "death-caller");
      caller.start();
      // the three serve, then one dies mid-load
      await().atMost(Duration.ofSeconds(60)).until(() -> outcomes.getOrDefault("OK", new AtomicInteger()).get() >= 300);
      killedAt.set(System.nanoTime());
      instances.get(0).destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      // the load goes on for its 20 s, and the survivors keep answering after the kill
      await().atMost(Duration.ofMinutes(2)).until(() -> System.nanoTime() - start >= LOAD_NANOS && okAfterKill.get() >= 500);
      loading.set(false);
      caller.join(TimeUnit.SECONDS.toMillis(30));
      synchronized (all) {
        CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).handle((v, e) -> null)
            .get(TIMEOUT.toSeconds() + 5, TimeUnit.SECONDS);
      }
    }
    Map<String, Integer> ranTimes = ChaosService.runsByRequestId(dir);
    Map<String, Integer> seen = new TreeMap<>();
    outcomes.forEach((k, v) -> seen.put(k, v.get()));
    int failed = seen.entrySet().stream().filter(e -> !e.getKey().equals("OK")).mapToInt(Map.Entry::getValue).sum();
    System.out.printf(
        "instance death (%s): %d calls; outcomes %s; %d successes after the kill, longest gap between them %d ms%n",
        endpoint, calls.get(), seen, okAfterKill.get(), TimeUnit.NANOSECONDS.toMillis(longestGapAfterKill.get()));
    assertThat(seen.values().stream().mapToInt(Integer::intValue).sum()).as("every call ended").isEqualTo(calls.get());
    assertThat(overDeadline.get()).as("calls that outlived their deadline").isZero();
    assertThat(seen).as("no call refused by the circuit breaker").doesNotContainKey("CIRCUIT_OPEN");
    if (endpoint.equals("idem")) {
      assertThat(failed).as("failed calls to an idempotent endpoint").isZero();
    } else {
      // only the calls in flight on the dead instance (at most all 16) may fail, and only as
      // UNKNOWN_OUTCOME: their handler may have run there
      assertThat(seen.keySet()).as("outcomes").isSubsetOf("OK", "UNKNOWN_OUTCOME");
      assertThat(failed).as("failed calls: at most those in flight on the dead instance").isLessThanOrEqualTo(IN_FLIGHT);
      assertThat(ranTimes.values()).as("non-idempotent requests that ran twice").allMatch(n -> n == 1);
    }
  }
}
