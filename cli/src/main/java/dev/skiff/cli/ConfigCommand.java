package dev.skiff.cli;

import dev.skiff.kernel.config.ConfigService;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.internal.JsonStrings;
import dev.skiff.platform.internal.Printable;
import dev.skiff.proto.v1.ConfigChange;
import dev.skiff.proto.v1.ConfigDiff;
import dev.skiff.proto.v1.ConfigDiffRequest;
import dev.skiff.proto.v1.ConfigEdit;
import dev.skiff.proto.v1.ConfigLayer;
import dev.skiff.proto.v1.ConfigLeaf;
import dev.skiff.proto.v1.ConfigLog;
import dev.skiff.proto.v1.ConfigLogRequest;
import dev.skiff.proto.v1.ConfigView;
import dev.skiff.proto.v1.DeleteConfigRequest;
import dev.skiff.proto.v1.GetConfigRequest;
import dev.skiff.proto.v1.RollbackConfigRequest;
import dev.skiff.proto.v1.SetConfigRequest;
import java.io.PrintWriter;
import java.time.Instant;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;

/**
 * {@code skiff config set|delete|get|log|diff|rollback}: the configuration of every service, through the
 * config kernel service, as the signed-in user ({@code skiff login}). Reading needs only to be signed in;
 * changes need role {@code ADMIN.CONFIG} ({@code ADMIN.CONFIG:SERVICE} for one service's layers).
 */
@Command(
    name = "config",
    header = "Changes and reads the configuration of every service (the config service), with history.",
    description = {
      "Runs as the user signed in with 'skiff login'. Layers, lowest first: global; --service; --region; "
          + "--region and --service; --env; --env and --service: a value of a later layer wins at each leaf. "
          + "Changes need role ADMIN.CONFIG (ADMIN.CONFIG:SERVICE for a layer of that service), a message (-m), "
          + "and are made against the newest version (or --base): one to a layer changed since is refused. "
          + "See docs/configuration.md."
    },
    synopsisSubcommandLabel = "COMMAND",
    subcommands = {ConfigCommand.Set.class, ConfigCommand.Delete.class, ConfigCommand.Get.class, ConfigCommand.Log.class,
        ConfigCommand.Diff.class, ConfigCommand.Rollback.class})
final class ConfigCommand extends CommandGroup {
  private static final Pattern JSON_START = Pattern.compile("[\\[{\"\\-0-9].*|true|false|null", Pattern.DOTALL);

  /** What the commands share: calls to the config service as the signed-in user. */
  abstract static class ConfigCall extends KernelServiceCommand {
    ConfigCall() {
      super(ConfigService.SERVICE);
    }

    /** @return the newest version, for a change made against it */
    long newest(Client client) {
      return call(client, "log", ConfigLogRequest.newBuilder().setLimit(1).build(), ConfigLog.class).getHead();
    }

    static String value(String json) {
      return json.isEmpty() ? "(none)" : Printable.json(json);
    }

    static void printChange(PrintWriter out, ConfigChange c) {
      out.println("version " + c.getId() + "  " + Instant.ofEpochMilli(c.getAtMs()) + "  " + Printable.of(c.getUser())
          + (c.getRollbackTo() > 0 ? "  (rollback to version " + c.getRollbackTo() + ")" : "") + "  " + Printable.text(c.getMessage()));
      for (ConfigEdit e : c.getEditsList()) {
        printEdit(out, e);
      }
    }

    static void printEdit(PrintWriter out, ConfigEdit e) {
      out.println("  " + Printable.of(e.getLayer()) + "  " + (e.getPath().isEmpty() ? "(whole layer)" : Printable.of(e.getPath(), 256))
          + ": " + value(e.getOldJson()) + " -> " + value(e.getNewJson()) + (e.getSecret() ? "  (secret)" : ""));
    }
  }

  /** The layer options of set and delete. */
  abstract static class Change extends ConfigCall {
    @Option(names = "--service", paramLabel = "S", description = "The layer of this service (with --region or --env: of it there).")
    String service = "";

    @Option(names = "--region", paramLabel = "R", description = "The layer of this region.")
    String region = "";

    @Option(names = "--env", paramLabel = "E", description = "The layer of this environment.")
    String env = "";

