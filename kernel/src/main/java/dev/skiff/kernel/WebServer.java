package dev.skiff.kernel;

import dev.skiff.platform.internal.Threads;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The kernel's web server (the JDK's built-in HTTP server): kernel services mount their pages and JSON
 * APIs on it, and {@code /} lists what is mounted. Default port 8090 ({@code SKIFF_HTTP_PORT}).
 *
 * <p>Thread-safe. Owned by the {@link Kernel}.
 */
public final class WebServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(WebServer.class);

  private final HttpServer server;
  private final ExecutorService pool;
  private final Map<String, String> titles = new ConcurrentSkipListMap<>();

  private WebServer(HttpServer server, ExecutorService pool) {
    this.server = server;
    this.pool = pool;
  }

  /**
   * Starts a web server.
   *
   * @param host the address to bind, e.g. {@code 0.0.0.0} or {@code 127.0.0.1}
   * @param port the port, or 0 for any free one
   * @return the running server
   * @throws IllegalStateException naming the port when it cannot be bound
   */
  public static WebServer start(String host, int port) {
    try {
      HttpServer s = HttpServer.create(new InetSocketAddress(host, port), 64);
      ExecutorService pool = Executors.newFixedThreadPool(4, Threads.named("skiff-web"));
      s.setExecutor(pool);
      WebServer w = new WebServer(s, pool);
      s.createContext("/", w::index);
      s.start();
      return w;
    } catch (IOException e) {
      throw new IllegalStateException("cannot serve HTTP on " + host + ":" + port + ": " + e.getMessage(), e);
    }
  }

  /** @return the port it listens on */
  public int port() {
    return server.getAddress().getPort();
  }

  /**
   * Mounts a handler under a path.
   *
   * @param path e.g. {@code /monitoring}; requests to it and below go to the handler
   * @param title what the index page calls it, or null to leave it off the index
   * @param handler the handler
   */
  public void mount(String path, String title, HttpHandler handler) {
    server.createContext(path, exchange -> {
      try {
        handler.handle(exchange);
      } catch (RuntimeException | IOException e) {
        log.warn("{} {} failed", exchange.getRequestMethod(), exchange.getRequestURI(), e);
        send(exchange, 500, "text/plain", "internal error: " + e.getClass().getSimpleName());
      }
    });
    if (title != null) {
      titles.put(path, title);
    }
  }

  private void index(HttpExchange exchange) throws IOException {
    if (!exchange.getRequestURI().getPath().equals("/")) {
      send(exchange, 404, "text/plain", "not found: " + exchange.getRequestURI().getPath());
      return;
    }
    StringBuilder html = new StringBuilder("<!doctype html><html><head><meta charset=\"utf-8\"><title>Skiff kernel</title>"
        + "<style>body{font-family:system-ui,sans-serif;margin:2em}a{display:block;margin:.4em 0}</style></head><body>"
        + "<h1>Skiff kernel</h1>");
    titles.forEach((path, title) -> html.append("<a href=\"").append(path).append("\">").append(escape(title)).append("</a>"));
    html.append("</body></html>");
    send(exchange, 200, "text/html; charset=utf-8", html.toString());
  }

  /**
   * Sends a whole response.
   *
   * @param exchange the exchange
   * @param status the HTTP status
   * @param contentType the content type
   * @param body the body
   * @throws IOException if the client went away
   */
  public static void send(HttpExchange exchange, int status, String contentType, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", contentType);
    exchange.getResponseHeaders().set("Cache-Control", "no-store");
    exchange.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }

  /**
   * Escapes text for HTML.
   *
   * @param s the text
   * @return the escaped text
   */
  public static String escape(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;").replace("'", "&#39;");
  }

  @Override
  public void close() {
    server.stop(0);
    pool.shutdownNow();
  }
}
