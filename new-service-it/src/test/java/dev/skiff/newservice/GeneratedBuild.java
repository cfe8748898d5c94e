package dev.skiff.newservice;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Maven for a generated project, as its author would run it, but on this build's artifacts: nobody may
 * {@code mvn install} Skiff into the shared local repository, so the generated builds get a local
 * repository of their own (under target/) holding the Skiff artifacts this build just packaged, and read
 * every other artifact from this build's local repository as a {@code file://} mirror. They run offline
 * ({@code -o}, with only the {@code file} protocol allowed), so they prove that a project builds with
 * nothing but what is cached.
 */
final class GeneratedBuild {
  /** The Skiff artifacts a generated project needs: module folder, artifact id, packaging. */
  private static final List<String[]> SKIFF = List.of(
      new String[] {".", "skiff-parent", "pom"},
      new String[] {"bom", "skiff-bom", "pom"},
      new String[] {"service-parent", "skiff-service-parent", "pom"},
      new String[] {"proto", "skiff-proto", "jar"},
      new String[] {"platform-layer", "skiff-platform", "jar"},
      new String[] {"testing", "skiff-testing", "jar"},
      new String[] {"service-layer", "skiff-service-layer", "jar"},
      new String[] {"archetype", "skiff-service-archetype", "jar"});

  /** What one Maven run did. */
  record Run(int exitCode, Path log) {
    String output() throws IOException {
      return Files.readString(log);
    }
  }

  /** Surefire's counts over a project's reports. */
  record Tests(int run, int failed, double seconds) {}

  private final Path root;
  private final String version;
  private final Path work;
  private final Path settings;
  private final Path mvn;

  /**
   * @param root the Skiff checkout
   * @param version the Skiff version being built
   * @param cache this build's local repository
   * @param mavenHome the Maven running this build
   * @param work a folder of this module's target/ for the repository and settings
   */
  GeneratedBuild(Path root, String version, Path cache, Path mavenHome, Path work) throws IOException {
    this.root = root;
    this.version = version;
    this.work = work;
    this.mvn = mavenHome.resolve("bin").resolve("mvn");
    Path repo = work.resolve("repository");
    for (String[] a : SKIFF) {
      install(Path.of(a[0]), a[1], a[2], repo);
    }
    String cacheUrl = cache.toUri().toString();
    String policy = "<releases><checksumPolicy>ignore</checksumPolicy></releases><snapshots><enabled>false</enabled></snapshots>";
    this.settings = work.resolve("settings.xml");
    Files.writeString(settings, """
        <settings>
          <localRepository>%s</localRepository>
          <mirrors><mirror><id>cache</id><mirrorOf>*</mirrorOf><url>%s</url></mirror></mirrors>
          <profiles><profile><id>cache</id>
            <repositories><repository><id>central</id><url>%s</url>%s</repository></repositories>
            <pluginRepositories><pluginRepository><id>central</id><url>%s</url>%s</pluginRepository></pluginRepositories>
          </profile></profiles>
          <activeProfiles><activeProfile>cache</activeProfile></activeProfiles>
        </settings>
        """.formatted(repo, cacheUrl, cacheUrl, policy, cacheUrl, policy), StandardCharsets.UTF_8);
  }

  /** Puts a module's packaged artifact and its pom where a local repository has them. */
  private void install(Path module, String artifactId, String packaging, Path repo) throws IOException {
    Path dir = repo.resolve("dev/skiff").resolve(artifactId).resolve(version);
    Files.createDirectories(dir);
    Path from = root.resolve(module);
    Files.copy(from.resolve("pom.xml"), dir.resolve(artifactId + "-" + version + ".pom"), StandardCopyOption.REPLACE_EXISTING);
    if (packaging.equals("jar")) {
      Path jar = from.resolve("target").resolve(artifactId + "-" + version + ".jar");
      if (!Files.isRegularFile(jar)) {
        throw new IllegalStateException(jar + " is missing: this module's tests run after `package` of the whole build");
      }
      Files.copy(jar, dir.resolve(artifactId + "-" + version + ".jar"), StandardCopyOption.REPLACE_EXISTING);
    }
  }

  /**
   * Runs Maven offline in {@code dir}.
   *
   * @param dir the project (or, for archetype:generate, where it goes)
   * @param name names the log file
   * @param args goals and options
   * @return the exit code and the log
   */
  Run mvn(Path dir, String name, String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of(mvn.toString(), "-B", "-ntp", "-o", "-Daether.offline.protocols=file", "-s", settings.toString()));
    cmd.addAll(List.of(args));
    Path log = work.resolve(name + ".log");
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().remove("MAVEN_ARGS");
    Process p = pb.start();
    if (!p.waitFor(10, TimeUnit.MINUTES)) { // only stops a hung build
      p.destroyForcibly();
      throw new AssertionError("mvn " + args[0] + " did not finish in 10 minutes; see " + log);
    }
    return new Run(p.exitValue(), log);
  }

  /**
   * @param module a built module
   * @return surefire's counts over its reports
   */
  static Tests tests(Path module) throws IOException {
    Path reports = module.resolve("target/surefire-reports");
    Pattern suite = Pattern.compile("<testsuite [^>]*");
    int run = 0;
    int failed = 0;
    double seconds = 0;
    if (!Files.isDirectory(reports)) {
      return new Tests(0, 0, 0);
    }
    try (Stream<Path> files = Files.list(reports)) {
      for (Path f : files.filter(p -> p.getFileName().toString().matches("TEST-.*\\.xml")).toList()) {
        Matcher m = suite.matcher(Files.readString(f));
        if (m.find()) {
          Map<String, String> a = attributes(m.group());
          run += Integer.parseInt(a.get("tests"));
          failed += Integer.parseInt(a.get("failures")) + Integer.parseInt(a.get("errors"));
          seconds += Double.parseDouble(a.get("time"));
        }
      }
    }
    return new Tests(run, failed, seconds);
  }

  private static Map<String, String> attributes(String tag) {
    Map<String, String> a = new java.util.HashMap<>();
    Matcher m = Pattern.compile("(\\w+)=\"([^\"]*)\"").matcher(tag);
    while (m.find()) {
      a.put(m.group(1), m.group(2));
    }
    return a;
  }
}
