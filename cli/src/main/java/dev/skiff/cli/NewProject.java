package dev.skiff.cli;

import dev.skiff.platform.Names;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.reflect.Modifier;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.stream.Stream;
import javax.lang.model.SourceVersion;

/**
 * The project {@code skiff new} writes: the names it derives from the service's name, and the files of
 * the template (the archetype's, listed in {@code template.files}) rendered with them.
 *
 * <p>From {@code com.example.payments}: group {@code com.example}, artifact {@code payments}, Java package
 * {@code com.example.payments}, main class {@code Payments}. The project is written beside its
 * destination first and moved there in one step, so a failure leaves no half-made project and an
 * existing folder is never written into.
 */
final class NewProject {
  /** The version of the project made. */
  static final String PROJECT_VERSION = "1.0.0-SNAPSHOT";
  private static final String TEMPLATE = "template/";
  private static final String FILES = "template.files";

  /**
   * The simple names of the types the template's Java sources use, other than {@code java.lang}'s: those
   * they import, declare or name. A main class (or its test class) of one of these names, ignoring case,
   * would not compile, or would clash with another file on a case-insensitive file system; so would one
   * named as a public type of {@code java.lang} ({@link #javaLangTypes()}). {@code NewCommandTest} fails if
   * a template starts using a name not here; the archetype's {@code archetype-post-generate.groovy} holds
   * the same list (checked by the same test).
   */
  static final List<String> TEMPLATE_TYPES = List.of(
      "AfterAll", "Assertions", "AtomicLong", "AtomicReference", "BeforeAll", "Builder", "CallOptions",
      "CassandraClient", "CassandraSession", "ChronoUnit", "Duration", "ErrorCode", "HealthCheck",
      "HealthCheckRegistry", "HelloRequest", "HelloResponse", "InProcessSkiff", "Instant", "LayeredConfig", "Map",
      "MetricRegistry", "PlatformHealth", "Query", "ReadyCheck", "Result", "Server", "ServerBuilder",
      "SkiffException", "SkiffService", "Test", "UUID");

  private final Map<String, String> properties;
  private final String packagePath;

  /**
   * @param service the service's name
   * @param skiffVersion the Skiff the project is built on
   * @param cassandra whether the service keeps its data in Cassandra
   * @param calls the service it calls, or null
   * @throws IllegalArgumentException if a name is not a valid service name or Java package, saying why
   */
  NewProject(String service, String skiffVersion, boolean cassandra, String calls) {
    if (skiffVersion.isBlank() || skiffVersion.contains(" ")) {
      throw new IllegalStateException("this skiff does not know its version ('" + skiffVersion + "'): build it with Maven");
    }
    checkName("service", service);
    checkClassName(service);
    if (calls != null) {
      checkName("--calls", calls);
      if (calls.equals(service)) {
        throw new IllegalArgumentException("--calls " + calls + ": a service that calls itself would wait for itself");
      }
    }
    Map<String, String> p = new LinkedHashMap<>();
    p.put("service", service);
    p.put("package", service);
    p.put("groupId", group(service));
    p.put("artifactId", last(service));
    p.put("version", PROJECT_VERSION);
    p.put("className", className(last(service)));
    p.put("skiffVersion", skiffVersion);
    p.put("cassandra", String.valueOf(cassandra));
    p.put("calling", String.valueOf(calls != null));
    p.put("calls", calls == null ? "" : calls);
    p.put("callsPackage", calls == null ? "" : calls);
    p.put("callsGroupId", calls == null ? "" : group(calls));
    p.put("callsArtifactId", calls == null ? "" : last(calls));
    p.put("callsVersion", PROJECT_VERSION);
    p.put("underline", "=".repeat(service.length()));
    this.properties = Map.copyOf(p);
    this.packagePath = service.replace('.', '/');
  }

  /** @return the folder name a project is made in when none is given: the service name's last part */
  String defaultFolder() {
    return properties.get("artifactId");
  }

  /** @return the names the template is rendered with */
  Map<String, String> properties() {
    return properties;
  }

