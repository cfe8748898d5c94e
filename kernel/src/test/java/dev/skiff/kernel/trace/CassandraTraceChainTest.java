package dev.skiff.kernel.trace;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.skiff.platform.transport.Transport;
import dev.skiff.platform.transport.inprocess.InProcessTransport;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;

/**
 * The traced call chain through a trace service whose store is Cassandra, chosen and configured from
 * the environment as {@code skiff kernel} does ({@code SKIFF_TRACE_STORE=cassandra}). Every test of the
 * contract: the ten-span tree read back from Cassandra, RPC and Zipkin JSON, retries and timeouts,
 * unsampled traces absent.
 */
class CassandraTraceChainTest extends TraceChainContract {
  private static final String KEYSPACE = CassandraNodes.newKeyspace();
  private static String hosts;

  @Override
  protected Transport newTransport() {
    return InProcessTransport.create();
  }

  @Override
  protected TraceStore newStore() {
    hosts = CassandraNodes.sharedHosts();
    TraceStore store = TraceService.storeFromEnvironment(Map.of(
        "SKIFF_TRACE_STORE", "cassandra",
        "SKIFF_CASSANDRA_HOSTS", hosts,
        "SKIFF_CASSANDRA_CONSISTENCY", "ONE",
        "SKIFF_CASSANDRA_DRIVER_ADVANCED_METADATA_SCHEMA_DEBOUNCER_WINDOW", "0",
        "SKIFF_TRACE_KEYSPACE", KEYSPACE,
        "SKIFF_TRACE_TTL", "1h"));
    assertThat(store).isInstanceOfSatisfying(CassandraTraceStore.class, c -> assertThat(c.keyspace()).isEqualTo(KEYSPACE));
    return store;
  }

  /** Runs after the contract's set-up: the store connects and creates its schema in the background first. */
  @BeforeEach
  void awaitTheStore() {
    await("the store connected and its schema made").atMost(Duration.ofSeconds(60))
        .until(() -> traces.store().healthCheck().orElseThrow().execute().healthy());
  }

  @AfterAll
  static void dropKeyspace() {
    if (hosts != null) {
      CassandraNodes.drop(hosts, KEYSPACE);
    }
  }
}
