package dev.skiff.newservice;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.skiff.testing.Processes;
import dev.skiff.testing.RabbitMqExtension;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 19's "must show", as a newcomer would do it: {@code skiff new com.example.payments} (the real
 * bin/skiff), then the README's own lines: {@code mvn package} (offline: {@link GeneratedBuild}), the
 * jar started against the test broker, and the README's {@code skiff call com.example.payments ...}
 * line run as written by a shell; its tests must have run (a count above zero) and passed. The same for
 * {@code mvn archetype:generate}, whose project must be the very same files. Runs in {@code verify},
 * after {@code package} built every Skiff artifact and bin/skiff's jar. The figures (command to a
 * successful call, the unit tests' time, the poms' lengths) go to target/it/figures.txt and
 * docs/writing-services.md.
 */
class NewServiceIT {
  @RegisterExtension static final RabbitMqExtension broker = RabbitMqExtension.create();

  static final String SERVICE = "com.example.payments";
  static final Duration HANG = Duration.ofSeconds(90);

  @TempDir static Path tmp;
  static Path root;
  static Path work;
  static GeneratedBuild maven;
  final List<Process> started = new ArrayList<>();

  record Run(int exitCode, String out, String err) {
    @Override
    public String toString() {
      return "exit " + exitCode + "\n--- stdout\n" + out + "--- stderr\n" + err;
    }
  }

  @BeforeAll
  static void repository() throws IOException {
    root = Path.of(System.getProperty("skiff.root", "..")).toAbsolutePath().normalize();
    work = Path.of(System.getProperty("skiff.work", "target/it")).toAbsolutePath();
    Files.createDirectories(work);
    maven = new GeneratedBuild(root, System.getProperty("skiff.version"), Path.of(System.getProperty("skiff.maven.cache")),
        Path.of(System.getProperty("skiff.maven.home")), work);
  }

  @AfterEach
  void stop() throws InterruptedException {
    Processes.stopAll(started);
  }

  @Test
  void skiffNewMakesAServiceThatBuildsPassesItsTestsRunsAndAnswers() throws Exception {
    long start = System.nanoTime();
    Path project = tmp.resolve("new").resolve("payments");
    Files.createDirectories(project.getParent());
    Run made = shell(project.getParent(), "skiff-new", Map.of(), "skiff new " + SERVICE + " --dir payments");
    assertThat(made.exitCode()).as(made.toString()).isZero();
    assertThat(made.out()).contains("made " + SERVICE + " in payments");

    GeneratedBuild.Tests tests = buildRunAndCall(project, "new");
    double toCall = (System.nanoTime() - start) / 1e9;
    figures("skiff new", toCall, tests, project);
  }

  @Test
  void theArchetypeMakesTheSameProject() throws Exception {
    long start = System.nanoTime();
    Path into = Files.createDirectories(tmp.resolve("archetype"));
    GeneratedBuild.Run generated = maven.mvn(into, "archetype-generate",
        "org.apache.maven.plugins:maven-archetype-plugin:" + System.getProperty("skiff.archetype.plugin.version") + ":generate",
        "-DinteractiveMode=false", "-DarchetypeGroupId=dev.skiff", "-DarchetypeArtifactId=skiff-service-archetype",
        "-DarchetypeVersion=" + System.getProperty("skiff.version"), "-DgroupId=com.example", "-DartifactId=payments");
    assertThat(generated.exitCode()).as(generated.output()).isZero();
    Path project = into.resolve("payments");

    Path reference = tmp.resolve("reference").resolve("payments");
    Files.createDirectories(reference.getParent());
    Run made = shell(reference.getParent(), "skiff-new-reference", Map.of(), "skiff new " + SERVICE + " --dir payments");
    assertThat(made.exitCode()).as(made.toString()).isZero();
    assertThat(files(project)).as("the archetype's project beside skiff new's").isEqualTo(files(reference));

    GeneratedBuild.Tests tests = buildRunAndCall(project, "archetype");
    double toCall = (System.nanoTime() - start) / 1e9;
    figures("mvn archetype:generate", toCall, tests, project);
  }

