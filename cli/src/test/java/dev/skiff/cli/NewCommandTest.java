package dev.skiff.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code skiff new}: the names it checks, the folder it never overwrites, the files it writes. */
class NewCommandTest {
  @TempDir Path tmp;

  record Result(int exitCode, String out, String err) {}

  static Result skiff(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = SkiffCli.run(args, new PrintWriter(out), new PrintWriter(err), Map.of());
    return new Result(code, out.toString(), err.toString());
  }

  static List<String> files(Path dir) throws IOException {
    List<String> all = new ArrayList<>();
    try (Stream<Path> s = Files.walk(dir)) {
      s.filter(Files::isRegularFile).forEach(p -> all.add(dir.relativize(p).toString()));
    }
    return all;
  }

  @Test
  void makesTheProjectOfAService() throws IOException {
    Path dir = tmp.resolve("payments");
    Result r = skiff("new", "com.example.payments", "--dir", dir.toString());

    assertThat(r.exitCode()).as(r.err()).isZero();
    assertThat(files(dir)).containsExactlyInAnyOrder(
        "pom.xml", "README.md", ".gitignore", "api/pom.xml", "api/src/main/proto/com/example/payments/payments.proto",
        "service/pom.xml", "service/src/main/java/com/example/payments/Payments.java",
        "service/src/main/java/com/example/payments/ReadyCheck.java", "service/src/main/resources/simplelogger.properties",
        "service/src/test/java/com/example/payments/PaymentsTest.java");
    assertThat(Files.readString(dir.resolve("pom.xml")))
        .contains("<artifactId>skiff-service-parent</artifactId>\n    <version>" + SkiffCli.Version.version() + "</version>")
        .contains("<groupId>com.example</groupId>\n  <artifactId>payments-parent</artifactId>");
    assertThat(Files.readString(dir.resolve("service/pom.xml"))).contains("<main.class>com.example.payments.Payments</main.class>")
        .contains("<artifactId>payments-api</artifactId>").doesNotContain("skiff-service-layer");
    String main = Files.readString(dir.resolve("service/src/main/java/com/example/payments/Payments.java"));
    assertThat(main).startsWith("package com.example.payments;\n")
        .contains("public static final String NAME = \"com.example.payments\";")
        .contains("throw new SkiffException(ErrorCode.BAD_REQUEST, \"name is required\");")
        .contains("service.healthCheck(\"ready\", ready);")
        .doesNotContain("Cassandra").doesNotContain("UPSTREAM").doesNotContain("#if").doesNotContain("#end").doesNotContain("${");
    assertThat(Files.readString(dir.resolve("README.md"))).contains("\nskiff call com.example.payments hello '{\"name\": \"Ada\"}'\n")
        .contains("\nskiff kernel ").contains("\njava -jar service/target/payments.jar\n");
    assertThat(r.out()).contains("made com.example.payments in " + dir).contains("skiff call com.example.payments hello");
  }

  @Test
  void theOptionsAddCassandraAndACallToAnotherService() throws IOException {
    Path dir = tmp.resolve("checkout");
    Result r = skiff("new", "com.example.checkout", "--dir", dir.toString(), "--cassandra", "--calls", "com.example.payments");

    assertThat(r.exitCode()).as(r.err()).isZero();
    assertThat(dir.resolve("service/src/main/resources/cassandra/checkout/V1__create_greetings.cql")).isRegularFile();
    assertThat(Files.readString(dir.resolve("service/pom.xml"))).contains("<artifactId>skiff-service-layer</artifactId>")
        .contains("<groupId>com.example</groupId>\n      <artifactId>payments-api</artifactId>");
    String main = Files.readString(dir.resolve("service/src/main/java/com/example/checkout/Checkout.java"));
    assertThat(main).contains(".migrations(keyspace, \"cassandra/checkout\")")
        .contains("static final String UPSTREAM = \"com.example.payments\";")
        .contains("com.example.payments.api.HelloResponse upstream = ctx.client().call(UPSTREAM")
        .doesNotContain("#if").doesNotContain("${");
    assertThat(Files.readString(dir.resolve("service/src/test/java/com/example/checkout/CheckoutTest.java")))
        .contains("void countsGreetingsInCassandra()").contains("void passesItsDeadlineOn()");
  }

