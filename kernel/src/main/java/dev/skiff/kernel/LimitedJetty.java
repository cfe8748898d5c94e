package dev.skiff.kernel;

import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.server.ConnectionFactory;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.NetworkConnectionLimit;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * A Jetty server with Skiff's limits for a port facing the network (docs/security.md, "The kernel's pages"):
 * a bounded thread pool, an idle timeout (a silent or half-sent request is closed; it holds no thread), a
 * request header cap (431), a cap on open connections beyond which new ones wait in the accept queue and
 * every open one's idle timeout drops to {@link WebServer#LIMITED_IDLE_TIMEOUT}, no server version sent,
 * and error pages that carry {@link WebServer#SECURITY_HEADERS} and no stack trace. Shared by the kernel's
 * {@link WebServer} and the HTTP gateway, so that both edges keep the same limits. Not started.
 *
 * @param server the server, with no handler yet
 * @param connector its one connector
 */
public record LimitedJetty(Server server, ServerConnector connector) {
  /**
   * Builds (does not start) a server.
   *
   * @param threadName the name of its threads
   * @param options the limits (its {@code auth} is not used here)
   * @param host the address to bind
   * @param port the port, 0 for any free one
   * @param protocols what the connector speaks besides HTTP/1.1, given the HTTP configuration (e.g. h2c);
   *     may be empty
   * @return the server
   */
  @SafeVarargs
  public static LimitedJetty create(String threadName, WebServer.Options options, String host, int port,
      java.util.function.Function<HttpConfiguration, ConnectionFactory>... protocols) {
    QueuedThreadPool threads = new QueuedThreadPool(options.maxThreads(), Math.min(4, options.maxThreads()));
    threads.setName(threadName);
    threads.setDaemon(true);
    Server server = new Server(threads);
    HttpConfiguration http = new HttpConfiguration();
    http.setSendServerVersion(false);
    http.setSendXPoweredBy(false);
    http.setRequestHeaderSize(options.maxHeaderBytes());
    http.setIdleTimeout(options.idleTimeout().toMillis());
    ConnectionFactory[] factories = new ConnectionFactory[1 + protocols.length];
    factories[0] = new HttpConnectionFactory(http);
    for (int i = 0; i < protocols.length; i++) {
      factories[i + 1] = protocols[i].apply(http);
    }
    ServerConnector connector = new ServerConnector(server, 1, 1, factories);
    connector.setHost(host);
    connector.setPort(port);
    connector.setIdleTimeout(options.idleTimeout().toMillis());
    connector.setAcceptQueueSize(64);
    server.addConnector(connector);
    // at the limit, no new connection is accepted (they wait in the accept queue) ...
    server.addBean(new NetworkConnectionLimit(options.maxConnections(), connector));
    // ... and every open one gets a short idle timeout, so that slow or silent clients make room. Done here
    // rather than by NetworkConnectionLimit's own, which misses the connections still being opened when
    // the limit is reached (the first ones a flood opens: they kept the long timeout).
    long atLimit = Math.min(options.idleTimeout().toMillis(), WebServer.LIMITED_IDLE_TIMEOUT.toMillis());
    connector.addBean(new Connection.Listener() {
      private final AtomicInteger open = new AtomicInteger();

      @Override
      public void onOpened(Connection connection) {
        if (open.incrementAndGet() >= options.maxConnections()) {
          connection.getEndPoint().setIdleTimeout(atLimit);
          connector.getConnectedEndPoints().forEach(e -> e.setIdleTimeout(Math.min(e.getIdleTimeout(), atLimit)));
        }
      }

      @Override
      public void onClosed(Connection connection) {
        open.decrementAndGet();
      }
    });
    ErrorHandler errors = new ErrorHandler() {
      @Override
      public boolean handle(Request request, Response response, Callback callback) throws Exception {
        WebServer.SECURITY_HEADERS.forEach((k, v) -> response.getHeaders().put(k, v));
        return super.handle(request, response, callback);
      }
    };
    errors.setShowStacks(false);
    errors.setShowMessageInTitle(false);
    server.setErrorHandler(errors);
    return new LimitedJetty(server, connector);
  }

  /**
   * @param handler what serves the requests
   * @return this
   */
  public LimitedJetty handler(Handler handler) {
    server.setHandler(handler);
    return this;
  }
}
