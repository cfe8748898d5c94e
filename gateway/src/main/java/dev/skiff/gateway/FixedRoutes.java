package dev.skiff.gateway;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * A fixed list of routes the gateway itself declares under a path prefix of its own (the admin routes, the
 * sign-in routes), matched in order: which paths are theirs, what a request's method and path find, and
 * which methods a path has. Immutable, thread-safe.
 */
final class FixedRoutes {
  private final String prefix;
  private final List<Route> routes;

  /**
   * @param prefix the prefix every path of theirs starts with: {@code /name/}
   * @param routes the routes, in the order they are tried
   */
  FixedRoutes(String prefix, List<Route> routes) {
    this.prefix = prefix;
    this.routes = List.copyOf(routes);
  }

  /** @return whether the path is under the prefix (such a path never reaches a service's route) */
  boolean covers(String path) {
    return path.startsWith(prefix) || path.equals(prefix.substring(0, prefix.length() - 1));
  }


  /**
   * @param method the request's method
   * @param path its path, still percent-encoded
   * @return the first route that matches (always live: its service is the kernel's)
   * @throws IllegalArgumentException when the path is malformed (a bad percent-encoding)
   */
  Optional<RouteTable.Match> find(String method, String path) {
    for (Route r : routes) {
      if (r.method().equals(method)) {
        Optional<Map<String, String>> values = r.template().match(path);
        if (values.isPresent()) {
          return Optional.of(new RouteTable.Match(r, values.get(), true));
        }
      }
    }
    return Optional.empty();
  }

  /** @return the routes, in order */
  List<Route> all() {
    return routes;
  }

  /** @return the methods served at the path (for 405's {@code Allow}) */
  Set<String> methodsFor(String path) {
    Set<String> methods = new TreeSet<>();
    for (Route r : routes) {
      if (r.template().match(path).isPresent()) {
        methods.add(r.method());
      }
    }
    return methods;
  }
}