  @Test
  void theArchetypeRefusesANameThatIsNotAJavaPackageAsSkiffNewDoes() throws Exception {
    Path into = Files.createDirectories(tmp.resolve("archetype-refused"));
    GeneratedBuild.Run generated = maven.mvn(into, "archetype-refused",
        "org.apache.maven.plugins:maven-archetype-plugin:" + System.getProperty("skiff.archetype.plugin.version") + ":generate",
        "-DinteractiveMode=false", "-DarchetypeGroupId=dev.skiff", "-DarchetypeArtifactId=skiff-service-archetype",
        "-DarchetypeVersion=" + System.getProperty("skiff.version"), "-DgroupId=com.example", "-DartifactId=order-history");
    assertThat(generated.exitCode()).as(generated.output()).isNotZero();
    assertThat(generated.output()).contains("is not a name skiff new makes a project of", "order_history");
    assertThat(into.resolve("order-history")).as("nothing kept").doesNotExist();
  }

  /**
   * The options: {@code skiff new com.example.checkout --cassandra --calls com.example.payments} builds
   * and passes its tests, on the real Cassandra (SKIFF_CASSANDRA_HOSTS, from scripts/test.sh) and with
   * a stand-in for payments, once payments' messages are installed (in the generated builds' own local
   * repository) as its README says. About a minute and a half (two more builds, a keyspace created), so
   * on demand: {@code -Dskiff.new.options=true}.
   */
  @Test
  @EnabledIfSystemProperty(named = "skiff.new.options", matches = "true")
  void theOptionsMakeAServiceOnCassandraThatCallsAnother() throws Exception {
    assertThat(System.getenv("SKIFF_CASSANDRA_HOSTS")).as("SKIFF_CASSANDRA_HOSTS: run with scripts/test.sh").isNotBlank();
    Path dir = Files.createDirectories(tmp.resolve("options"));
    Run payments = shell(dir, "options-payments", Map.of(), "skiff new " + SERVICE);
    assertThat(payments.exitCode()).as(payments.toString()).isZero();
    GeneratedBuild.Run installed = maven.mvn(dir.resolve("payments"), "options-payments-install", "-q", "install", "-pl", "api", "-am");
    assertThat(installed.exitCode()).as("payments' messages installed; log " + installed.log()).isZero();

    Run checkout = shell(dir, "options-checkout", Map.of(), "skiff new com.example.checkout --cassandra --calls " + SERVICE);
    assertThat(checkout.exitCode()).as(checkout.toString()).isZero();
    Path project = dir.resolve("checkout");
    assertThat(project.resolve("service/src/main/resources/cassandra/checkout/V1__create_greetings.cql")).isRegularFile();
    GeneratedBuild.Run built = maven.mvn(project, "options-checkout-test", "test");
    assertThat(built.exitCode()).as("checkout mvn test; log " + built.log()).isZero();
    GeneratedBuild.Tests tests = GeneratedBuild.tests(project.resolve("service"));
    assertThat(tests.run()).as("checkout's unit tests, the Cassandra and deadline ones among them").isEqualTo(5);
    assertThat(tests.failed()).isZero();
  }