  @Test
  void refusesANameThatIsNotAServiceName() {
    Result r = skiff("new", "Com.Example", "--dir", tmp.resolve("x").toString());

    assertThat(r.exitCode()).isEqualTo(SkiffCli.EXIT_USAGE);
    assertThat(r.err()).startsWith("skiff: service 'Com.Example' is not a service name: use dot-separated lower-case parts");
    assertThat(tmp.resolve("x")).doesNotExist();
  }

  @Test
  void refusesAServiceNameThatIsNoJavaPackage() {
    for (String name : new String[] {"com.example.card-payments", "com.example.new", "com.example.1st"}) {
      Result r = skiff("new", name, "--dir", tmp.resolve("x").toString());
      assertThat(r.exitCode()).as(name).isEqualTo(SkiffCli.EXIT_USAGE);
      assertThat(r.err()).as(name).contains("'" + name + "' is a valid service name but not a Java package");
    }
    assertThat(tmp.resolve("x")).doesNotExist();
  }

  @Test
  void refusesANameWhoseClassIsATypeTheGeneratedCodeUses() {
    for (String name : new String[] {"com.example.string", "com.example.override", "com.example.test", "com.example.server",
        "com.example.readycheck", "com.example.object", "com.example.system", "com.example.integer", "uuid"}) {
      Result r = skiff("new", name, "--dir", tmp.resolve("x").toString());
      assertThat(r.exitCode()).as(name).isEqualTo(SkiffCli.EXIT_USAGE);
      assertThat(r.err().lines().findFirst().orElseThrow()).as(name)
          .startsWith("skiff: service '" + name + "' would make the class ")
          .contains("the same name (ignoring case) as ").contains("_service");
    }
    assertThat(skiff("new", "com.example.string", "--dir", tmp.resolve("x").toString()).err())
        .contains("as java.lang.String, which Java code sees without an import");
    assertThat(skiff("new", "com.example.readycheck", "--dir", tmp.resolve("x").toString()).err())
        .contains("class Readycheck, the same name (ignoring case) as ReadyCheck, a type the generated code uses");
    assertThat(tmp.resolve("x")).doesNotExist();
    assertThat(skiff("new", "com.example.strings", "--dir", tmp.resolve("y").toString()).exitCode()).isZero();
  }

  /**
   * {@link NewProject#TEMPLATE_TYPES} is every simple type name the template's Java sources import or name,
   * but {@code java.lang}'s (seen without an import), and nothing else; the archetype's hook holds the same list.
   */
  @Test
  void templateTypesAreTheTypesTheTemplatesUse() throws IOException, URISyntaxException {
    Path template = Path.of(Objects.requireNonNull(NewProject.class.getResource("template/pom.xml")).toURI()).getParent();
    Set<String> used = new TreeSet<>();
    Pattern imported = Pattern.compile("(?m)^import\\s+(?:static\\s+)?[\\w.${}]*?\\.([A-Z]\\w*)(?:\\.\\w+)?\\s*;");
    Pattern named = Pattern.compile("\\b[A-Z]\\w*[a-z]\\w*\\b"); // all-capital names are constants unless imported
    try (Stream<Path> s = Files.walk(template)) {
      for (Path p : s.filter(f -> f.toString().endsWith(".java")).toList()) {
        String code = Files.readString(p)
            .replaceAll("(?s)/\\*.*?\\*/", "").replaceAll("//[^\n]*", "")
            .replaceAll("\"(\\\\.|[^\"\\\\])*\"", "\"\"").replaceAll("\\$\\{?\\w+\\}?", "");
        imported.matcher(code).results().forEach(m -> used.add(m.group(1)));
        named.matcher(code.replaceAll("(?m)^import[^\n]*", "")).results().forEach(m -> used.add(m.group()));
      }
    }
    used.removeAll(NewProject.javaLangTypes());
    assertThat(used).as("the templates' types but java.lang's").containsExactlyInAnyOrderElementsOf(NewProject.TEMPLATE_TYPES);
    assertThat(NewProject.javaLangTypes()).contains("String", "Override", "Object", "System", "Integer", "AutoCloseable")
        .doesNotContain("StringLatin1");

    String hook = Files.readString(Path.of("../archetype/src/main/resources/META-INF/archetype-post-generate.groovy"));
    Matcher list = Pattern.compile("(?s)def TEMPLATE_TYPES = \\[(.*?)]").matcher(hook);
    assertThat(list.find()).as("the archetype's hook lists TEMPLATE_TYPES").isTrue();
    assertThat(Pattern.compile("\"(\\w+)\"").matcher(list.group(1)).results().map(m -> m.group(1)))
        .as("the archetype hook's TEMPLATE_TYPES").containsExactlyElementsOf(NewProject.TEMPLATE_TYPES);
  }

