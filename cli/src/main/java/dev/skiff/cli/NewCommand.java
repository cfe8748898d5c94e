package dev.skiff.cli;

import dev.skiff.platform.internal.Printable;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code skiff new SERVICE}: makes a new service's project, which builds and passes its tests at once. */
@Command(
    name = "new",
    header = "Makes a new service's project: messages, main class, healthcheck, tests, README.",
    description = {
      "Writes a Maven project for the service SERVICE (e.g. com.example.payments) into a new folder: its "
          + "messages in api/ (callers depend on those only), the service in service/ with one endpoint "
          + "'hello' that checks its input, a healthcheck of its own, in-process unit tests, a README saying "
          + "how to run and call it, and a .gitignore. Its parent pom, dev.skiff:skiff-service-parent, owns "
          + "the build. An existing folder is never written into.",
      "",
      "The same project comes from the Maven archetype dev.skiff:skiff-service-archetype (docs/writing-services.md)."
    },
    footer = {"", "Exit codes: 0 made, 1 the project could not be written (nothing left), 2 a name or --dir is invalid or the folder exists (nothing written)."})
final class NewCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
  boolean help;

  @Parameters(index = "0", paramLabel = "SERVICE", description = "its name and Java package, e.g. com.example.payments")
  String service;

  @Option(names = "--dir", paramLabel = "DIR", description = "the folder to make (must not exist); default: the name's last part, here")
  Path dir;

  @Option(names = "--cassandra", description = "keep the service's data in Cassandra (the service layer): a migration folder, tests on the real store")
  boolean cassandra;

  @Option(names = "--calls", paramLabel = "SERVICE", description = "the service calls SERVICE (one made by skiff new), passing its deadline on")
  String calls;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    NewProject project;
    try {
      project = new NewProject(service, SkiffCli.Version.version(), cassandra, calls);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), Printable.text(e.getMessage()));
    }
    if (dir != null && dir.toString().isEmpty()) {
      throw new ParameterException(spec.commandLine(),
          "--dir is empty: name the folder to make, or leave --dir out for " + Printable.text(project.defaultFolder()) + " here");
    }
    Path where = dir != null ? dir : Path.of(project.defaultFolder());
    String shown = Printable.text(where.toString());
    List<Path> written;
    try {
      written = project.writeTo(where);
    } catch (FileAlreadyExistsException e) {
      throw new ParameterException(spec.commandLine(),
          shown + " already exists: skiff new never writes into an existing folder (choose another with --dir)");
    } catch (NotDirectoryException e) {
      throw new ParameterException(spec.commandLine(), "cannot make " + shown + ": " + Printable.text(e.getFile())
          + " is a file, not a folder (choose another --dir)");
    } catch (IOException e) {
      PrintWriter err = spec.commandLine().getErr();
      err.println("skiff: could not write " + shown + ": " + reason(e));
      err.flush();
      return SkiffCli.EXIT_CALL_FAILED;
    }
    out.println("made " + Printable.text(service) + " in " + shown + ":");
    for (Path p : written) {
      out.println("  " + Printable.text(p.toString()));
    }
    String artifact = project.defaultFolder();
    String cd = shellWord(shown);
    out.println();
    out.println("next:");
    if (calls != null) {
      Map<String, String> names = project.properties();
      out.println("  mvn -q install        # first, in " + Printable.text(calls) + "'s folder: this project depends on its messages ("
          + Printable.text(names.get("callsGroupId") + ":" + names.get("callsArtifactId")) + "-api)");
    }
    String store = cassandra ? "SKIFF_CASSANDRA_HOSTS=127.0.0.1:9042 " : "";
    out.println("  cd " + cd + " && " + store + "mvn -q package" + (cassandra ? "        # its tests need that Cassandra" : ""));
    out.println("  skiff kernel        # in a second terminal (bin/skiff kernel in a Skiff checkout)");
    out.println("  " + store + "java -jar service/target/" + artifact + ".jar        # in a third, from " + shown);
    out.println("  skiff call " + Printable.text(service) + " hello '{\"name\": \"Ada\"}'");
    out.println("(README.md in " + shown + " says more)");
    return SkiffCli.EXIT_OK;
  }

  /**
   * @param word a file name
   * @return {@code word} as a POSIX shell reads it as one word: as it is if it holds only characters the
   *     shell takes literally, else in single quotes (a quote in it as {@code '\''})
   */
  static String shellWord(String word) {
    if (!word.isEmpty() && word.matches("[A-Za-z0-9_./:@%+=,-]+")) {
      return word;
    }
    return "'" + word.replace("'", "'\\''") + "'";
  }

  /**
   * @param e why writing failed
   * @return the operating system's reason, in its words where Java has them, with no Java class names
   */
  private static String reason(IOException e) {
    if (e instanceof FileSystemException f && f.getReason() != null) {
      return Printable.text(f.getReason());
    }
    if (e instanceof AccessDeniedException) {
      return "permission denied";
    }
    if (e instanceof NoSuchFileException) {
      return "no such file or directory";
    }
    if (e instanceof NotDirectoryException) {
      return "not a directory";
    }
    if (e instanceof FileSystemException) {
      return "the file system refused";
    }
    return Printable.text(String.valueOf(e.getMessage()));
  }
}
