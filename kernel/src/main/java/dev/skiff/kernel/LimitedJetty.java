package dev.skiff.kernel;

import dev.skiff.kernel.http.CannotListen;
import dev.skiff.kernel.http.RefusalCodes;
import dev.skiff.kernel.http.Tls;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.eclipse.jetty.alpn.server.ALPNServerConnectionFactory;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.server.ConnectionFactory;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.NetworkConnectionLimit;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.ssl.KeyStoreScanner;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * A Jetty server with Skiff's limits for a port facing the network (docs/security.md, "The kernel's pages"):
 * a bounded thread pool, an idle timeout (a silent or half-sent request is closed; it holds no thread), a
 * request header cap (431), a cap on open connections beyond which new ones wait in the accept queue and
 * every open one's idle timeout drops to {@link WebServer#LIMITED_IDLE_TIMEOUT}, no server version sent,
 * error pages that carry {@link WebServer#SECURITY_HEADERS} and no stack trace, and, with
 * {@link WebServer.Options#tls()}, HTTPS only (the key store re-read when it changes). Shared by the kernel's
 * {@link WebServer} and the HTTP gateway, so that both edges keep the same limits. Not started.
 *
 * @param server the server, with no handler yet
 * @param connector its one connector
 */
public record LimitedJetty(Server server, ServerConnector connector) {
  /** How often a TLS key store's file is looked at for a change (a renewed certificate is then served). */
  public static final Duration TLS_RELOAD_SCAN = Duration.ofSeconds(5);

  /** HTTP/1.1's name in ALPN. */
  private static final String ALPN_HTTP_1_1 = "http/1.1";

  /**
   * Builds (does not start) a server.
   *
   * @param threadName the name of its threads
   * @param options the limits (its {@code auth} is not used here)
   * @param host the address to bind
   * @param port the port, 0 for any free one
   * @param protocols what the connector speaks besides HTTP/1.1, given the HTTP configuration (e.g. h2c, or
   *     h2 when {@link WebServer.Options#tls()} is set: then ALPN chooses among them and HTTP/1.1); may be empty
   * @return the server
   */
  @SafeVarargs
  public static LimitedJetty create(String threadName, WebServer.Options options, String host, int port,
      Function<HttpConfiguration, ConnectionFactory>... protocols) {
    QueuedThreadPool threads = new QueuedThreadPool(options.maxThreads(), Math.min(4, options.maxThreads()));
    threads.setName(threadName);
    threads.setDaemon(true);
    Server server = new Server(threads);
    HttpConfiguration http = new HttpConfiguration();
    http.setSendServerVersion(false);
    http.setSendXPoweredBy(false);
    http.setRequestHeaderSize(options.maxHeaderBytes());
    http.setIdleTimeout(options.idleTimeout().toMillis());
    ConnectionFactory[] factories = options.tls().isPresent()
        ? tls(server, options.tls().get(), http, protocols)
        : plain(http, protocols);
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
        String path = request.getHttpURI() == null ? null : request.getHttpURI().getPath();
        if (path != null && WebServer.isApi(path)) {
          // a JSON API's client reads its errors in the one shape, Jetty's own refusals too (a body too large...)
          int status = request.getAttribute(ERROR_STATUS) instanceof Integer s ? s : response.getStatus();
          response.setStatus(status);
          response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
          Content.Sink.write(response, true, WebServer.errorJson(RefusalCodes.of(status),
              "HTTP " + status + " " + HttpStatus.getMessage(status)), callback);
          return true;
        }
        return super.handle(request, response, callback);
      }
    };
    errors.setShowStacks(false);
    errors.setShowMessageInTitle(false);
    server.setErrorHandler(errors);
    return new LimitedJetty(server, connector);
  }

  /** HTTP/1.1, then the other protocols (h2c is chosen by the client's upgrade or preface). */
  @SafeVarargs
  private static ConnectionFactory[] plain(HttpConfiguration http, Function<HttpConfiguration, ConnectionFactory>... protocols) {
    ConnectionFactory[] factories = new ConnectionFactory[1 + protocols.length];
    factories[0] = new HttpConnectionFactory(http);
    for (int i = 0; i < protocols.length; i++) {
      factories[i + 1] = protocols[i].apply(http);
    }
    return factories;
  }

  /**
   * TLS (Jetty's defaults: TLS 1.2 and 1.3, no weak cipher suites), then the protocols chosen by ALPN: the
   * others given (e.g. h2) before HTTP/1.1, which a client that asks for none gets. Requests are marked
   * secure ({@code https}); the key store is read again when its file changes.
   */
  @SafeVarargs
  private static ConnectionFactory[] tls(Server server, Tls tls, HttpConfiguration http,
      Function<HttpConfiguration, ConnectionFactory>... protocols) {
    HttpConfiguration https = new HttpConfiguration(http);
    https.addCustomizer(new SecureRequestCustomizer());
    SslContextFactory.Server ssl = new SslContextFactory.Server();
    ssl.setKeyStorePath(tls.keyStore().toAbsolutePath().toString());
    ssl.setKeyStorePassword(tls.password());
    ssl.setKeyStoreType("PKCS12");
    KeyStoreScanner rereads = new KeyStoreScanner(ssl);
    rereads.setScanInterval((int) TLS_RELOAD_SCAN.toSeconds());
    server.addBean(rereads);
    HttpConnectionFactory http11 = new HttpConnectionFactory(https);
    if (protocols.length == 0) {
      return new ConnectionFactory[] {new SslConnectionFactory(ssl, http11.getProtocol()), http11};
    }
    // ALPN's names are matched exactly and written in lower case ("h2", "http/1.1"); Jetty's factories are
    // found by protocol whatever the case (HttpConnectionFactory's is "HTTP/1.1")
    List<ConnectionFactory> chosen = new ArrayList<>();
    List<String> names = new ArrayList<>();
    for (Function<HttpConfiguration, ConnectionFactory> p : protocols) {
      ConnectionFactory f = p.apply(https);
      chosen.add(f);
      names.add(f.getProtocol().toLowerCase(Locale.ROOT));
    }
    names.add(ALPN_HTTP_1_1);
    ALPNServerConnectionFactory alpn = new ALPNServerConnectionFactory(names.toArray(String[]::new));
    alpn.setDefaultProtocol(ALPN_HTTP_1_1);
    List<ConnectionFactory> all = new ArrayList<>();
    all.add(new SslConnectionFactory(ssl, alpn.getProtocol()));
    all.add(alpn);
    all.addAll(chosen);
    all.add(http11);
    return all.toArray(ConnectionFactory[]::new);
  }

  /**
   * Starts the server (once its handler is set).
   *
   * @throws dev.skiff.kernel.http.CannotListen when its address cannot be bound (the port is in use)
   * @throws IllegalStateException when it does not start for another reason
   */
  public void start() {
    try {
      server.start();
    } catch (Exception e) {
      if (CannotListen.isBindFailure(e)) {
        throw new CannotListen(connector.getHost() == null ? "0.0.0.0" : connector.getHost(), connector.getPort(), e);
      }
      throw new IllegalStateException("cannot start the HTTP server on port " + connector.getPort() + ": " + e.getMessage(), e);
    }
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
