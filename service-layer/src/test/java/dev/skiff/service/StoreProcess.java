package dev.skiff.service;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

/**
 * A store's server process of a test's own, on a port of its own, that the test may stop (SIGTERM),
 * kill (SIGKILL) and start again: never the shared server other tests use.
 */
public abstract class StoreProcess implements FaultCycles.Store, AutoCloseable {
  /** The port it listens on, on 127.0.0.1. */
  public final int port;
  private final String store;
  private final String probe;
  private final String probeReply;
  private Process process;

  /**
   * @param store the store's name, for messages
   * @param port the port it listens on
   * @param probe what to send to ask whether it serves ({@link #answers()})
   * @param probeReply how the answer of a server that serves starts
   */
  protected StoreProcess(String store, int port, String probe, String probeReply) {
    this.store = store;
    this.port = port;
    this.probe = probe;
    this.probeReply = probeReply;
  }

  /** @return the command line that runs the server in the foreground */
  protected abstract List<String> command();

  /** @return where the server's output goes */
  protected abstract ProcessBuilder.Redirect output();

  /** @return the store's name, for messages */
  protected final String store() {
    return store;
  }

  /** @return {@code 127.0.0.1:PORT} */
  public String address() {
    return "127.0.0.1:" + port;
  }

  /** Starts the server and waits until it answers. */
  public void start() {
    startNoWait();
    await(store() + " on " + port).atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(50)).until(this::answers);
  }

  @Override
  public synchronized void startNoWait() {
    if (process != null && process.isAlive()) {
      throw new IllegalStateException(store() + " on " + port + " is running");
    }
    try {
      process = new ProcessBuilder(command()).redirectErrorStream(true).redirectOutput(output()).start();
    } catch (IOException e) {
      throw new IllegalStateException("cannot run " + store() + " (scripts/test.sh installs it): " + e, e);
    }
  }

  @Override
  public synchronized void stop() {
    end(false);
  }

  /** Kills the server at once (SIGKILL), as a crash would. */
  @Override
  public synchronized void kill() {
    end(true);
  }

  private void end(boolean force) {
    if (process == null) {
      return;
    }
    if (force) {
      process.destroyForcibly();
    } else {
      process.destroy();
    }
    try {
      process.waitFor();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Asks the server, on a connection of its own, what the subclass named as its probe.
   *
   * @return whether it answered as a server that serves does, within 500 ms
   */
  @Override
  public boolean answers() {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 500);
      s.setSoTimeout(500);
      OutputStream out = s.getOutputStream();
      out.write(probe.getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = s.getInputStream();
      return new String(in.readNBytes(probeReply.length()), StandardCharsets.US_ASCII).equals(probeReply);
    } catch (IOException e) {
      return false;
    }
  }

  @Override
  public void close() {
    kill();
  }
}
