import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import javax.xml.parsers.DocumentBuilderFactory;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/**
 * Fails the build on a skipped test that is not listed, with its reason, in the allowed-skips file.
 *
 * <p>Reads every JUnit XML report that Maven Surefire and Failsafe wrote under the given tree
 * ({@code target/surefire-reports/TEST-*.xml}, {@code target/failsafe-reports/TEST-*.xml}), prints the
 * allowed skips with their reasons, then every skipped test; exits 1 if one of those is not allowed,
 * or if no report was found at all (a build that ran no test proves nothing).
 *
 * <pre>
 * java scripts/SkipCheck.java ALLOWED_SKIPS_FILE ROOT_DIR [SINCE_FILE]
 * </pre>
 *
 * <p>With {@code SINCE_FILE}, only reports written after that file was last modified count (the
 * reports of this build, not those an earlier build left in {@code target/}).
 *
 * <p>The allowed-skips file has one entry a line: a test class's full name, optionally followed by
 * {@code #} and the start of a method name, then white space and the reason. Lines starting with
 * {@code #} and blank lines are ignored.
 */
public final class SkipCheck {
  private SkipCheck() {}

  record Allowed(String className, String methodPrefix, String reason) {
    boolean covers(String cls, String method) {
      return className.equals(cls) && (methodPrefix == null || method.startsWith(methodPrefix));
    }

    @Override
    public String toString() {
      return className + (methodPrefix == null ? "" : "#" + methodPrefix);
    }
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 2 && args.length != 3) {
      System.err.println("usage: java scripts/SkipCheck.java ALLOWED_SKIPS_FILE ROOT_DIR [SINCE_FILE]");
      System.exit(2);
    }
    List<Allowed> allowed = readAllowed(Path.of(args[0]));
    long since = args.length == 3 ? Files.getLastModifiedTime(Path.of(args[2])).toMillis() : 0;
    List<Path> reports;
    try (Stream<Path> files = Files.walk(Path.of(args[1]))) {
      reports = files
          .filter(p -> p.getFileName().toString().matches("TEST-.*\\.xml"))
          .filter(p -> p.getParent() != null && p.getParent().getFileName().toString().matches("(surefire|failsafe)-reports"))
          .filter(p -> modified(p) >= since)
          .sorted()
          .toList();
    }
    System.out.println("[skiff] skips allowed (" + args[0] + "):");
    for (Allowed a : allowed) {
      System.out.println("[skiff]   " + a + " -- " + a.reason());
    }
    if (reports.isEmpty()) {
      System.out.println("[skiff] no test report found under " + args[1] + ": no test ran");
      System.exit(1);
    }
    int tests = 0;
    Map<String, String> unlisted = new TreeMap<>();
    Map<String, String> listed = new TreeMap<>();
    DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
    factory.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
    for (Path report : reports) {
      NodeList cases = factory.newDocumentBuilder().parse(report.toFile()).getElementsByTagName("testcase");
      for (int i = 0; i < cases.getLength(); i++) {
        Element tc = (Element) cases.item(i);
        tests++;
        NodeList skipped = tc.getElementsByTagName("skipped");
        if (skipped.getLength() == 0) {
          continue;
        }
        String cls = tc.getAttribute("classname");
        String method = tc.getAttribute("name");
        String why = ((Element) skipped.item(0)).getAttribute("message");
        String name = cls + "#" + method;
        Allowed a = allowed.stream().filter(x -> x.covers(cls, method)).findFirst().orElse(null);
        if (a == null) {
          unlisted.put(name, why);
        } else {
          listed.put(name, a.reason());
        }
      }
    }
    System.out.println("[skiff] " + tests + " tests reported in " + reports.size() + " reports; "
        + (listed.size() + unlisted.size()) + " skipped");
    listed.forEach((n, why) -> System.out.println("[skiff]   skipped, allowed: " + n + " -- " + why));
    unlisted.forEach((n, why) -> System.out.println("[skiff]   SKIPPED, NOT ALLOWED: " + n + " -- " + (why.isEmpty() ? "(no reason given)" : why)));
    if (!unlisted.isEmpty()) {
      System.out.println("[skiff] " + unlisted.size() + " test(s) skipped that " + args[0]
          + " does not allow: make them run (a missing service is started by scripts/test.sh), or list them there with the reason");
      System.exit(1);
    }
  }

  static long modified(Path p) {
    try {
      return Files.getLastModifiedTime(p).toMillis();
    } catch (IOException e) {
      return 0;
    }
  }

  static List<Allowed> readAllowed(Path file) throws IOException {
    List<Allowed> out = new ArrayList<>();
    for (String raw : Files.readAllLines(file)) {
      String line = raw.strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      String[] parts = line.split("\\s+", 2);
      if (parts.length < 2 || parts[1].isBlank()) {
        throw new IllegalArgumentException(file + ": an allowed skip needs a reason: " + raw);
      }
      String[] target = parts[0].split("#", 2);
      out.add(new Allowed(target[0], target.length == 2 ? target[1] : null, parts[1].strip()));
    }
    return out;
  }
}
