package dev.skiff.benchmarks;

/**
 * The cheaper baseline: as {@link RawConfirms}, but the publishing channel is not in confirm mode
 * (mandatory is kept). Skiff always publishes requests with confirms, so this is the lower bound.
 */
public class RawNoConfirms extends RawConfirms {
  @Override
  boolean confirms() {
    return false;
  }
}
