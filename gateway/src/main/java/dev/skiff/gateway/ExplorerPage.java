package dev.skiff.gateway;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The API explorer ({@code GET /explorer}): a page that lists every route the gateway serves now, from
 * {@code /openapi.json}, and sends a request filled in by a person through the gateway, showing the answer.
 * Three static files; the script renders the routes with DOM methods only (every name in them came from a
 * service's announcement) and they are served under a Content-Security-Policy that allows scripts, styles
 * and requests from the gateway's own origin only.
 */
final class ExplorerPage {
  /** The policy of the explorer's files: its own script, style and requests, nothing else. */
  static final String CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
      + "frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

  /**
   * Where browsers ask for a site's icon on every page: answered 204 (none), not a 404 in their console.
   * Like the explorer's paths, no route may claim it.
   */
  static final String FAVICON = "/favicon.ico";

  /** One file: its content type and bytes. */
  record Asset(String contentType, byte[] bytes) {}

  private static final Map<String, Asset> ASSETS = Map.of(
      "/explorer", load("explorer.html", "text/html; charset=utf-8"),
      "/explorer.js", load("explorer.js", "text/javascript; charset=utf-8"),
      "/explorer.css", load("explorer.css", "text/css; charset=utf-8"));

  /** The explorer's files' paths and {@link #FAVICON}. */
  private static final Set<String> PATHS = java.util.stream.Stream.concat(ASSETS.keySet().stream(), java.util.stream.Stream.of(FAVICON))
      .collect(java.util.stream.Collectors.toUnmodifiableSet());

  private ExplorerPage() {}

  /** @return the paths the explorer's files are served at, and {@link #FAVICON} */
  static Set<String> paths() {
    return PATHS;
  }

  /**
   * @param path a request's path
   * @return the explorer's file at that path, if it is one
   */
  static Optional<Asset> asset(String path) {
    return Optional.ofNullable(ASSETS.get(path));
  }

  private static Asset load(String name, String type) {
    try (InputStream in = ExplorerPage.class.getResourceAsStream("explorer/" + name)) {
      if (in == null) {
        throw new IllegalStateException("the gateway's jar has no explorer/" + name);
      }
      return new Asset(type, in.readAllBytes());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
