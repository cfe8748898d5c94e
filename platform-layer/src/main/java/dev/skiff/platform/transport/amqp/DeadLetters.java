package dev.skiff.platform.transport.amqp;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.GetResponse;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.internal.Counts;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeoutException;
import java.util.function.Predicate;

/**
 * A service's requests set aside (its dead-letter queue, {@link AmqpNames#deadLetterQueue}): what
 * operators inspect, replay and discard (docs/security.md "Hostile input"; {@code skiff dead-letters}).
 *
 * <pre>{@code
 * DeadLetters dead = transport.deadLetters("com.example.greeter");
 * for (DeadLetters.DeadLetter d : dead.list(100)) {
 *   System.out.println(d.requestId() + " " + d.code() + ": " + d.reason());
 * }
 * dead.replay(d -> d.requestId().equals("9f3c..."), Duration.ofSeconds(30));
 * }</pre>
 *
 * <p>Each operation walks the queue from its head, at most as far as it was when the operation began (a
 * request replayed and set aside again meanwhile is not met twice), holding what it does not act on
 * unacknowledged; when it ends, the broker puts those back where they were. It needs read permission on
 * the queue (the service's own broker user has it, docs/security.md) and, to replay, write permission on
 * the default exchange. Replayed with the service's own credentials, a request keeps its original caller;
 * replayed by another user, it is that user's request. Not thread-safe: one operation at a time.
 *
 * <p>Any broker user that may publish through the default exchange can put a message into the queue, so a
 * dead letter is believed only when the broker proves it was sent ({@code user_id}) by a user that sets the
 * service's requests aside ({@link #setAsideBy}: the service's own user, named as the service by
 * {@code skiff credentials}, and the user this connection signed in as), and only replayed into a queue of
 * the service itself (its shared or a version's queue, {@link AmqpNames}); any other is {@link
 * DeadLetter#suspect() suspect}: listed, with why, and never replayed.
 */
public final class DeadLetters {
  private final AmqpConnections connections;
  private final String service;
  private final String queue;
  private final Clock clock;
  private final Set<String> setAsideBy;

  DeadLetters(AmqpConnections connections, String service, Clock clock) {
    this(connections, service, clock, new HashSet<>(java.util.List.of(Objects.requireNonNull(service, "service"), connections.userName())));
  }

  private DeadLetters(AmqpConnections connections, String service, Clock clock, Set<String> setAsideBy) {
    this.connections = connections;
    this.service = Objects.requireNonNull(service, "service");
    this.queue = AmqpNames.deadLetterQueue(service);
    this.clock = clock;
    this.setAsideBy = Set.copyOf(setAsideBy);
  }

  /**
   * The same dead letters, believing also those sent by another broker user: the service's own user when
   * it is not named as the service (the gateway's {@code skiff-gateway}, a user made by hand). By default
   * only the service's name and this connection's user are believed.
   *
   * @param user a broker user the service's instances connect as
   * @return dead letters that believe it too
   */
  public DeadLetters setAsideBy(String user) {
    Set<String> users = new HashSet<>(setAsideBy);
    users.add(Objects.requireNonNull(user, "user"));
    return new DeadLetters(connections, service, clock, users);
  }

  /** @return the broker users whose dead letters are believed ({@link #setAsideBy(String)}) */
  public Set<String> believedUsers() {
    return setAsideBy;
  }

  /**
   * One request set aside. Every text comes from the message as it was set aside, hence from its sender:
   * escape it before showing it ({@code dev.skiff.platform.internal.Printable}).
   *
   * @param requestId its request id
   * @param endpoint the endpoint it was for
   * @param caller the caller's broker user, as proven when it was sent ("" when unknown)
   * @param code why it was set aside, in short: {@code too-large} or {@code delivery-limit}
   * @param reason why, in a sentence
   * @param queue the queue it was taken from
   * @param setAsideBy the instance that set it aside
   * @param setAsideAt when
   * @param deliveries its deliveries that had ended unsettled
   * @param bodyBytes the size of its body
   * @param bodyDiscarded whether its body was thrown away unread for its size (then it cannot be replayed)
   * @param sentBy the broker user that put it into the dead-letter queue, as the broker proved it ("" when
   *     none was proven)
   * @param suspect why it is not believed ("" when it is): not put there by a user that sets the service's
   *     requests aside, or naming a queue that is not the service's; a suspect one is never replayed
   */
  public record DeadLetter(
      String requestId,
      String endpoint,
      String caller,
      String code,
      String reason,
      String queue,
      String setAsideBy,
      Instant setAsideAt,
      int deliveries,
      long bodyBytes,
      boolean bodyDiscarded,
      String sentBy,
      String suspect) {}

