package dev.skiff.benchmarks;

/**
 * The baseline: as {@link RawConfirms}, but the publishing channel is not in confirm mode (mandatory is
 * kept): the fastest correct request/reply a user could write by hand on amqp-client, and what Skiff is
 * measured against (issue 18). Skiff publishes without confirms too since 2026-12-04.
 */
public class RawNoConfirms extends RawConfirms {
  @Override
  boolean confirms() {
    return false;
  }
}