  /**
   * Writes the project into {@code dir}, which must not exist.
   *
   * @param dir where
   * @return the files written, relative to {@code dir}, in the template's order
   * @throws FileAlreadyExistsException if {@code dir} exists (nothing is written)
   * @throws NotDirectoryException if a folder {@code dir} would be in is a file (nothing is written)
   * @throws IOException if writing fails (nothing is left behind)
   */
  List<Path> writeTo(Path dir) throws IOException {
    Path target = dir.toAbsolutePath().normalize();
    if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
      throw new FileAlreadyExistsException(target.toString(), null, "already exists");
    }
    Path parent = Objects.requireNonNull(target.getParent(), "a project folder needs a parent folder");
    for (Path p = parent; p != null; p = p.getParent()) {
      if (Files.exists(p)) {
        if (!Files.isDirectory(p)) {
          throw new NotDirectoryException(p.toString());
        }
        break;
      }
    }
    Files.createDirectories(parent);
    Path staging = parent.resolve("." + target.getFileName() + ".skiff-new-" + UUID.randomUUID().toString().substring(0, 8));
    List<Path> written = new ArrayList<>();
    try {
      for (TemplateFile f : files()) {
        if (!f.wanted(properties)) {
          continue;
        }
        Path rel = Path.of(Template.substitute(f.target(packagePath), properties));
        Path out = staging.resolve(rel);
        Files.createDirectories(out.getParent());
        Files.writeString(out, Template.render(f.source(), read(f.source()), properties), StandardCharsets.UTF_8);
        written.add(rel);
      }
      Files.move(staging, target); // no REPLACE_EXISTING: a folder made meanwhile is not overwritten
      return written;
    } finally {
      deleteIfPresent(staging);
    }
  }

  /** One line of {@code template.files}: a path, with {@code @/} where the package's folders go, and an optional condition. */
  record TemplateFile(String path, String condition) {
    String source() {
      return path.replace("@/", "");
    }

    String target(String packagePath) {
      String p = path.replace("@/", packagePath + "/");
      // __name__ in a file name is the archetype's form of ${name}
      return p.replaceAll("__([A-Za-z][A-Za-z0-9]*)__", "\\${$1}");
    }

    boolean wanted(Map<String, String> properties) {
      return switch (condition) {
        case "" -> true;
        case "cassandra" -> properties.get("cassandra").equals("true");
        case "calls" -> properties.get("calling").equals("true");
        default -> throw new IllegalStateException("template.files: unknown condition '" + condition + "'");
      };
    }
  }

  /** @return every line of {@code template.files} */
  static List<TemplateFile> files() {
    List<TemplateFile> files = new ArrayList<>();
    for (String line : read(FILES).split("\n")) {
      String t = line.strip();
      if (t.isEmpty() || t.startsWith("#")) {
        continue;
      }
      String[] parts = t.split("\\s+if\\s+", 2);
      files.add(new TemplateFile(parts[0], parts.length == 2 ? parts[1].strip() : ""));
    }
    return files;
  }

  private static String read(String resource) {
    String name = resource.equals(FILES) ? FILES : TEMPLATE + resource;
    try (InputStream in = NewProject.class.getResourceAsStream(name)) {
      if (in == null) {
        throw new IllegalStateException("skiff new's template is missing " + name + " (a broken build of skiff)");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void checkName(String what, String name) {
    if (!Names.isService(name)) {
      throw new IllegalArgumentException(
          what + " '" + name + "' is not a service name: use dot-separated lower-case parts of letters, digits, '_' and '-'"
              + " (at most " + Names.MAX_SERVICE + " characters), e.g. com.example.payments");
    }
    if (!SourceVersion.isName(name, SourceVersion.RELEASE_17)) {
      throw new IllegalArgumentException(
          what + " '" + name + "' is a valid service name but not a Java package, which skiff new makes of it: "
              + "each part must start with a letter and hold no '-' nor be a Java keyword (e.g. com.example.card_payments, "
              + "not com.example.card-payments or com.example.new)");
    }
  }

  /**
   * @param service a valid service name and Java package
   * @throws IllegalArgumentException if its main class or test class would be named as a type the
   *     generated code uses, or a public type of {@code java.lang}, ignoring case
   */
  private static void checkClassName(String service) {
    String className = className(last(service));
    for (String name : List.of(className, className + "Test")) {
      java.util.Optional<String> clash = javaLangTypes().stream().filter(name::equalsIgnoreCase).findFirst()
          .map(t -> "java.lang." + t + ", which Java code sees without an import")
          .or(() -> TEMPLATE_TYPES.stream().filter(name::equalsIgnoreCase).findFirst().map(t -> t + ", a type the generated code uses"));
      if (clash.isPresent()) {
        throw new IllegalArgumentException(
            "service '" + service + "' would make the class " + name + ", the same name (ignoring case) as " + clash.get()
                + ": the project would not build; choose another last part, e.g. " + group(service)
                + (service.contains(".") ? "." : "") + last(service) + "_service");
      }
    }
  }

  /**
   * @return the simple names of the public top-level types of {@code java.lang} in the running Java (from
   *     its {@code jrt:/} file system), which Java code sees without an import
   */
  static synchronized Set<String> javaLangTypes() {
    if (javaLang == null) {
      Set<String> names = new TreeSet<>();
      Path lang = FileSystems.getFileSystem(URI.create("jrt:/")).getPath("modules", "java.base", "java", "lang");
      try (Stream<Path> files = Files.list(lang)) {
        for (Path f : files.toList()) {
          String file = f.getFileName().toString();
          if (!file.endsWith(".class") || file.contains("$") || file.equals("package-info.class")) {
            continue;
          }
          String name = file.substring(0, file.length() - ".class".length());
          try {
            if (Modifier.isPublic(Class.forName("java.lang." + name, false, null).getModifiers())) {
              names.add(name);
            }
          } catch (ClassNotFoundException | LinkageError e) {
            names.add(name); // cannot tell: refused rather than risk a project that does not compile
          }
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      javaLang = Set.copyOf(names);
    }
    return javaLang;
  }

  private static Set<String> javaLang;

  private static String group(String service) {
    int dot = service.lastIndexOf('.');
    return dot < 0 ? service : service.substring(0, dot);
  }

  private static String last(String service) {
    return service.substring(service.lastIndexOf('.') + 1);
  }

  /** The archetype's rule too: the last part with its first letter in upper case. */
  private static String className(String last) {
    return Character.toUpperCase(last.charAt(0)) + last.substring(1);
  }

  private static void deleteIfPresent(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> all = Files.walk(dir)) {
      for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }
}
