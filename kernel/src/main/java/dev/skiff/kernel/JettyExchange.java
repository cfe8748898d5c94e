package dev.skiff.kernel;

import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpContext;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpPrincipal;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;

/**
 * One Jetty request seen as the JDK's {@link HttpExchange}, so that the kernel's page handlers, written
 * against {@code com.sun.net.httpserver}, run unchanged on Jetty. The response is streamed: status and
 * headers go out on {@link #sendResponseHeaders}, the body through {@link #getResponseBody()}. Not
 * thread-safe: one request, one thread.
 */
final class JettyExchange extends HttpExchange {
  private final Request request;
  private final Response response;
  private final URI uri;
  private final Headers requestHeaders = new Headers();
  private final Headers responseHeaders = new Headers();
  private final Map<String, Object> attributes = new ConcurrentHashMap<>();
  private InputStream in;
  private OutputStream out;
  private int status = -1;

  /**
   * @param request the request
   * @param response its response
   * @param uri the request's path and query (what the JDK server gives as the request URI)
   */
  JettyExchange(Request request, Response response, URI uri) {
    this.request = request;
    this.response = response;
    this.uri = uri;
    for (HttpField f : request.getHeaders()) {
      requestHeaders.add(f.getName(), f.getValue());
    }
  }

  /** @return the Jetty request */
  Request request() {
    return request;
  }

  @Override
  public Headers getRequestHeaders() {
    return requestHeaders;
  }

  @Override
  public Headers getResponseHeaders() {
    return responseHeaders;
  }

  @Override
  public URI getRequestURI() {
    return uri;
  }

  @Override
  public String getRequestMethod() {
    return request.getMethod();
  }

  /** @return null: the kernel's handlers are mounted on {@link WebServer}, not on JDK contexts */
  @Override
  public HttpContext getHttpContext() {
    return null;
  }

  @Override
  public void close() {
    // read what the handler left of the body (at most WebServer.MAX_BODY_BYTES), so that the connection can
    // serve the client's next request rather than be closed under it
    try (InputStream rest = getRequestBody()) {
      rest.transferTo(OutputStream.nullOutputStream());
    } catch (IOException | RuntimeException e) {
      // over the size limit, or the client went away: Jetty closes the connection after the response
    }
    try {
      if (status < 0) {
        sendResponseHeaders(500, -1);
      }
      getResponseBody().close();
    } catch (IOException e) {
      // the client went away; Jetty closes the connection
    }
  }

  @Override
  public InputStream getRequestBody() {
    if (in == null) {
      in = Content.Source.asInputStream(request);
    }
    return in;
  }

  @Override
  public OutputStream getResponseBody() {
    if (out == null) {
      out = Content.Sink.asOutputStream(response);
    }
    return out;
  }

  @Override
  public void sendResponseHeaders(int code, long length) throws IOException {
    if (status >= 0) {
      throw new IOException("headers already sent");
    }
    status = code;
    response.setStatus(code);
    for (Map.Entry<String, List<String>> h : responseHeaders.entrySet()) {
      // the handler's value replaces the server's default of the same name (Cache-Control); several values stay
      response.getHeaders().remove(h.getKey());
      for (String v : h.getValue()) {
        response.getHeaders().add(h.getKey(), v);
      }
    }
    if (length > 0) {
      response.getHeaders().put(HttpHeader.CONTENT_LENGTH, length);
    } else if (length < 0) {
      response.getHeaders().put(HttpHeader.CONTENT_LENGTH, 0L);
    }
  }

  /** @return whether the status and headers went out */
  boolean sent() {
    return status >= 0;
  }

  @Override
  public InetSocketAddress getRemoteAddress() {
    return inet(request.getConnectionMetaData().getRemoteSocketAddress());
  }

  @Override
  public int getResponseCode() {
    return status;
  }

  @Override
  public InetSocketAddress getLocalAddress() {
    return inet(request.getConnectionMetaData().getLocalSocketAddress());
  }

  private static InetSocketAddress inet(SocketAddress a) {
    return a instanceof InetSocketAddress i ? i : null;
  }

  @Override
  public String getProtocol() {
    return request.getConnectionMetaData().getProtocol();
  }

  @Override
  public Object getAttribute(String name) {
    return attributes.get(name);
  }

  @Override
  public void setAttribute(String name, Object value) {
    if (value == null) {
      attributes.remove(name);
    } else {
      attributes.put(name, value);
    }
  }

  @Override
  public void setStreams(InputStream i, OutputStream o) {
    if (i != null) {
      in = i;
    }
    if (o != null) {
      out = o;
    }
  }

  /** @return null: people are told apart by {@link WebServer#user(HttpExchange)} */
  @Override
  public HttpPrincipal getPrincipal() {
    return null;
  }
}
