package dev.skiff.service.cassandra;

import java.util.List;

/**
 * What {@link CassandraClient#migrate} did.
 *
 * @param keyspace the keyspace
 * @param applied files applied by this call, in order (e.g. {@code V2__add_status.cql})
 * @param alreadyApplied files found recorded as applied before
 */
public record MigrationReport(String keyspace, List<String> applied, List<String> alreadyApplied) {
  /**
   * Copies the lists.
   *
   * @param keyspace the keyspace
   * @param applied files applied by this call
   * @param alreadyApplied files applied before
   */
  public MigrationReport {
    applied = List.copyOf(applied);
    alreadyApplied = List.copyOf(alreadyApplied);
  }
}
