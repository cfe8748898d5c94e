package dev.skiff.platform.internal;

import java.util.Deque;
import java.util.Objects;
import java.util.concurrent.ConcurrentLinkedDeque;

/**
 * Resources closed together, newest first (as try-with-resources closes them): each is closed even when
 * closing one before it fails, and the first failure is thrown after, the others suppressed in it. A
 * checked exception from a resource is wrapped in an {@link IllegalStateException} naming it. Closing
 * empties the closer; it may be used again. Thread-safe.
 */
public final class Closer implements AutoCloseable {
  private final Deque<AutoCloseable> open = new ConcurrentLinkedDeque<>();

  /**
   * @param resource something to close, before everything registered earlier
   * @param <T> its type
   * @return the resource
   */
  public <T extends AutoCloseable> T register(T resource) {
    open.addFirst(Objects.requireNonNull(resource, "resource"));
    return resource;
  }

  /**
   * Closes every resource registered, newest first.
   *
   * @throws RuntimeException the first failure, with the later ones suppressed in it
   */
  @Override
  public void close() {
    RuntimeException failure = null;
    for (AutoCloseable r = open.pollFirst(); r != null; r = open.pollFirst()) {
      try {
        r.close();
      } catch (Exception e) {
        RuntimeException f = e instanceof RuntimeException re ? re : new IllegalStateException("cannot close " + r, e);
        if (failure == null) {
          failure = f;
        } else {
          failure.addSuppressed(f);
        }
      }
    }
    if (failure != null) {
      throw failure;
    }
  }
}