  /**
   * What a replay did.
   *
   * @param replayed requests put back into the service's queue
   * @param notReplayable requests chosen that cannot be replayed (their body was thrown away unread); kept
   * @param suspect requests chosen that are not believed ({@link DeadLetter#suspect()}); kept
   */
  public record Replayed(int replayed, int notReplayable, int suspect) {}

  /** @return the service */
  public String service() {
    return service;
  }

  /**
   * @return how many requests wait in the queue
   * @throws SkiffException NOT_FOUND when the service has no dead-letter queue, UNAVAILABLE when the
   *     broker cannot be asked
   */
  public long count() {
    return withChannel(ch -> ch.queueDeclarePassive(queue).getMessageCount());
  }

  /**
   * The requests waiting, oldest first; nothing is removed.
   *
   * @param max the most to list
   * @return them
   * @throws SkiffException as {@link #count()}
   */
  public List<DeadLetter> list(int max) {
    List<DeadLetter> out = new ArrayList<>();
    walk(max, false, (got, d, ch) -> {
      out.add(d);
      return false;
    });
    return out;
  }

  /**
   * Puts requests back into the service's queue (the queue they came from; a request for one instance
   * goes to the service's queue, as that instance may be gone) as fresh requests: with a new deadline, no
   * reply address (nobody waits for them), their delivery count cleared, sent as this connection's user.
   * Each leaves the dead-letter queue once the broker has confirmed its copy. Suspect ones ({@link
   * DeadLetter#suspect()}) are kept and counted, never sent. A queue nobody consumes is refused, as
   * {@link #replay(Predicate, Duration, boolean)} without {@code evenIfStopped}.
   *
   * @param which which to replay
   * @param timeout each replayed request's time to be handled in (its deadline from now)
   * @return what was done
   * @throws SkiffException as {@link #count()}; BAD_REQUEST for a timeout that is not positive; NOT_FOUND
   *     when a queue to replay into does not exist, UNAVAILABLE when nobody consumes it (nothing is taken
   *     off for it, and the walk stops there)
   */
  public Replayed replay(Predicate<DeadLetter> which, Duration timeout) {
    return replay(which, timeout, false);
  }

  /**
   * As {@link #replay(Predicate, Duration)}, choosing what happens when nobody consumes the queue a request
   * goes back to (its service stopped: a service's queue stays an hour after its last instance, a
   * version's until it is deleted). Replayed there with a deadline, the broker would drop the copy unrun
   * once the deadline passed, and the dead letter would be gone too.
   *
   * @param which which to replay
   * @param timeout each replayed request's time to be handled in (its deadline from now), into a queue
   *     that has a consumer
   * @param evenIfStopped false: refuse such a queue (UNAVAILABLE, saying to start the service first);
   *     true: replay into it with no deadline and no expiry, so that the copy waits for the next instance
   *     (which gives it its default deadline when it takes it), within the queue's own expiry
   * @return what was done
   * @throws SkiffException as {@link #replay(Predicate, Duration)}
   */
  public Replayed replay(Predicate<DeadLetter> which, Duration timeout, boolean evenIfStopped) {
    if (timeout.isNegative() || timeout.isZero() || timeout.toMillis() > Headers.MAX_EXPIRATION_MILLIS) {
      throw new SkiffException(ErrorCode.BAD_REQUEST, "a replay's timeout must be positive and at most 2^32-1 ms: " + timeout);
    }
    int[] counts = new int[3];
    Map<String, Boolean> consumed = new HashMap<>();
    try {
      walk(Integer.MAX_VALUE, true, (got, d, ch) -> {
        if (!which.test(d)) {
          return false;
        }
        if (!d.suspect().isEmpty()) {
          counts[2]++;
          return false;
        }
        if (d.bodyDiscarded()) {
          counts[1]++;
          return false;
        }
        long now = clock.millis();
        String target = Objects.requireNonNull(replayTarget(service, d.queue()), "a believed dead letter names a queue of the service");
        // published to a queue that is gone (a service's expires an hour after its last instance stopped),
        // a request would be confirmed and lost; to one nobody consumes, it would expire there unrun
        boolean hasConsumer = consumed.computeIfAbsent(target, t -> mustBeConsumed(t, evenIfStopped));
        long deadline = hasConsumer ? now + timeout.toMillis() : 0;
        ch.basicPublish("", target, false, Headers.replayProperties(got.getProps(), now, deadline, connections.userName()),
            got.getBody());
        boolean taken;
        try {
          taken = ch.waitForConfirms(10_000);
        } catch (TimeoutException e) {
          throw new IOException("the broker did not confirm the replayed request within 10 s", e);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IOException("interrupted", e);
        }
        if (!taken) {
          throw new SkiffException(ErrorCode.CAPACITY, "the broker refused a replayed request into " + target
              + ": the queue is full (its length bound); the rest stay set aside: replay them once the service has worked its queue down");
        }
        counts[0]++;
        return true;
      });
    } catch (SkiffException e) {
      // what was replayed before it stays replayed: say how many
      throw new SkiffException(e.code(), e.description() + " (" + Counts.of(counts[0], "request") + " replayed before this)", e);
    }
    return new Replayed(counts[0], counts[1], counts[2]);
  }