    @Option(names = {"-m", "--message"}, required = true, paramLabel = "MESSAGE", description = "Why: kept in the history.")
    String message;

    @Option(names = "--base", paramLabel = "ID", description = "The version the change is made against (default: the newest).")
    Long base;

    ConfigLayer layer() {
      if (!region.isEmpty() && !env.isEmpty()) {
        throw new ParameterException(spec.commandLine(), "a layer is of a region or of an environment, not both");
      }
      return ConfigLayer.newBuilder().setService(service).setRegion(region).setEnv(env).build();
    }

    long base(Client client) {
      return base != null ? base : newest(client);
    }
  }

  /** {@code skiff config set PATH VALUE}. */
  @Command(
      name = "set",
      header = "Sets a value or a subtree at a path of one layer.",
      description = {"VALUE is JSON when it starts with {, [, \", -, a digit, or is true, false or null; otherwise it is "
          + "a string as written (--string: always a string). --secret stores it encrypted, in a layer of one service "
          + "(--service S): only S reads it, everything else shows \"<secret>\"; VALUE - reads it from the first line of "
          + "stdin (kept out of the shell's history and the process list)."},
      footer = {"", "Examples:", "  skiff config set greeter.greeting hello --service greeter -m 'friendlier'",
          "  skiff config set db '{\"host\":\"db.eu\",\"port\":5432}' --region eu -m 'EU database'",
          "  skiff config set db.password - --secret --service payments -m 'rotated' < password.txt", "",
          "Exit codes: 0 changed, 1 refused (e.g. changed since, invalid), 2 usage error, 3 no connection to the broker, 4 not signed in, 5 not allowed."})
  static final class Set extends Change {
    @Parameters(index = "0", paramLabel = "PATH", description = "Dotted path, e.g. greeter.greeting.")
    String path;

    @Parameters(index = "1", paramLabel = "VALUE", description = "The value (see above).")
    String value;

    /** How much of a value refused as JSON its hint repeats: enough to recognise it. */
    static final int HINT_CHARS = 60;

    @Option(names = "--string", description = "Take VALUE as a string even when it looks like JSON.")
    boolean string;

    @Option(names = "--secret", description = "Store VALUE encrypted; only the layer's service reads it (VALUE - : from stdin).")
    boolean secret;

    @Override
    public Integer call() {
      ConfigLayer layer = layer();
      String v = secret && value.equals("-") ? stdinLine("VALUE -", "value") : value;
      String json = string || !JSON_START.matcher(v).matches() ? JsonStrings.quote(v) : v;
      return withClient(client -> {
        ConfigChange c;
        try {
          c = call(client, "set", SetConfigRequest.newBuilder().setLayer(layer).setPath(path).setValueJson(json)
              .setMessage(message).setBaseVersion(base(client)).setSecret(secret).build(), ConfigChange.class);
        } catch (dev.skiff.platform.SkiffException e) {
          if (!string && e.code() == dev.skiff.platform.ErrorCode.BAD_REQUEST && e.description().contains("not valid JSON")) {
            // a value that starts like JSON (2s, 127.0.0.1:9042) was sent as JSON: say how to store it as text
            throw new dev.skiff.platform.SkiffException(e.code(), e.description() + " (it starts like JSON: to store it as text,"
                + " add --string" + (secret ? "" : ", e.g. skiff config set " + path + " '" + Printable.of(v, HINT_CHARS) + "' --string ...") + ")", e);
          }
          throw e;
        }
        printChange(out(), c);
        return SkiffCli.EXIT_OK;
      });
    }
  }

  /** {@code skiff config delete PATH}. */
  @Command(
      name = "delete",
      header = "Deletes the value or subtree at a path of one layer (the layers below show through).",
      footer = {"", "Example:", "  skiff config delete greeter.greeting --service greeter -m 'back to the default'", "",
          "Exit codes: 0 changed, 1 refused (e.g. nothing there, changed since), 2 usage error, 3 no connection to the broker, 4 not signed in, "
              + "5 not allowed."})
  static final class Delete extends Change {
    @Parameters(index = "0", paramLabel = "PATH", description = "Dotted path.")
    String path;

