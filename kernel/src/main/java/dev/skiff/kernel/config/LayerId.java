package dev.skiff.kernel.config;

import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.internal.Printable;
import dev.skiff.platform.security.Role;
import java.util.List;
import java.util.regex.Pattern;

/**
 * One layer of the configuration hierarchy, in the order they merge (a later one wins at a leaf): global;
 * service; region; region and service; environment; environment and service. Names are checked as hostile
 * input. Immutable.
 *
 * @param service the service, or null
 * @param region the region, or null
 * @param env the environment, or null
 */
record LayerId(String service, String region, String env) {
  /** Letters, digits, {@code . _ -}, starting with a letter or digit: what a service name, region or environment is. */
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

  /** The global layer. */
  static final LayerId GLOBAL = new LayerId(null, null, null);

  /** Checks the names and the combination. */
  LayerId {
    check("service", service);
    check("region", region);
    check("env", env);
    if (region != null && env != null) {
      throw bad("a layer is of a region or of an environment, not both");
    }
  }

  /**
   * @param service the service, or empty/null
   * @param region the region, or empty/null
   * @param env the environment, or empty/null
   * @return the layer
   * @throws SkiffException BAD_REQUEST naming what is invalid
   */
  static LayerId of(String service, String region, String env) {
    return new LayerId(blankToNull(service), blankToNull(region), blankToNull(env));
  }

  /**
   * The layers an instance of a service in a region and an environment sees, lowest first: unlike a
   * layer, an instance may have both a region and an environment ({@code SKIFF_REGION} and
   * {@code SKIFF_ENV}).
   *
   * @param service the service, or empty/null
   * @param region the region, or empty/null
   * @param env the environment, or empty/null
   * @return the layers of its view ({@link #chain})
   * @throws SkiffException BAD_REQUEST naming what is invalid
   */
  static List<LayerId> view(String service, String region, String env) {
    String s = of(service, null, null).service();
    String r = of(null, region, null).region();
    String e = of(null, null, env).env();
    return chain(s, r, e);
  }

  /**
   * @param key a layer's key ({@link #key()})
   * @return the layer
   * @throws SkiffException BAD_REQUEST when it is not a key
   */
  static LayerId parse(String key) {
    if (key.equals("global")) {
      return GLOBAL;
    }
    String[] p = key.split("/", -1);
    if (p.length == 2 && p[0].equals("service")) {
      return new LayerId(p[1], null, null);
    }
    if (p.length == 2 && (p[0].equals("region") || p[0].equals("env"))) {
      return p[0].equals("region") ? new LayerId(null, p[1], null) : new LayerId(null, null, p[1]);
    }
    if (p.length == 4 && p[2].equals("service") && (p[0].equals("region") || p[0].equals("env"))) {
      return p[0].equals("region") ? new LayerId(p[3], p[1], null) : new LayerId(p[3], null, p[1]);
    }
    throw bad("not a layer: '" + Printable.of(key) + "'");
  }

  /**
   * The layers a service instance in a region and environment sees, lowest first.
   *
   * @param service the service, or null
   * @param region the region, or null
   * @param env the environment, or null
   * @return global, then each more specific layer that applies
   */
  static List<LayerId> chain(String service, String region, String env) {
    List<LayerId> out = new java.util.ArrayList<>(List.of(GLOBAL));
    if (service != null) {
      out.add(new LayerId(service, null, null));
    }
    if (region != null) {
      out.add(new LayerId(null, region, null));
      if (service != null) {
        out.add(new LayerId(service, region, null));
      }
    }
    if (env != null) {
      out.add(new LayerId(null, null, env));
      if (service != null) {
        out.add(new LayerId(service, null, env));
      }
    }
    return out;
  }

  /** @return the layer's key: {@code global}, {@code service/S}, {@code region/R}, {@code region/R/service/S}, {@code env/E}, {@code env/E/service/S} */
  String key() {
    String base = region != null ? "region/" + region : env != null ? "env/" + env : null;
    if (service == null) {
      return base == null ? "global" : base;
    }
    return (base == null ? "" : base + "/") + "service/" + service;
  }

  /**
   * @param changeRole the role changes need
   * @return the role that changes to this layer need: scoped to its service when it is a service's layer
   */
  Role requiredRole(Role changeRole) {
    return service == null ? changeRole : changeRole.scopedTo(service);
  }

  private static void check(String what, String name) {
    if (name != null && !NAME.matcher(name).matches()) {
      throw bad("invalid " + what + " '" + Printable.of(name) + "': 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit");
    }
  }

  private static String blankToNull(String s) {
    return s == null || s.isEmpty() ? null : s;
  }

  private static SkiffException bad(String why) {
    return new SkiffException(ErrorCode.BAD_REQUEST, why);
  }

  @Override
  public String toString() {
    return key();
  }
}
