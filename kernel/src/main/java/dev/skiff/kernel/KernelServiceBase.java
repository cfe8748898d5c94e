package dev.skiff.kernel;

import dev.skiff.platform.internal.Closer;
import dev.skiff.platform.internal.Lifecycle;

/**
 * The lifecycle every kernel service shares (Skiff's one rule, {@link Lifecycle}): started once with
 * its context, a clear error when started twice, closed once (a second close, or a close before the
 * start, does no harm), and a start that fails leaves the service closed with what it had taken
 * released. A service says only what starting and stopping do; what it opens while starting it may
 * hand to {@link #closeAtEnd} instead of closing it itself.
 */
public abstract class KernelServiceBase implements KernelService {
  private final String name;
  private final Lifecycle lifecycle;
  private final Closer opened = new Closer();

  /** @param name the service's short name, e.g. {@code monitoring} */
  protected KernelServiceBase(String name) {
    this.name = name;
    this.lifecycle = new Lifecycle("the " + name + " kernel service");
  }

  @Override
  public final String name() {
    return name;
  }

  @Override
  public final void start(KernelContext context) {
    lifecycle.start(() -> begin(context), this::release);
  }

  @Override
  public final void close() {
    if (lifecycle.beginClose() == Lifecycle.State.CLOSED) {
      return;
    }
    try {
      release();
    } finally {
      lifecycle.closed();
    }
  }

  /**
   * Has the service close a resource when it stops (after {@link #end}), or when its start fails:
   * resources close in the reverse order of these calls, as try-with-resources closes them.
   *
   * @param resource what {@link #begin} opened
   * @param <T> its type
   * @return the resource
   */
  protected final <T extends AutoCloseable> T closeAtEnd(T resource) {
    return opened.register(resource);
  }

  private void release() {
    try {
      end();
    } finally {
      // every resource handed to closeAtEnd, even when some fail; the first failure is thrown
      opened.close();
    }
  }

  /** @return whether the service is started and not closing: its loops run while this holds */
  protected final boolean isRunning() {
    return lifecycle.isRunning();
  }

  /**
   * What starting does.
   *
   * @param context the transport, settings and web server the service may use
   */
  protected abstract void begin(KernelContext context);

  /**
   * What stopping does besides closing what was handed to {@link #closeAtEnd}: releases what
   * {@link #begin} took, as far as it got (it may have failed half way). Nothing, unless overridden.
   */
  protected void end() {}
}
