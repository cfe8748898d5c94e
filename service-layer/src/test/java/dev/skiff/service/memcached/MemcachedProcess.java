package dev.skiff.service.memcached;

import static org.awaitility.Awaitility.await;

import dev.skiff.service.TestStores;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** A memcached of a test's own, on a port of its own, that the test may kill and start again. */
final class MemcachedProcess implements AutoCloseable {
  final int port;
  private Process process;

  MemcachedProcess() {
    this(TestStores.freePort());
  }

  MemcachedProcess(int port) {
    this(port, true);
  }

  /**
   * @param port its port
   * @param start whether to start it now (else {@link #start()} later)
   */
  MemcachedProcess(int port, boolean start) {
    this.port = port;
    if (start) {
      start();
    }
  }

  String address() {
    return "127.0.0.1:" + port;
  }

  /** Starts the server and waits until it answers. */
  void start() {
    startNoWait();
    await("memcached on " + port).atMost(Duration.ofSeconds(10)).until(this::answers);
  }

  /** Starts the server and returns at once. */
  void startNoWait() {
    List<String> cmd = new ArrayList<>(List.of("memcached", "-l", "127.0.0.1", "-p", Integer.toString(port), "-m", "16"));
    if ("root".equals(System.getProperty("user.name"))) {
      cmd.addAll(List.of("-u", "memcache"));
    }
    try {
      process = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    } catch (IOException e) {
      throw new IllegalStateException("cannot run memcached (scripts/test.sh installs it): " + e, e);
    }
  }

  boolean answers() {
    try (Socket s = new Socket()) {
      s.connect(new java.net.InetSocketAddress("127.0.0.1", port), 500);
      s.setSoTimeout(500);
      OutputStream out = s.getOutputStream();
      out.write("version\r\n".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = s.getInputStream();
      byte[] b = in.readNBytes(7);
      return new String(b, StandardCharsets.US_ASCII).equals("VERSION");
    } catch (IOException e) {
      return false;
    }
  }

  /** Kills the server at once (SIGKILL), as a crash would. */
  void kill() {
    end(true);
  }

  /** Stops the server as an operator would (SIGTERM) and waits until it is gone. */
  void stop() {
    end(false);
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

  @Override
  public void close() {
    kill();
  }
}
