package dev.skiff.cli;

import dev.skiff.platform.internal.Printable;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import dev.skiff.platform.transport.amqp.DeadLetters;
import java.io.PrintWriter;
import java.time.Duration;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.Predicate;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;

/**
 * {@code skiff dead-letters list|replay|discard SERVICE}: the requests a service's instances set aside
 * (too large, or over the delivery limit), through {@link DeadLetters} (docs/security.md "Hostile input").
 */
@Command(
    name = "dead-letters",
    header = "Lists, replays or discards the requests a service set aside.",
    description = {
      "A request no instance of a service can handle (over the message size limit, or delivered the delivery "
          + "limit times without ever being answered) is set aside in the service's dead-letter queue "
          + "(skiff.dead.SERVICE) with why, and its health turns NOTIFY until someone looks (docs/security.md)."
    },
    synopsisSubcommandLabel = "COMMAND",
    subcommands = {DeadLettersCommand.ListLetters.class, DeadLettersCommand.Replay.class, DeadLettersCommand.Discard.class})
final class DeadLettersCommand extends CommandGroup {

  /** What the three commands share: the service, and its dead letters on a connection of their own. */
  abstract static class OnService extends BrokerCommand {
    @Parameters(index = "0", paramLabel = "SERVICE", converter = ServiceNameConverter.class, description = "The service's dotted name.")
    String service;

    @Option(
        names = "--set-aside-by",
        paramLabel = "USER",
        description = "A broker user the service's instances connect as, when it is not named as the service (repeatable):"
            + " dead letters are believed only from the service's name and the user this command connects as.")
    List<String> setAsideBy = List.of();

    /** Runs with the service's dead letters; the connection closes after. */
    Integer withDeadLetters(java.util.function.Function<DeadLetters, Integer> work) {
      try (AmqpTransport transport = broker().connectTransport()) {
        DeadLetters dead = transport.deadLetters(service);
        for (String user : setAsideBy) {
          dead = dead.setAsideBy(user);
        }
        return work.apply(dead);
      }
    }
  }

  /** Which dead letters: {@code --id} or {@code --handle} (repeatable), or {@code --all}. */
  static final class Which {
    @Option(names = "--id", paramLabel = "REQUEST_ID", required = true, description = "A request id, as 'list' shows it (repeatable).")
    Set<String> ids;

    @Option(names = "--handle", paramLabel = "HANDLE", required = true,
        description = "A handle 'list' shows for a request id it cannot show whole (too long, or with control characters); repeatable.")
    Set<String> handles;

    @Option(names = "--all", required = true, description = "Every request set aside.")
    boolean all;

    private final Set<String> found = new java.util.HashSet<>();

    /** @return what picks the dead letters; it notes which of the ids or handles it met */
    Predicate<DeadLetters.DeadLetter> predicate() {
      if (all) {
        return d -> true;
      }
      return d -> {
        String key = ids != null ? d.requestId() : handle(d);
        boolean picked = (ids != null ? ids : handles).contains(key);
        if (picked) {
          found.add(key);
        }
        return picked;
      };
    }

    /**
     * Says on {@code err} which ids given with {@code --id} no request set aside has.
     *
     * @return the exit code: OK when every id was found (or with {@code --all})
     */
    int reportMissing(PrintWriter err, String service) {
      if (all) {
        return SkiffCli.EXIT_OK;
      }
      List<String> missing = (ids != null ? ids : handles).stream().filter(id -> !found.contains(id)).sorted().toList();
      for (String id : missing) {
        err.println("NOT_FOUND: no request set aside by " + service + " has " + (ids != null ? "request id " : "handle ")
            + Printable.of(id) + " ('skiff dead-letters list " + service + "' lists them)");
      }
      err.flush();
      return missing.isEmpty() ? SkiffCli.EXIT_OK : SkiffCli.EXIT_CALL_FAILED;
    }
  }