  /**
   * The queue a dead letter taken from a queue goes back to, by Skiff's names ({@link AmqpNames}): the
   * service's own queue for its shared queue, one of its instances' (that instance may be gone) or its
   * refusals', a version's queue for a version's queue of the service; null for any other queue, another
   * service's among them.
   *
   * @param service the service
   * @param from the queue the dead letter says it was taken from ("" when it says none: the service's)
   * @return the queue to replay into, or null when {@code from} is not the service's
   */
  static String replayTarget(String service, String from) {
    String shared = AmqpNames.serviceQueue(service);
    String instances = AmqpNames.instanceQueue(service, "");
    if (from.isEmpty() || from.equals(shared) || from.equals(AmqpNames.refusalQueue(service))
        || (from.startsWith(instances) && from.length() > instances.length())) {
      return shared;
    }
    String versions = AmqpNames.versionQueue(service, "");
    return from.startsWith(versions) && from.length() > versions.length() ? from : null;
  }

  /**
   * Checks a queue requests are to be replayed into: it must exist and, unless {@code evenIfStopped}, have
   * a consumer. Fails naming the queue and what to do.
   *
   * @return whether it has a consumer
   */
  private boolean mustBeConsumed(String target, boolean evenIfStopped) {
    Channel probe = null;
    int consumers;
    try {
      probe = connections.channel();
      consumers = probe.queueDeclarePassive(target).getConsumerCount();
    } catch (IOException | RuntimeException e) {
      if (Channels.replyCode(e) == AMQP.NOT_FOUND) {
        throw new SkiffException(ErrorCode.NOT_FOUND, "the queue " + target + " the requests go back to does not exist (a service's"
            + " queue expires an hour after its last instance stopped; a version's when it stops): start the service, then replay;"
            + " nothing was taken off the dead-letter queue for it");
      }
      throw new SkiffException(ErrorCode.UNAVAILABLE, "cannot check the queue " + target + ": " + Channels.causes(e), e);
    } finally {
      Channel c = probe;
      Channels.quietly("close channel", () -> Channels.close(c));
    }
    if (consumers == 0 && !evenIfStopped) {
      throw new SkiffException(ErrorCode.UNAVAILABLE, "nobody consumes the queue " + target + " the requests go back to (no"
          + " instance of " + service + " serves it; a stopped service's queue stays an hour): replayed now, they would expire"
          + " there unrun; start the service, then replay, or replay even if stopped (skiff dead-letters replay"
          + " --even-if-stopped: they then wait without a deadline for the next instance, as long as the queue is kept);"
          + " nothing was taken off the dead-letter queue for it");
    }
    return consumers > 0;
  }

  /**
   * Removes requests for good.
   *
   * @param which which to remove
   * @return how many were removed
   * @throws SkiffException as {@link #count()}
   */
  public int discard(Predicate<DeadLetter> which) {
    int[] n = new int[1];
    walk(Integer.MAX_VALUE, false, (got, d, ch) -> {
      if (which.test(d)) {
        n[0]++;
        return true;
      }
      return false;
    });
    return n[0];
  }

