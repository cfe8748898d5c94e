package dev.skiff.kernel;

import dev.skiff.platform.internal.Lifecycle;

/**
 * The lifecycle every kernel service shares (Skiff's one rule, {@link Lifecycle}): started once with
 * its context, a clear error when started twice, closed once (a second close, or a close before the
 * start, does no harm), and a start that fails leaves the service closed with what it had taken
 * released. A service says only what starting and stopping do.
 */
public abstract class KernelServiceBase implements KernelService {
  private final String name;
  private final Lifecycle lifecycle;

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
    lifecycle.start(() -> begin(context), this::end);
  }

  @Override
  public final void close() {
    if (lifecycle.beginClose() == Lifecycle.State.CLOSED) {
      return;
    }
    try {
      end();
    } finally {
      lifecycle.closed();
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

  /** What stopping does: releases what {@link #begin} took, as far as it got (it may have failed half way). */
  protected abstract void end();
}
