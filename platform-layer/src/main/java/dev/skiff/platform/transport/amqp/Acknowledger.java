package dev.skiff.platform.transport.amqp;

import com.rabbitmq.client.Channel;
import java.io.IOException;
import java.util.Arrays;
import java.util.Iterator;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Acknowledges the deliveries of one consuming channel, a run of them with a single {@code basic.ack}
 * (with {@code multiple}) where that acknowledges exactly them: the broker then parses, routes and
 * settles one command instead of one per request (docs/design-notes.md, "Acks that are due together
 * leave as one").
 *
 * <p>An ack is not written when it is due ({@link #ackLater}) but when the thread writing the replies
 * ends its run of writes ({@link #writeDue}): the acks due then whose tags are the oldest deliveries
 * still unsettled on the channel go as one multiple ack of the newest of them; any other due ack (a
 * newer delivery, while an older one is still being handled) goes alone, as before. A multiple ack of
 * tag T settles every unsettled delivery up to T on the channel, so it is only written when every
 * delivery up to T is one whose ack is due: a delivery still running, or one nacked or requeued (whose
 * command is written before this one, {@link #settled}), is never covered by it.
 *
 * <p>Thread-safe: deliveries are noted by the channel's consumer thread without a lock; due acks are
 * noted and written under this object's lock, which is never held while waiting for anything but the
 * socket write itself. The unsettled set is bounded by the channel's prefetch (the broker delivers no
 * more unacknowledged).
 */
final class Acknowledger {
  private final Channel channel;
  /** Delivered, with no settling command written yet: what the broker holds unacknowledged for us. */
  private final ConcurrentSkipListSet<Long> unsettled = new ConcurrentSkipListSet<>();
  /** Tags whose ack is due and not written; guarded by {@code this}. */
  private long[] due = new long[16];
  private int dueCount;
  private final AtomicLong acksWritten = new AtomicLong();
  private final AtomicLong deliveriesAcked = new AtomicLong();

  /** @param channel the channel the deliveries came on */
  Acknowledger(Channel channel) {
    this.channel = channel;
  }

  /**
   * Notes a delivery: called by the consumer, in delivery order, before anything can settle it.
   *
   * @param tag its delivery tag
   */
  void delivered(long tag) {
    unsettled.add(tag);
  }

  /**
   * Notes that a delivery was settled by a command written without this class (a nack, or an ack that
   * must leave at once): a multiple ack written after it no longer concerns it.
   *
   * @param tag its delivery tag
   */
  void settled(long tag) {
    unsettled.remove(tag);
  }

  /**
   * Notes that a delivery's ack is due; {@link #writeDue} writes it. Whoever calls this must see that
   * {@link #writeDue} runs after it (the writer's run of writes ends with it).
   *
   * @param tag its delivery tag
   */
  synchronized void ackLater(long tag) {
    if (dueCount == due.length) {
      due = Arrays.copyOf(due, dueCount * 2);
    }
    due[dueCount++] = tag;
  }

  /**
   * Writes the acks that are due: the oldest unsettled deliveries among them as one multiple ack, the
   * rest one by one.
   *
   * @throws IOException when the channel cannot be written to (the connection broke: its recovery
   *     voids every delivery tag, and the broker puts the deliveries back)
   */
  synchronized void writeDue() throws IOException {
    int n = dueCount;
    if (n == 0) {
      return;
    }
    // sorted in place: nothing adds to it while this holds the lock
    long[] tags = due;
    Arrays.sort(tags, 0, n);
    // how many of the due tags are the oldest unsettled deliveries: walk both in order until they differ
    int run = 0;
    Iterator<Long> oldest = unsettled.iterator();
    while (run < n && oldest.hasNext() && oldest.next() == tags[run]) {
      run++;
    }
    try {
      if (run > 0) {
        channel.basicAck(tags[run - 1], run > 1);
        acksWritten.incrementAndGet();
      }
      for (int i = run; i < n; i++) {
        channel.basicAck(tags[i], false);
        acksWritten.incrementAndGet();
      }
      deliveriesAcked.addAndGet(n);
    } finally {
      for (int i = 0; i < n; i++) {
        unsettled.remove(tags[i]);
      }
      dueCount = 0;
    }
  }

  /** @return how many ack commands were written */
  long acksWritten() {
    return acksWritten.get();
  }

  /** @return how many deliveries they acknowledged */
  long deliveriesAcked() {
    return deliveriesAcked.get();
  }
}
