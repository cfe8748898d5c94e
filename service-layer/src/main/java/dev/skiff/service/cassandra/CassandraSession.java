package dev.skiff.service.cassandra;

import com.datastax.oss.driver.api.core.CqlSession;
import com.datastax.oss.driver.api.core.cql.AsyncResultSet;
import com.datastax.oss.driver.api.core.cql.BoundStatement;
import com.datastax.oss.driver.api.core.cql.ResultSet;
import com.datastax.oss.driver.api.core.cql.Row;
import dev.skiff.platform.SkiffException;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;

/**
 * Queries on one keyspace. Each {@link Query} is prepared once and cached, runs with its consistency
 * and timeout (or the configured ones, read at each call so config changes apply at once), and is
 * timed. The session follows its client: after a move to other hosts, the next query runs there.
 * Thread-safe; owned by its {@link CassandraClient} (closing the client closes it).
 */
public final class CassandraSession {
  private final CassandraClient client;
  private final String keyspace;

  CassandraSession(CassandraClient client, String keyspace) {
    this.client = client;
    this.keyspace = keyspace;
  }

  /** @return the keyspace */
  public String keyspace() {
    return keyspace;
  }

  /**
   * Runs a query and waits for its result.
   *
   * @param query the query
   * @param values values for its {@code ?} markers, in order
   * @return the result
   * @throws SkiffException UNAVAILABLE (no node answers), TIMEOUT, NOT_FOUND (no such keyspace), or
   *     INTERNAL (invalid CQL or values), naming the query
   */
  public ResultSet execute(Query query, Object... values) {
    return client.execute(keyspace, query, values);
  }

  /**
   * Runs a query and returns its first row.
   *
   * @param query the query
   * @param values values for its markers
   * @return the first row, or empty
   * @throws SkiffException as {@link #execute(Query, Object...)}
   */
  public Optional<Row> one(Query query, Object... values) {
    return Optional.ofNullable(execute(query, values).one());
  }

  /**
   * Runs a query without waiting.
   *
   * @param query the query
   * @param values values for its markers
   * @return the first page of the result, or a {@link SkiffException} failure
   */
  public CompletionStage<AsyncResultSet> executeAsync(Query query, Object... values) {
    BoundStatement bound;
    try {
      bound = client.bind(keyspace, query, values);
    } catch (SkiffException e) {
      return CompletableFuture.failedFuture(e);
    }
    return client.executeAsync(keyspace, query, bound);
  }

  /**
   * The driver's session for this keyspace now, for what {@link Query} does not cover. It changes when
   * the client moves to other hosts: do not keep it.
   *
   * @return the driver session (owned by the client: do not close it)
   */
  public CqlSession driver() {
    return client.driverSession(keyspace);
  }

  static Throwable unwrap(Throwable t) {
    return t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
  }
}
