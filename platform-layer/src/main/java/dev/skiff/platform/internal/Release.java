package dev.skiff.platform.internal;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/**
 * The release of Skiff this code is, from a resource Maven fills in at build time: the version Skiff's own
 * services (the kernel's, the gateway) announce, and what {@code skiff --version} prints. Not API.
 */
public final class Release {
  /** What is reported when the resource is missing or was not filled in (classes run from an IDE's build). */
  public static final String UNKNOWN = "0.0.0-unknown";

  private static final String VERSION = read();

  private Release() {}

  /** @return this build's version, e.g. {@code 0.1.0-SNAPSHOT}, or {@link #UNKNOWN} */
  public static String version() {
    return VERSION;
  }

  private static String read() {
    Properties p = new Properties();
    try (InputStream in = Release.class.getResourceAsStream("release.properties")) {
      if (in != null) {
        p.load(in);
      }
    } catch (IOException e) {
      return UNKNOWN;
    }
    String v = p.getProperty("version", "").strip();
    return v.isEmpty() || v.startsWith("${") ? UNKNOWN : v;
  }
}