    @Override
    public Integer call() {
      ConfigLayer layer = layer();
      return withClient(client -> {
        ConfigChange c = call(client, "delete", DeleteConfigRequest.newBuilder().setLayer(layer).setPath(path).setMessage(message)
            .setBaseVersion(base(client)).build(), ConfigChange.class);
        printChange(out(), c);
        return SkiffCli.EXIT_OK;
      });
    }
  }

  /** {@code skiff config get [PATH]}. */
  @Command(
      name = "get",
      header = "Shows the configuration a service sees (all layers merged), or one path of it.",
      footer = {"", "Examples:", "  skiff config get --service greeter --region eu", "  skiff config get greeter.greeting --service greeter --explain", "",
          "Exit codes: 0 shown, 1 refused or nothing at the path, 2 usage error, 3 no connection to the broker, 4 not signed in."})
  static final class Get extends ConfigCall {
    @Parameters(index = "0", arity = "0..1", paramLabel = "PATH", description = "Dotted path (default: everything).")
    String path = "";

    @Option(names = "--service", paramLabel = "S", description = "As this service sees it (default: the global layer alone).")
    String service = "";

    @Option(names = "--region", paramLabel = "R", description = "In this region.")
    String region = "";

    @Option(names = "--env", paramLabel = "E", description = "In this environment.")
    String env = "";

    @Option(names = "--explain", description = "Each value with the layer and change it came from.")
    boolean explain;

    @Override
    public Integer call() {
      return withClient(client -> {
        ConfigView v = call(client, "get", GetConfigRequest.newBuilder().setService(service).setRegion(region).setEnv(env).setPath(path)
            .setExplain(explain).build(), ConfigView.class);
        if (v.getJson().isEmpty()) {
          err().println("skiff: nothing at " + (path.isEmpty() ? "the top" : Printable.of(path, 256)) + " (version " + v.getVersion() + ")");
          return SkiffCli.EXIT_CALL_FAILED;
        }
        if (explain) {
          if (v.getLeavesCount() == 0) {
            out().println("(no keys set" + (path.isEmpty() ? "" : " under " + Printable.of(path, 256))
                + (service.isEmpty() ? " in the global layer" : " for " + Printable.of(service)) + ")");
          }
          for (ConfigLeaf l : v.getLeavesList()) {
            out().println(Printable.of(l.getPath(), 256) + " = " + value(l.getValueJson()) + "  (" + Printable.of(l.getLayer())
                + ", version " + l.getChangeId() + ")");
          }
        } else {
          out().println(Printable.json(v.getJson()));
        }
        return SkiffCli.EXIT_OK;
      });
    }
  }

  /** {@code skiff config log}. */
  @Command(
      name = "log",
      header = "Shows the history of changes, newest first, each with its id (version).",
      footer = {"", "Examples:", "  skiff config log --service greeter", "  skiff config log --json --limit 200 --before 1200", "",
          "Exit codes: 0 shown, 1 refused, 2 usage error, 3 no connection to the broker, 4 not signed in."})
  static final class Log extends ConfigCall {
    @Option(names = "--service", paramLabel = "S", description = "Only changes this service sees (its layers and the shared ones).")
    String service = "";

    @Option(names = "--json", description = "One JSON object per change and line.")
    boolean json;

    @Option(names = "--limit", paramLabel = "N", description = "At most N changes (1-200, default 50).")
    int limit = 50;

    @Option(names = "--before", paramLabel = "ID", description = "Changes older than this one (the next page).")
    Long before;

    @Override
    public Integer call() {
      if (limit < 1 || limit > 200) {
        throw new ParameterException(spec.commandLine(), "--limit is 1 to 200");
      }
      if (before != null && before < 1) {
        throw new ParameterException(spec.commandLine(), "--before is a change id: 1 or more (the '(more: --before ID)' line of a log gives it)");
      }
      long older = before == null ? 0 : before;
      return withClient(client -> {
        ConfigLog log = call(client, "log", ConfigLogRequest.newBuilder().setService(service).setLimit(limit).setBefore(older).build(),
            ConfigLog.class);
        for (ConfigChange c : log.getChangesList()) {
          if (json) {
            out().println(Printable.json(json(c)));
          } else {
            printChange(out(), c);
          }
        }
        if (!json && log.getChangesCount() == 0) {
          out().println("(no changes" + (service.isEmpty() ? "" : " " + Printable.of(service) + " sees")
              + (older > 0 ? " before " + older : " yet") + ")");
        }
        if (!json && log.getNextBefore() > 0) {
          out().println("(more: --before " + log.getNextBefore() + ")");
        }
        return SkiffCli.EXIT_OK;
      });
    }

