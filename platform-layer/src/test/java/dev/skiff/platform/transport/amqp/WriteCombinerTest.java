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
  static final class CountingHandler implements FrameHandler {
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
    Cork cork = new Cork();
    WriteCombiner out = new WriteCombiner(cork, () -> {});
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
                      () -> {
                        Integer before = lastSeen.put(id, seq);
                        if (seq != (before == null ? 0 : before + 1)) {
                          outOfOrder.incrementAndGet();
                        }
                        ran.incrementAndGet();
                        if (seq % 1000 == 7) {
                          throw new IOException("a failed write");
                        }
                      });
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
}