  /** What to do with one dead letter met on a walk. */
  @FunctionalInterface
  private interface Visit {
    /** @return true to remove it from the queue (acknowledge it), false to leave it where it is */
    boolean visit(GetResponse got, DeadLetter d, Channel ch) throws IOException;
  }

  @FunctionalInterface
  private interface ChannelWork<T> {
    T run(Channel ch) throws IOException;
  }

  /**
   * Runs on a channel of its own, closed at the end: closing gives back, each in its place, the dead
   * letters taken and not acknowledged.
   */
  private <T> T withChannel(ChannelWork<T> work) {
    Channel ch = null;
    try {
      ch = connections.channel();
      return work.run(ch);
    } catch (SkiffException e) {
      throw e;
    } catch (IOException | RuntimeException e) {
      String why = Channels.causes(e);
      int code = Channels.replyCode(e);
      if (code == AMQP.NOT_FOUND) {
        throw new SkiffException(ErrorCode.NOT_FOUND, "service " + service + " has no dead-letter queue (" + queue
            + "): none of its instances has run with this version of Skiff, or the queue expired unused");
      }
      if (code == AMQP.ACCESS_REFUSED) {
        // the broker's reason once (it names the queue or exchange refused), not the whole chain of causes
        throw new SkiffException(ErrorCode.FORBIDDEN, "the broker refused: " + Channels.brokerWords(e, why));
      }
      throw new SkiffException(ErrorCode.UNAVAILABLE, "cannot work on " + queue + ": " + why, e);
    } finally {
      Channel c = ch;
      Channels.quietly("close channel", () -> Channels.close(c));
    }
  }

  /**
   * Visits up to {@code max} dead letters from the head, no further than the queue reached at the start.
   *
   * @param confirms whether the channel confirms publishes (to replay)
   */
  private void walk(int max, boolean confirms, Visit visit) {
    withChannel(ch -> {
      if (confirms) {
        ch.confirmSelect();
      }
      long waiting = ch.queueDeclarePassive(queue).getMessageCount();
      for (long i = 0; i < Math.min(waiting, max); i++) {
        GetResponse got = ch.basicGet(queue, false);
        if (got == null) {
          break;
        }
        if (visit.visit(got, read(got), ch)) {
          ch.basicAck(got.getEnvelope().getDeliveryTag(), false);
        }
      }
      return null;
    });
  }

  /** A dead letter as it lies in the queue, with whether it is believed ({@link DeadLetter#suspect()}). */
  private DeadLetter read(GetResponse got) {
    AMQP.BasicProperties p = got.getProps();
    Map<String, Object> h = p.getHeaders() == null ? Map.of() : p.getHeaders();
    long discarded = Headers.num(Headers.str(h, Headers.DEAD_BODY_BYTES));
    String caller = Headers.str(h, Headers.REQUEUED_CALLER);
    String sentBy = p.getUserId() == null ? "" : p.getUserId();
    String from = Headers.str(h, Headers.DEAD_QUEUE);
    String suspect;
    if (!setAsideBy.contains(sentBy)) {
      // the broker proves user_id: anyone with write on the default exchange can put a message here
      suspect = (sentBy.isEmpty() ? "sent by an unproven broker user" : "sent by broker user " + sentBy)
          + ", not by one that sets " + service + "'s requests aside (" + String.join(", ", new TreeSet<>(setAsideBy)) + ")";
    } else if (replayTarget(service, from) == null) {
      suspect = "it names " + from + ", not a queue of " + service;
    } else {
      suspect = "";
    }
    return new DeadLetter(
        p.getMessageId() == null ? "" : p.getMessageId(),
        p.getType() == null ? "" : p.getType(),
        // the original caller a fellow instance kept, believed only from a user that sets requests aside
        setAsideBy.contains(sentBy) && h.containsKey(Headers.REQUEUED_CALLER) ? caller : sentBy,
        Headers.str(h, Headers.DEAD_CODE),
        Headers.str(h, Headers.DEAD_REASON),
        from,
        Headers.str(h, Headers.DEAD_BY),
        Instant.ofEpochMilli(Headers.num(Headers.str(h, Headers.DEAD_AT))),
        (int) Math.min(Integer.MAX_VALUE, Headers.num(Headers.str(h, Headers.DELIVERIES))),
        discarded > 0 ? discarded : got.getBody().length,
        discarded > 0,
        sentBy,
        suspect);
  }
}
