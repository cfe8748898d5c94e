package dev.skiff.platform.trace;

import dev.skiff.proto.v1.SpanBatch;

/**
 * Where {@link Tracing} ships its batches of spans: by default the broker (topic
 * {@code trace.spans.SERVICE}, see {@link #TOPIC_PREFIX}); tests and other collectors may supply their own.
 * Called on the tracing's own shipping thread, never on a request's.
 */
@FunctionalInterface
public interface SpanSink {
  /** Spans are published on this prefix followed by the recording service's name. */
  String TOPIC_PREFIX = "trace.spans.";

  /** The topic pattern that receives the spans of every service. */
  String ALL_TOPICS = TOPIC_PREFIX + "#";

  /**
   * Ships a batch. May block (the shipping thread waits, the requests do not) and may throw: the batch
   * is then counted as failed and dropped.
   *
   * @param batch the spans
   */
  void ship(SpanBatch batch);
}
