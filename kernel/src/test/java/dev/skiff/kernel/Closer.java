package dev.skiff.kernel;

import java.util.ArrayList;
import java.util.List;

/** What a test fixture opened, closed in the reverse order at its end; a failure to close fails the test. */
public final class Closer implements AutoCloseable {
  private final List<AutoCloseable> opened = new ArrayList<>();

  /**
   * @param resource something opened, to close at the end
   * @param <T> its type
   * @return the resource
   */
  public <T extends AutoCloseable> T add(T resource) {
    opened.add(resource);
    return resource;
  }

  /** Closes everything added, the last first, going on past failures and throwing the first. */
  @Override
  public void close() {
    IllegalStateException failure = null;
    for (int i = opened.size() - 1; i >= 0; i--) {
      try {
        opened.get(i).close();
      } catch (Exception e) {
        if (failure == null) {
          failure = new IllegalStateException("closing " + opened.get(i), e);
        } else {
          failure.addSuppressed(e);
        }
      }
    }
    opened.clear();
    if (failure != null) {
      throw failure;
    }
  }
}