    static String json(ConfigChange c) {
      StringBuilder sb = new StringBuilder("{\"id\":").append(c.getId()).append(",\"at\":");
      JsonStrings.quote(sb, Instant.ofEpochMilli(c.getAtMs()).toString()).append(",\"user\":");
      JsonStrings.quote(sb, c.getUser()).append(",\"message\":");
      JsonStrings.quote(sb, c.getMessage()).append(",\"rollback_to\":").append(c.getRollbackTo() > 0 ? Long.toString(c.getRollbackTo()) : "null");
      sb.append(",\"edits\":[");
      for (int i = 0; i < c.getEditsCount(); i++) {
        ConfigEdit e = c.getEdits(i);
        sb.append(i > 0 ? "," : "").append("{\"layer\":");
        JsonStrings.quote(sb, e.getLayer()).append(",\"path\":");
        JsonStrings.quote(sb, e.getPath()).append(",\"old\":").append(e.getOldJson().isEmpty() ? "null" : e.getOldJson())
            .append(",\"new\":").append(e.getNewJson().isEmpty() ? "null" : e.getNewJson())
            .append(e.getSecret() ? ",\"secret\":true" : "").append('}');
      }
      return sb.append("]}").toString();
    }
  }

  /** {@code skiff config diff ID [ID]}. */
  @Command(
      name = "diff",
      header = "Shows what differs between two versions (the second defaults to the newest), per layer and path.",
      footer = {"", "Example:", "  skiff config diff 41 45", "", "Exit codes: 0 shown, 1 refused, 2 usage error, 3 no connection to the broker, 4 not signed in."})
  static final class Diff extends ConfigCall {
    @Parameters(index = "0", paramLabel = "ID", description = "The earlier version.")
    long from;

    @Parameters(index = "1", arity = "0..1", paramLabel = "ID", description = "The later version (default: the newest).")
    long to;

    @Override
    public Integer call() {
      return withClient(client -> {
        ConfigDiff d = call(client, "diff", ConfigDiffRequest.newBuilder().setFromVersion(from).setToVersion(to).build(), ConfigDiff.class);
        out().println("version " + d.getFromVersion() + " -> " + d.getToVersion() + ": "
            + (d.getEditsCount() == 0 ? "no difference" : d.getEditsCount() + " difference(s)"));
        for (ConfigEdit e : d.getEditsList()) {
          printEdit(out(), e);
        }
        return SkiffCli.EXIT_OK;
      });
    }
  }

  /** {@code skiff config rollback ID -m MESSAGE}. */
  @Command(
      name = "rollback",
      header = "Makes every layer what it was at a version, as one new change (itself in the history).",
      footer = {"", "Example:", "  skiff config rollback 41 -m 'greeting broke the greeter'", "",
          "Exit codes: 0 rolled back, 1 refused (e.g. changed since, already so), 2 usage error, 3 no connection to the broker, 4 not signed in, "
              + "5 not allowed."})
  static final class Rollback extends ConfigCall {
    @Parameters(index = "0", paramLabel = "ID", description = "The version to go back to.")
    long to;

    @Option(names = {"-m", "--message"}, required = true, paramLabel = "MESSAGE", description = "Why: kept in the history.")
    String message;

    @Option(names = "--base", paramLabel = "ID", description = "Refuse if anything changed after this version (default: the newest).")
    Long base;

    @Override
    public Integer call() {
      return withClient(client -> {
        long b = base != null ? base : newest(client);
        ConfigChange c = call(client, "rollback", RollbackConfigRequest.newBuilder().setToVersion(to).setMessage(message).setBaseVersion(b)
            .build(), ConfigChange.class);
        printChange(out(), c);
        return SkiffCli.EXIT_OK;
      });
    }
  }
}
