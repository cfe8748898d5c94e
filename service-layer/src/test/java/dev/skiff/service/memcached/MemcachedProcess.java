package dev.skiff.service.memcached;

import dev.skiff.service.StoreProcess;
import dev.skiff.service.TestStores;
import java.util.ArrayList;
import java.util.List;

/**
 * A memcached of a test's own, on a port of its own, that the test may stop, kill and start again; it
 * serves when it answers {@code version}.
 */
final class MemcachedProcess extends StoreProcess {
  private final List<String> options;

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
    this(port, start, List.of());
  }

  /**
   * @param port its port
   * @param start whether to start it now (else {@link #start()} later)
   * @param options more options of memcached's, e.g. {@code -I 2m}
   */
  MemcachedProcess(int port, boolean start, List<String> options) {
    super("memcached", port, "version\r\n", "VERSION");
    this.options = List.copyOf(options);
    if (start) {
      start();
    }
  }

  @Override
  protected List<String> command() {
    List<String> cmd = new ArrayList<>(List.of("memcached", "-l", "127.0.0.1", "-p", Integer.toString(port), "-m", "16"));
    if ("root".equals(System.getProperty("user.name"))) {
      cmd.addAll(List.of("-u", "memcache"));
    }
    cmd.addAll(options);
    return cmd;
  }

  @Override
  protected ProcessBuilder.Redirect output() {
    return ProcessBuilder.Redirect.DISCARD;
  }
}
