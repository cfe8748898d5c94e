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
  private Process process;

  /** @param port the port it listens on */
  protected StoreProcess(int port) {
    this.port = port;
  }

  /** @return the command line that runs the server in the foreground */
  protected abstract List<String> command();

  /** @return where the server's output goes */
  protected abstract ProcessBuilder.Redirect output();

  /** @return the store's name, for messages */
  protected abstract String store();

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
   * Asks the server on a connection of its own.
   *
   * @param request what to send
   * @param reply how the answer of a server that serves starts
   * @return whether it answered so within 500 ms
   */
  protected boolean answers(String request, String reply) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 500);
      s.setSoTimeout(500);
      OutputStream out = s.getOutputStream();
      out.write(request.getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = s.getInputStream();
      return new String(in.readNBytes(reply.length()), StandardCharsets.US_ASCII).equals(reply);
    } catch (IOException e) {
      return false;
    }
  }

  @Override
  public void close() {
    kill();
  }
}
