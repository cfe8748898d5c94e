package dev.skiff.service.cassandra;

import com.datastax.oss.driver.api.core.DefaultConsistencyLevel;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * A named CQL statement: prepared once per session and cached, timed under its name
 * ({@code NAME.KEYSPACE.QUERY}), run with its own consistency and timeout or the configured defaults.
 * Immutable; declare them as constants.
 *
 * <pre>{@code
 * static final Query GET = Query.of("get-booking", "SELECT * FROM bookings WHERE id = ?")
 *     .withConsistency(DefaultConsistencyLevel.ONE).idempotent();
 * }</pre>
 *
 * @param name the name its timer has: letters, digits, '.', '_' or '-'
 * @param cql the statement, with {@code ?} for values
 * @param consistency its consistency, or empty for the configured default
 * @param timeout its timeout, or empty for the configured default
 * @param isIdempotent whether the driver may retry or run it speculatively
 */
public record Query(
    String name, String cql, Optional<DefaultConsistencyLevel> consistency, Optional<Duration> timeout, boolean isIdempotent) {
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.-]+");

  /**
   * Checks the parts.
   *
   * @param name the name
   * @param cql the statement
   * @param consistency its consistency, or empty
   * @param timeout its timeout, or empty
   * @param isIdempotent whether it may be retried
   */
  public Query {
    Objects.requireNonNull(name, "name");
    if (!NAME.matcher(name).matches()) {
      throw new IllegalArgumentException("a query name is letters, digits, '.', '_' or '-': '" + name + "'");
    }
    if (cql == null || cql.isBlank()) {
      throw new IllegalArgumentException("query '" + name + "' has no CQL");
    }
    Objects.requireNonNull(consistency, "consistency");
    Objects.requireNonNull(timeout, "timeout");
    timeout.ifPresent(t -> {
      if (t.isNegative() || t.isZero()) {
        throw new IllegalArgumentException("query '" + name + "': timeout must be positive: " + t);
      }
    });
  }

  /**
   * A query with the configured consistency and timeout, not idempotent.
   *
   * @param name its name, for its timer and in errors
   * @param cql the statement
   * @return the query
   */
  public static Query of(String name, String cql) {
    return new Query(name, cql, Optional.empty(), Optional.empty(), false);
  }

  /**
   * @param level the consistency of this query
   * @return a copy with it
   */
  public Query withConsistency(DefaultConsistencyLevel level) {
    return new Query(name, cql, Optional.of(level), timeout, isIdempotent);
  }

  /**
   * @param t the timeout of this query
   * @return a copy with it
   */
  public Query withTimeout(Duration t) {
    return new Query(name, cql, consistency, Optional.of(t), isIdempotent);
  }

  /** @return a copy that the driver may retry and run speculatively */
  public Query idempotent() {
    return new Query(name, cql, consistency, timeout, true);
  }
}