  /**
   * A dead letter's handle: what {@code --handle} takes for one whose request id {@code list} cannot show
   * whole (cut at 80 characters, or with characters it escapes, so that the shown form cannot be typed
   * back). 12 hex digits of a SHA-256 of its request id, when and by which instance it was set aside, and
   * the queue it came from: the same on every listing.
   *
   * @param d a dead letter
   * @return its handle
   */
  static String handle(DeadLetters.DeadLetter d) {
    try {
      java.security.MessageDigest sha = java.security.MessageDigest.getInstance("SHA-256");
      String key = d.requestId() + "\u0000" + d.setAsideAt().toEpochMilli() + "\u0000" + d.setAsideBy() + "\u0000" + d.queue();
      return java.util.HexFormat.of().formatHex(sha.digest(key.getBytes(java.nio.charset.StandardCharsets.UTF_8)), 0, 6);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every JDK", e);
    }
  }

  /** @return the request id as {@code list} shows it: whole when it can be typed back, else cut or escaped with its handle */
  private static String shownId(DeadLetters.DeadLetter d) {
    String shown = Printable.of(d.requestId());
    return shown.equals(d.requestId()) && !shown.isEmpty() ? shown : shown + " (--handle " + handle(d) + ")";
  }

  /** {@code skiff dead-letters list SERVICE}. */
  @Command(
      name = "list",
      header = "Lists the requests a service set aside, oldest first; removes nothing.",
      footer = {"", "Example:", "  skiff dead-letters list com.example.greeter", "",
          "Exit codes: 0 listed, 1 no dead-letter queue or refused by the broker, 2 usage error, 3 no connection to the broker."})
  static final class ListLetters extends OnService {
    @Option(names = "--max", paramLabel = "N", defaultValue = "100", description = "List at most N (default ${DEFAULT-VALUE}).")
    int max;

    @Override
    public Integer call() {
      if (max <= 0) {
        throw new ParameterException(spec.commandLine(), "--max must be positive, not " + max);
      }
      return withDeadLetters(dead -> {
        long waiting = dead.count();
        List<DeadLetters.DeadLetter> listed = dead.list(max);
        print(out(), dead.service(), waiting, listed);
        return SkiffCli.EXIT_OK;
      });
    }

    static void print(PrintWriter out, String service, long waiting, List<DeadLetters.DeadLetter> listed) {
      out.printf(Locale.ROOT, "%s: %d request%s set aside%s%n", service, waiting, waiting == 1 ? "" : "s",
          listed.size() < waiting ? " (the oldest " + listed.size() + " below)" : "");
      for (DeadLetters.DeadLetter d : listed) {
        out.printf(Locale.ROOT, "%s  %-14s %s/%s  request %s  from %s  %d deliveries  %d bytes%s%n",
            DateTimeFormatter.ISO_INSTANT.format(d.setAsideAt()), Printable.of(d.code()), service, Printable.of(d.endpoint()),
            shownId(d), d.caller().isEmpty() ? "(unproven)" : Printable.of(d.caller()), d.deliveries(), d.bodyBytes(),
            d.bodyDiscarded() ? " (body not kept)" : "");
        out.println("    " + Printable.of(d.reason(), 1000) + " (by " + Printable.of(d.setAsideBy()) + ", from " + Printable.of(d.queue()) + ")");
        if (!d.suspect().isEmpty()) {
          out.println("    SUSPECT, never replayed: " + Printable.of(d.suspect(), 1000) + " ('skiff dead-letters discard' removes it)");
        }
      }
      out.flush();
    }
  }

