package dev.skiff.kernel.http;

/**
 * A server facing the network could not take its address: the port is in use (another process, or
 * another copy of this one, listens there) or is not this process's to take. Said in one line, naming the
 * address, so that a command can tell a person what to change rather than print a stack trace.
 */
public final class CannotListen extends IllegalStateException {
  private static final long serialVersionUID = 1L;

  /** The address as the server was told it. */
  private final String host;
  /** The port as the server was told it. */
  private final int port;

  /**
   * @param host the address it was to bind
   * @param port the port it was to bind
   * @param cause what the socket said
   */
  public CannotListen(String host, int port, Throwable cause) {
    super("cannot listen on " + host + ":" + port + ": " + why(cause), cause);
    this.host = host;
    this.port = port;
  }

  private static String why(Throwable cause) {
    for (Throwable t = cause; t != null; t = t.getCause()) {
      if (t instanceof java.net.BindException b) {
        String m = String.valueOf(b.getMessage());
        return m.contains("in use") ? "the port is in use (another process listens there)" : m;
      }
    }
    return String.valueOf(cause.getMessage());
  }

  /**
   * @param e what starting a server threw
   * @return whether it was its address that could not be bound
   */
  public static boolean isBindFailure(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof java.net.BindException) {
        return true;
      }
    }
    return false;
  }

  /** @return the address it was to bind */
  public String host() {
    return host;
  }

  /** @return the port it was to bind */
  public int port() {
    return port;
  }
}
