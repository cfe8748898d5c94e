package dev.skiff.platform.transport.amqp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.rabbitmq.client.WriteListener;
import com.rabbitmq.client.impl.Frame;
import com.rabbitmq.client.impl.FrameHandler;
import java.io.IOException;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Cork and WriteCombiner, the pure logic under the server's writes, on a frame handler that counts
 * flushes. The transport's own tests (AmqpRpcTest, the chaos and outage tests) run them on a broker.
 */
class WriteCombinerTest {

  /** Counts the flushes that reach the socket. */
  static class CountingHandler implements FrameHandler {
    final AtomicInteger flushes = new AtomicInteger();

    @Override
    public void flush(WriteListener listener) {
      flushes.incrementAndGet();
      if (listener != null) {
        listener.done(true, null);
      }
    }

    @Override
    public void writeFrame(Frame frame) {}

    @Override
    public Frame readFrame() {
      return null;
    }

    @Override
    public void setTimeout(int timeoutMs) {}

    @Override
    public int getTimeout() {
      return 0;
    }

    @Override
    public void sendHeader() {}

    @Override
    public void initialize(com.rabbitmq.client.impl.AMQConnection connection) {}

    @Override
    public void startProcessing() {}

    @Override
    public void finishConnectionNegotiation() {}

    @Override
    public void setFrameMax(int frameMax) {}

    @Override
    public void close() {}

    @Override
    public InetAddress getLocalAddress() {
      return InetAddress.getLoopbackAddress();
    }

    @Override
    public int getLocalPort() {
      return 0;
    }

    @Override
    public InetAddress getAddress() {
      return InetAddress.getLoopbackAddress();
    }

    @Override
    public int getPort() {
      return 0;
    }
  }

  private static FrameHandler corked(Cork cork, CountingHandler inner) throws IOException {
    return cork.wrap((address, name) -> inner).create(null, "test");
  }

  /** A cork and a corked frame handler over a socket that counts flushes. */
  private static final class Rig {
    final Cork cork = new Cork();
    final CountingHandler socket = new CountingHandler();
    final FrameHandler handler;

    Rig() throws IOException {
      handler = corked(cork, socket);
    }
  }

  @Test
  void aCorkedRunFlushesOnceAtItsEndAndOnlyIfSomethingWasWritten() throws IOException {
    Cork cork = new Cork();
    CountingHandler socket = new CountingHandler();
    FrameHandler h = corked(cork, socket);

    h.flush(null);
    assertThat(socket.flushes).as("not corked: every flush goes through").hasValue(1);

    cork.run(
        () -> {
          h.flush(null);
          h.flush(null);
          cork.run(() -> h.flush(null)); // nested: held for the outermost run
          assertThat(socket.flushes).as("held back while corked").hasValue(1);
        });
    assertThat(socket.flushes).as("one flush for the three commands").hasValue(2);

    cork.run(() -> {});
    assertThat(socket.flushes).as("nothing written, nothing flushed").hasValue(2);
  }

  @Test
  void aFlushThatWaitsForItsWriteIsNeverHeldBack() throws IOException {
    Cork cork = new Cork();
    CountingHandler socket = new CountingHandler();
    FrameHandler h = corked(cork, socket);
    List<Boolean> done = new ArrayList<>();
    cork.run(() -> h.flush((ok, error) -> done.add(ok)));
    assertThat(done).containsExactly(true);
    assertThat(socket.flushes).hasValue(1);
  }

  @Test
  void aCorkedRunThatFailsStillFlushesWhatItWrote() throws IOException {
    Cork cork = new Cork();
    CountingHandler socket = new CountingHandler();
    FrameHandler h = corked(cork, socket);
    // the caller sees the failure; the first command still leaves
    assertThatThrownBy(
            () ->
                cork.run(
                    () -> {
                      h.flush(null);
                      throw new IOException("the second write failed");
                    }))
        .isInstanceOf(IOException.class)
        .hasMessage("the second write failed");
    assertThat(socket.flushes).hasValue(1);
  }