  /** {@code skiff dead-letters replay SERVICE --id ID | --all}. */
  @Command(
      name = "replay",
      header = "Sends requests set aside to the service again, as fresh requests nobody waits for.",
      description = {
        "Each goes back to the queue it came from with a new deadline (--timeout from now), no reply address and its "
            + "delivery count cleared, and leaves the dead-letter queue once the broker has it. Run as the service's own "
            + "broker user, a request keeps its original caller; as another user, it is that user's. A request whose "
            + "body was too large was never kept, and stays.",
        "Only a queue of the service itself is replayed into, and only dead letters its own broker user set aside are "
            + "believed: any other is suspect ('list' says why), stays, and is never sent. A queue nobody consumes (the "
            + "service stopped) is refused, taking nothing off, unless --even-if-stopped."
      },
      footer = {"", "Examples:", "  skiff dead-letters replay com.example.greeter --id 9f3c0d...",
          "  skiff dead-letters replay com.example.greeter --all --timeout 1m", "",
          "Exit codes: 0 replayed, 1 no dead-letter queue, an --id not found, not replayable or suspect, the queue to replay into gone, "
              + "nobody consuming it or full, 2 usage error, 3 no connection to the broker, 5 the broker refused the broker user."})
  static final class Replay extends OnService {
    @ArgGroup(multiplicity = "1")
    Which which;

    @Option(
        names = "--timeout",
        paramLabel = "DURATION",
        defaultValue = "30s",
        converter = DurationConverter.class,
        description = "Each replayed request's deadline, from now (default ${DEFAULT-VALUE}).")
    Duration timeout;

    @Option(
        names = "--even-if-stopped",
        description = "Replay into a queue nobody consumes (the service stopped): the requests then wait there with no deadline"
            + " and no expiry for the next instance, which gives them its default deadline (a service's queue itself is"
            + " deleted an hour after its last instance stopped, and what waits in it with it).")
    boolean evenIfStopped;

    @Override
    public Integer call() {
      Duration t = timeout;
      return withDeadLetters(dead -> {
        DeadLetters.Replayed r = dead.replay(which.predicate(), t, evenIfStopped);
        out().printf(Locale.ROOT, "%s: %d request%s replayed%s%s%n", dead.service(), r.replayed(), r.replayed() == 1 ? "" : "s",
            r.notReplayable() == 0 ? "" : "; " + r.notReplayable() + " kept: their body was too large to be kept",
            r.suspect() == 0 ? "" : "; " + r.suspect() + " suspect kept, not replayed");
        out().flush();
        if (r.suspect() > 0) {
          err().println("skiff: " + r.suspect() + " of the requests chosen are suspect and were not replayed: not set aside by the"
              + " service's broker user, or naming a queue that is not the service's ('skiff dead-letters list " + dead.service()
              + "' says why; --set-aside-by names the service's user if it is not named as the service)");
          err().flush();
        }
        int missing = which.reportMissing(err(), dead.service());
        if (missing == SkiffCli.EXIT_OK && !which.all && r.suspect() > 0) {
          return SkiffCli.EXIT_CALL_FAILED;
        }
        if (missing == SkiffCli.EXIT_OK && !which.all && r.notReplayable() > 0) {
          // asked for by id and not replayed: a script must not read that as done
          err().println("skiff: " + r.notReplayable() + " of the requests asked for cannot be replayed: their body was"
              + " over the size limit and was not kept ('skiff dead-letters discard' removes them)");
          err().flush();
          return SkiffCli.EXIT_CALL_FAILED;
        }
        return missing;
      });
    }
  }

  /** {@code skiff dead-letters discard SERVICE --id ID | --all}. */
  @Command(
      name = "discard",
      header = "Removes requests set aside, for good.",
      footer = {"", "Example:", "  skiff dead-letters discard com.example.greeter --id 9f3c0d...", "",
          "Exit codes: 0 done, 1 no dead-letter queue, an --id not found or refused by the broker, 2 usage error, 3 no connection to the broker."})
  static final class Discard extends OnService {
    @ArgGroup(multiplicity = "1")
    Which which;

    @Override
    public Integer call() {
      return withDeadLetters(dead -> {
        int n = dead.discard(which.predicate());
        out().printf(Locale.ROOT, "%s: %d request%s discarded%n", dead.service(), n, n == 1 ? "" : "s");
        out().flush();
        return which.reportMissing(err(), dead.service());
      });
    }
  }
}
