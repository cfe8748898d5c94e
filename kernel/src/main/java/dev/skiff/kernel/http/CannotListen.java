package dev.skiff.kernel.http;

import java.net.BindException;

/**
 * A server facing the network could not take its address: the port is in use (another process, or
 * another copy of this one, listens there) or is not this process's to take. Said in one line, naming the
 * address, so that a command can tell a person what to change rather than print a stack trace.
 */
public final class CannotListen extends IllegalStateException {
  private static final long serialVersionUID = 1L;

  /**
   * @param host the address it was to bind
   * @param port the port it was to bind
   * @param cause what starting the server threw, a {@link BindException} in its chain ({@link #isBindFailure})
   */
  public CannotListen(String host, int port, Throwable cause) {
    super("cannot listen on " + host + ":" + port + ": " + why(cause), cause);
  }

  private static String why(Throwable cause) {
    BindException b = bindException(cause);
    String m = String.valueOf(b == null ? cause.getMessage() : b.getMessage());
    return b != null && m.contains("in use") ? "the port is in use (another process listens there)" : m;
  }

  /**
   * @param e what starting a server threw
   * @return whether it was its address that could not be bound
   */
  public static boolean isBindFailure(Throwable e) {
    return bindException(e) != null;
  }

  private static BindException bindException(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof BindException b) {
        return b;
      }
    }
    return null;
  }
}
