package dev.skiff.kernel;

import dev.skiff.platform.Names;
import dev.skiff.platform.internal.Printable;

/** What a kernel service answers for a service name that is not one ({@link Names#isService}). */
public final class ServiceNameRefusal {
  private ServiceNameRefusal() {}

  /**
   * @param name an untrusted name that is not a service name
   * @return a sentence saying so, the name escaped, and what a service name looks like
   */
  public static String of(String name) {
    return "'" + Printable.of(name) + "' is not a service name (dot-separated lower-case parts, e.g. com.example.greeter)";
  }
}