  @Test
  void anotherThreadsFlushIsNotHeldBackByACorkedThread() throws Exception {
    Cork cork = new Cork();
    CountingHandler socket = new CountingHandler();
    FrameHandler h = corked(cork, socket);
    CountDownLatch written = new CountDownLatch(1);
    CountDownLatch checked = new CountDownLatch(1);
    Thread corkedThread =
        new Thread(
            () -> {
              try {
                cork.run(
                    () -> {
                      h.flush(null);
                      written.countDown();
                      try {
                        checked.await();
                      } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                      }
                    });
              } catch (IOException e) {
                throw new IllegalStateException(e);
              }
            });
    corkedThread.start();
    written.await();
    h.flush(null); // this thread is not corked
    assertThat(socket.flushes).hasValue(1);
    checked.countDown();
    corkedThread.join();
    assertThat(socket.flushes).hasValue(2);
  }

  /**
   * What must hold: every action submitted runs exactly once, by the time its submitter returns or
   * soon after; one thread's actions run in the order it submitted them; a failing action does not
   * stop the others; and no submitter ever waits for another (the writer takes others' work).
   */
  @Test
  void everyActionRunsOnceInEachThreadsOrderWhateverTheInterleaving() throws Exception {
    everyActionRunsOnceInEachThreadsOrder(new WriteCombiner(new Cork(), () -> {}), 0);
  }

  /** The same with a bound so small that submitters keep finding the queue full and wait to write. */
  @Test
  void everyActionRunsOnceInEachThreadsOrderWhenSubmittersWaitAtTheBound() throws Exception {
    WriteCombiner out = WriteCombiner.bounded(new Cork(), 4, 1 << 20);
    everyActionRunsOnceInEachThreadsOrder(out, 0);
    WriteCombiner byBytes = WriteCombiner.bounded(new Cork(), 1 << 20, 1000);
    everyActionRunsOnceInEachThreadsOrder(byBytes, 100);
    assertThat(out.waits()).as("the count bound was reached").isPositive();
    assertThat(byBytes.waits()).as("the byte bound was reached").isPositive();
  }

  private static void everyActionRunsOnceInEachThreadsOrder(WriteCombiner out, int bytes) throws Exception {
    int threads = 8;
    int perThread = 20_000;
    ConcurrentHashMap<Integer, Integer> lastSeen = new ConcurrentHashMap<>();
    AtomicInteger ran = new AtomicInteger();
    AtomicInteger outOfOrder = new AtomicInteger();
    CyclicBarrier start = new CyclicBarrier(threads);
    List<Thread> all = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int id = t;
      Thread th =
          new Thread(
              () -> {
                try {
                  start.await();
                } catch (Exception e) {
                  throw new IllegalStateException(e);
                }
                for (int i = 0; i < perThread; i++) {
                  int seq = i;
                  out.submit(
                      "test",
                      bytes,
                      () -> {
                        Integer before = lastSeen.put(id, seq);
                        if (seq != (before == null ? 0 : before + 1)) {
                          outOfOrder.incrementAndGet();
                        }
                        ran.incrementAndGet();
                        if (seq % 1000 == 7) {
                          throw new IOException("a failed write");
                        }
                      },
                      null);
                }
              });
      all.add(th);
      th.start();
    }
    for (Thread th : all) {
      th.join();
    }
    assertThat(ran).as("every action ran once, none left queued").hasValue(threads * perThread);
    assertThat(outOfOrder).as("each thread's actions in its order").hasValue(0);
  }

  /**
   * A bounded combiner whose writer is stuck (a socket the broker stopped reading) takes submissions up
   * to its bound and then holds the next submitter until it can write itself: memory stays bounded and
   * the submitters feel the socket's backpressure, as they did when each wrote its own.
   */
  @Test
  void aSubmitterThatFindsTheQueueFullWaitsForTheWriterThenWritesEverythingInOrder() throws Exception {
    Rig rig = new Rig();
    CountingHandler socket = rig.socket;
    FrameHandler h = rig.handler;
    WriteCombiner out = WriteCombiner.bounded(rig.cork, 3, 1 << 20);
    CountDownLatch writerStuck = new CountDownLatch(1);
    CountDownLatch unstick = new CountDownLatch(1);
    List<Integer> written = java.util.Collections.synchronizedList(new ArrayList<>());
    Thread writer =
        new Thread(
            () ->
                out.submit(
                    "stuck",
                    () -> {
                      writerStuck.countDown();
                      try {
                        unstick.await();
                      } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                      }
                      written.add(0);
                      h.flush(null);
                    }));
    writer.start();
    writerStuck.await();
    for (int i = 1; i <= 3; i++) {
      int n = i;
      out.submit("queued", () -> { written.add(n); h.flush(null); });
    }
    assertThat(written).as("queued behind the writer; their submitter did not wait").isEmpty();
    assertThat(out.waits()).isZero();

    CountDownLatch fourthReturned = new CountDownLatch(1);
    Thread fourth =
        new Thread(
            () -> {
              out.submit("over the bound", () -> { written.add(4); h.flush(null); });
              fourthReturned.countDown();
            });
    fourth.start();
    assertThat(fourthReturned.await(300, java.util.concurrent.TimeUnit.MILLISECONDS))
        .as("the fourth submitter waits while the writer is stuck")
        .isFalse();
    assertThat(out.waits()).isEqualTo(1);

    unstick.countDown();
    assertThat(fourthReturned.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
    writer.join();
    fourth.join();
    assertThat(written).as("everything written once, in the order submitted").containsExactly(0, 1, 2, 3, 4);
    assertThat(socket.flushes.get()).as("one flush per corked run, not per action").isLessThanOrEqualTo(2);
  }

  /** An action that submits another (a write that leads to one more) leaves it to the run under way. */
  @Test
  void anActionThatSubmitsHasItsSubmissionWrittenAfterItByTheSameRun() throws IOException {
    Rig rig = new Rig();
    FrameHandler h = rig.handler;
    WriteCombiner out = WriteCombiner.bounded(rig.cork, 1, 1 << 20);
    List<String> written = new ArrayList<>();
    out.submit(
        "first",
        () -> {
          out.submit("second", () -> { written.add("second"); h.flush(null); });
          written.add("first");
          h.flush(null);
        });
    assertThat(written).containsExactly("first", "second");
    assertThat(rig.socket.flushes).as("both in one run").hasValue(1);
  }

  /**
   * Who waits for a write learns after the flush that ended its run, and learns of a failed flush: a
   * request written into a socket that then broke must not count as sent (the client fails it, so
   * that the call is retried rather than left waiting for a reply that cannot come).
   */
  @Test
  void whoWaitsForAWriteLearnsAfterTheFlushWhetherItWentThrough() throws IOException {
    Cork cork = new Cork();
    CountingHandler socket = new CountingHandler();
    AtomicInteger failAfter = new AtomicInteger(Integer.MAX_VALUE);
    FrameHandler h =
        cork.wrap(
                (address, name) ->
                    new CountingHandler() {
                      @Override
                      public void flush(WriteListener listener) {
                        if (socket.flushes.incrementAndGet() > failAfter.get()) {
                          throw new IllegalStateException("socket closed");
                        }
                      }
                    })
            .create(null, "test");
    WriteCombiner out = WriteCombiner.bounded(cork, 8, 1 << 20);
    List<String> told = new ArrayList<>();
    out.submit("ok", 10, () -> h.flush(null), failure -> told.add("flushes " + socket.flushes.get() + ", failure " + failure));
    assertThat(told).as("told after the flush, which went through").containsExactly("flushes 1, failure null");

    told.clear();
    failAfter.set(1);
    out.submit("broken", 10, () -> h.flush(null), failure -> told.add(String.valueOf(failure)));
    assertThat(told).containsExactly("java.lang.IllegalStateException: socket closed");

    told.clear();
    out.submit("nothing written", 10, () -> {}, failure -> told.add(String.valueOf(failure)));
    assertThat(told).as("nothing to flush, nothing failed").containsExactly("null");
  }
}