  @Test
  void refusesToCallAnInvalidServiceOrItself() {
    assertThat(skiff("new", "com.example.a", "--dir", tmp.resolve("x").toString(), "--calls", "com.example.a").err())
        .contains("a service that calls itself");
    assertThat(skiff("new", "com.example.a", "--dir", tmp.resolve("x").toString(), "--calls", "com..b").err())
        .contains("--calls 'com..b' is not a service name");
    assertThat(tmp.resolve("x")).doesNotExist();
  }

  @Test
  void neverWritesIntoAnExistingFolder() throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("payments"));
    Files.writeString(dir.resolve("pom.xml"), "mine");

    Result r = skiff("new", "com.example.payments", "--dir", dir.toString());

    assertThat(r.exitCode()).isEqualTo(SkiffCli.EXIT_USAGE);
    assertThat(r.err()).contains(dir + " already exists: skiff new never writes into an existing folder");
    assertThat(files(dir)).containsExactly("pom.xml");
    assertThat(Files.readString(dir.resolve("pom.xml"))).isEqualTo("mine");
    try (Stream<Path> left = Files.list(tmp)) {
      assertThat(left.map(p -> p.getFileName().toString())).as("no staging folder left behind").containsExactly("payments");
    }
  }

  @Test
  void aProjectThatCallsAnotherSaysToInstallThatOneFirst() throws IOException {
    Path dir = tmp.resolve("checkout");
    Result r = skiff("new", "com.example.checkout", "--dir", dir.toString(), "--calls", "com.x.fx");

    assertThat(r.exitCode()).as(r.err()).isZero();
    String next = r.out().substring(r.out().indexOf("next:"));
    assertThat(next.lines().skip(1).findFirst().orElseThrow())
        .contains("mvn -q install").contains("com.x.fx's folder").contains("com.x:fx-api");
    String readme = Files.readString(dir.resolve("README.md"));
    String build = readme.substring(readme.indexOf("Build and test"), readme.indexOf("Run it"));
    assertThat(build).contains("mvn -q install").contains("com.x.fx").contains("com.x:fx-api");
    assertThat(skiff("new", "com.example.plain", "--dir", tmp.resolve("plain").toString()).out()).doesNotContain("install");
  }

  @Test
  void theReadmesTitleIsUnderlinedToItsLength() throws IOException {
    Path dir = tmp.resolve("p");
    assertThat(skiff("new", "com.example.payments", "--dir", dir.toString()).exitCode()).isZero();
    assertThat(Files.readString(dir.resolve("README.md"))).startsWith("com.example.payments\n" + "=".repeat(20) + "\n\n");
  }

  @Test
  void theNextStepsQuoteTheFolderForTheShell() {
    Result r = skiff("new", "com.example.payments", "--dir", tmp.resolve("it's here").toString());
    assertThat(r.exitCode()).as(r.err()).isZero();
    assertThat(r.out()).contains("  cd '" + tmp.toString().replace("'", "'\\''") + "/it'\\''s here' && mvn -q package");
    Result plain = skiff("new", "com.example.payments", "--dir", tmp.resolve("plain").toString());
    assertThat(plain.out()).contains("  cd " + tmp.resolve("plain") + " && mvn -q package");
  }

  @Test
  void aDirThatCannotBeMadeSaysWhyInPlainWords() throws IOException {
    Path file = Files.writeString(tmp.resolve("afile"), "x");
    Result underAFile = skiff("new", "com.example.payments", "--dir", file.resolve("sub").toString());
    assertThat(underAFile.exitCode()).isEqualTo(SkiffCli.EXIT_USAGE);
    assertThat(underAFile.err()).startsWith("skiff: cannot make " + file.resolve("sub") + ": " + file + " is a file, not a folder")
        .doesNotContain("already exists");

    Result empty = skiff("new", "com.example.payments", "--dir", "");
    assertThat(empty.exitCode()).isEqualTo(SkiffCli.EXIT_USAGE);
    assertThat(empty.err()).startsWith("skiff: --dir is empty: name the folder to make, or leave --dir out");

    Path locked = Files.createDirectories(tmp.resolve("locked"));
    assertThat(locked.toFile().setWritable(false)).isTrue();
    try {
      Result cannot = skiff("new", "com.example.payments", "--dir", locked.resolve("p").toString());
      if (Files.isWritable(locked)) {
        return; // as root: nothing is refused
      }
      assertThat(cannot.exitCode()).isEqualTo(SkiffCli.EXIT_CALL_FAILED);
      assertThat(cannot.err()).isEqualTo("skiff: could not write " + locked.resolve("p") + ": permission denied\n");
    } finally {
      locked.toFile().setWritable(true);
    }
  }

  @Test
  void anUnwritableFolderIsAnIoErrorInPlainWords() {
    Path proc = Path.of("/proc/skiff-new-test");
    Result r = skiff("new", "com.example.payments", "--dir", proc.toString());
    assertThat(r.exitCode()).as(r.err()).isEqualTo(SkiffCli.EXIT_CALL_FAILED);
    assertThat(r.err()).startsWith("skiff: could not write /proc/skiff-new-test: ")
        .doesNotContain("Exception").doesNotContain(".skiff-new-").doesNotContain("java.");
  }

  /** Every file of the archetype's template is one that skiff new writes, and the other way round. */
  @Test
  void templateFilesListsEveryFileOfTheTemplate() throws IOException, URISyntaxException {
    URL url = Objects.requireNonNull(NewProject.class.getResource("template/pom.xml"));
    Path template = Path.of(url.toURI()).getParent();
    List<String> listed = NewProject.files().stream().map(NewProject.TemplateFile::source).toList();
    assertThat(files(template)).containsExactlyInAnyOrderElementsOf(listed);
  }

  @Test
  void templatesKeepAndDropLinesAsVelocityDoes() {
    String t = "a ${x}\n#if( $flag == \"true\" )\nyes $x\n#if( ${x} != \"1\" )\ninner\n#else\nnot inner\n#end\n#else\nno\n#end\n${project.version} $other\n";
    assertThat(Template.render("t", t, Map.of("x", "1", "flag", "true"))).isEqualTo("a 1\nyes 1\nnot inner\n${project.version} $other\n");
    assertThat(Template.render("t", t, Map.of("x", "2", "flag", "false"))).isEqualTo("a 2\nno\n${project.version} $other\n");
  }

  @Test
  void templatesRefuseWhatOnlyVelocityWouldRender() {
    assertThatThrownBy(() -> Template.render("t", "## a Velocity comment\n", Map.of())).hasMessageContaining("t:1: not a directive");
    assertThatThrownBy(() -> Template.render("t", "#set( $a = 1 )\n", Map.of())).hasMessageContaining("not a directive");
    assertThatThrownBy(() -> Template.render("t", "#if( $nope == \"x\" )\n#end\n", Map.of())).hasMessageContaining("no property 'nope'");
    assertThatThrownBy(() -> Template.render("t", "#if( $a == \"x\" )\n", Map.of("a", "x"))).hasMessageContaining("has no #end");
    assertThatThrownBy(() -> Template.render("t", "#end\n", Map.of())).hasMessageContaining("#end without #if");
  }
}
