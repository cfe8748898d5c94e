package dev.skiff.platform.internal;

import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Where Skiff's own threads come from: every one is named (so a thread dump says whose it is) and a
 * daemon (so that a library thread never keeps a JVM alive after its main thread ends). Internal.
 */
public final class Threads {
  private Threads() {}

  /**
   * @param prefix the threads' name, e.g. {@code skiff-handler-com.example.greeter}
   * @return a factory of daemon threads named {@code PREFIX-1}, {@code PREFIX-2}, ...
   */
  public static ThreadFactory named(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> daemon(prefix + "-" + n.incrementAndGet(), r);
  }

  /**
   * @param name the thread's name
   * @param task what it runs
   * @return a daemon thread, not started
   */
  public static Thread daemon(String name, Runnable task) {
    Thread t = new Thread(task, name);
    t.setDaemon(true);
    return t;
  }

  /**
   * @param name the thread's name
   * @param task what it runs
   * @return a started daemon thread
   */
  public static Thread start(String name, Runnable task) {
    Thread t = daemon(name, task);
    t.start();
    return t;
  }
}