  /** The README's steps: build, run the jar, call it with its own skiff call line. */
  private GeneratedBuild.Tests buildRunAndCall(Path project, String tag) throws Exception {
    String readme = Files.readString(project.resolve("README.md"));
    GeneratedBuild.Run built = maven.mvn(project, tag + "-package", "package");
    assertThat(built.exitCode()).as(tag + " mvn package; log " + built.log()).isZero();
    GeneratedBuild.Tests tests = GeneratedBuild.tests(project.resolve("service"));
    assertThat(tests.run()).as("unit tests run by mvn package").isPositive();
    assertThat(tests.failed()).isZero();

    String jarLine = line(readme, "java -jar service/target/payments.jar");
    started.add(start(project, tag + "-service", Map.of("SKIFF_AMQP_URI", broker.amqpUri()), "exec " + jarLine));

    String callLine = line(readme, "skiff call " + SERVICE + " ");
    Run answer = await().atMost(HANG).pollInterval(Duration.ofMillis(500))
        .until(() -> shell(project, tag + "-call", Map.of(), callLine), r -> r.exitCode() == 0);
    assertThat(answer.out()).contains("\"greeting\": \"Hello, Ada!\"");

    Run bad = shell(project, tag + "-bad-call", Map.of(), "skiff call " + SERVICE + " hello '{\"name\": \"\"}'");
    assertThat(bad.exitCode()).as(bad.toString()).isEqualTo(1);
    assertThat(bad.err()).startsWith("BAD_REQUEST: name is required");

    // over HTTP: the README's gateway line and its curl line, on a free port instead of 8080
    int port;
    try (java.net.ServerSocket free = new java.net.ServerSocket(0)) {
      port = free.getLocalPort();
    }
    started.add(start(project, tag + "-gateway", Map.of("SKIFF_GATEWAY_PORT", Integer.toString(port)),
        "exec " + line(readme, "skiff gateway").replaceAll("\\s+#.*", "")));
    String curlLine = line(readme, "curl -s localhost:8080/v1/payments/hello ").replace("localhost:8080", "localhost:" + port);
    Run overHttp = await().atMost(HANG).pollInterval(Duration.ofMillis(500))
        .until(() -> shell(project, tag + "-curl", Map.of(), curlLine), r -> r.out().contains("greeting"));
    assertThat(overHttp.out()).isEqualTo("{\"greeting\":\"Hello, Ada!\"}");
    return tests;
  }

  /** @return the README's line that starts with {@code prefix}: what its reader would paste */
  private static String line(String readme, String prefix) {
    return readme.lines().filter(l -> l.startsWith(prefix)).findFirst()
        .orElseThrow(() -> new AssertionError("the README has no line starting with '" + prefix + "':\n" + readme));
  }

  private static Map<String, String> files(Path dir) throws IOException {
    Map<String, String> m = new TreeMap<>();
    try (Stream<Path> all = Files.walk(dir)) {
      for (Path p : all.filter(Files::isRegularFile).toList()) {
        m.put(dir.relativize(p).toString(), Files.readString(p));
      }
    }
    return m;
  }

  /** A shell line, as typed, with bin/ (skiff) on the PATH and the broker of the tests. */
  private Process start(Path dir, String name, Map<String, String> env, String line) throws IOException {
    ProcessBuilder pb = new ProcessBuilder("bash", "-c", line).directory(dir.toFile())
        .redirectOutput(work.resolve(name + ".out").toFile()).redirectError(work.resolve(name + ".err").toFile());
    pb.environment().remove("SKIFF_JAVA_OPTS");
    pb.environment().put("PATH", root.resolve("bin") + ":" + System.getenv("PATH"));
    pb.environment().put("SKIFF_AMQP_URI", broker.amqpUri());
    pb.environment().putAll(env);
    return pb.start();
  }

  private Run shell(Path dir, String name, Map<String, String> env, String line) throws IOException, InterruptedException {
    Process p = start(dir, name, env, line);
    if (!p.waitFor(60, TimeUnit.SECONDS)) { // only stops a hung command
      p.destroyForcibly();
      throw new AssertionError(line + " did not finish in 60 s");
    }
    return new Run(p.exitValue(), Files.readString(work.resolve(name + ".out")), Files.readString(work.resolve(name + ".err")));
  }

  private static void figures(String how, double toCall, GeneratedBuild.Tests tests, Path project) throws IOException {
    String line = String.format("%s: %.1f s from the command to a successful skiff call; unit tests %d in %.2f s;"
            + " pom lines: project %d, api %d, service %d%n",
        how, toCall, tests.run(), tests.seconds(), lines(project.resolve("pom.xml")), lines(project.resolve("api/pom.xml")),
        lines(project.resolve("service/pom.xml")));
    System.out.print(line);
    Files.writeString(work.resolve("figures.txt"), line, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
  }

  private static long lines(Path file) throws IOException {
    return Files.readString(file).lines().count();
  }
}
