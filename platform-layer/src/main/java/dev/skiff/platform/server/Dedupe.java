package dev.skiff.platform.server;

import dev.skiff.platform.transport.RequestMessage;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Makes a request id run at most once on this instance within the dedupe window: a request whose id
 * was answered here is answered again from the kept answer ({@link AnswerCache}); one whose id is running
 * here waits for that run's answer (a <em>follower</em>); only the first runs.
 *
 * <p>Keys name the endpoint, the request id and the reply encoding, so that the same id at another
 * endpoint, or asked for in JSON, is another request. An answer goes only to the request it answered:
 * each request's {@link #fingerprint} (its proven caller and its body) must be the first's, else the
 * request is answered CONFLICT and the first's answer stays unseen. Request ids show in traces and logs;
 * without this, anyone who read one could send it again, with any body, and get another caller's answer
 * (issue 17, docs/security.md "Hostile input"). Thread-safe.
 */
final class Dedupe {
  /** What a request is, as far as dedupe goes. */
  enum Role {
    /** The first with its id: run it. */
    FIRST,
    /** Its id was answered here: it has been answered from the kept answer. */
    ANSWERED,
    /** Its id is running here: it will be answered with that run's answer. */
    FOLLOWER,
    /**
     * Its id was answered or is running here for another caller or another body: it has been answered
     * CONFLICT.
     */
    CONFLICT
  }

  private static final ThreadLocal<MessageDigest> SHA_256 = ThreadLocal.withInitial(() -> {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every JDK", e);
    }
  });

  /** A request id running here, with the duplicates waiting for its answer. */
  private static final class Running {
    final ServerCall first;
    List<ServerCall> followers;
    AnswerCache.Answer answer;
    boolean abandoned;

    Running(ServerCall first) {
      this.first = first;
    }
  }

  private final AnswerCache answers;
  private final Map<String, Running> running = new ConcurrentHashMap<>();

  /**
   * @param windowMillis how long an answer is kept
   * @param maxBytes the most memory kept answers may take
   */
  Dedupe(long windowMillis, long maxBytes) {
    this.answers = new AnswerCache(windowMillis, maxBytes);
  }

  /**
   * @param endpoint the endpoint
   * @param requestId the request id (not empty)
   * @param replyType the encoding of the reply
   * @return the key a request is deduplicated by
   */
  static String key(String endpoint, String requestId, String replyType) {
    return endpoint + "/" + requestId + "/" + replyType;
  }

  /**
   * What a request is, for telling whether a kept answer is its own: the SHA-256 of its
   * broker-validated sender, the service it says it calls from, its session token (as sent: the
   * person's session), its body's encoding and its body. Two requests with the same fingerprint come
   * from the same proven caller and ask the same thing.
   *
   * @param req the request
   * @return {@value AnswerCache#FINGERPRINT} bytes
   */
  static byte[] fingerprint(RequestMessage req) {
    MessageDigest d = SHA_256.get();
    d.reset();
    update(d, req.userId());
    update(d, req.fromService());
    update(d, req.userToken());
    update(d, req.contentType());
    d.update(req.body());
    return d.digest();
  }

  /** Adds a text that may be absent, length first, so that no two sequences of texts digest alike. */
  private static void update(MessageDigest d, String text) {
    if (text == null) {
      d.update((byte) 0);
      return;
    }
    byte[] b = text.getBytes(StandardCharsets.UTF_8);
    d.update((byte) 1);
    d.update((byte) (b.length >>> 24));
    d.update((byte) (b.length >>> 16));
    d.update((byte) (b.length >>> 8));
    d.update((byte) b.length);
    d.update(b);
  }

  private static boolean sameRequest(byte[] a, byte[] b) {
    return MessageDigest.isEqual(a, b);
  }

  /**
   * Finds a request's role, answering it at once if its id was answered here, or making it a follower
   * if its id is running here; if that answer or run is another caller's, or for another body, it is
   * answered CONFLICT ({@link ServerCall#conflict}).
   *
   * @param call the request
   * @param key its key
   * @param nowMillis the time now
   * @return its role
   */
  Role join(ServerCall call, String key, long nowMillis) {
    AnswerCache.Kept kept = answers.get(key, nowMillis);
    if (kept != null) {
      if (!sameRequest(kept.fingerprint(), call.fingerprint())) {
        call.conflict();
        return Role.CONFLICT;
      }
      call.replyWith(kept.answer());
      return Role.ANSWERED;
    }
    Running fresh = new Running(call);
    for (;;) {
      Running first = running.putIfAbsent(key, fresh);
      if (first == null) {
        return Role.FIRST;
      }
      boolean conflict = false;
      synchronized (first) {
        if (first.answer != null || !first.abandoned) {
          if (!sameRequest(first.first.fingerprint(), call.fingerprint())) {
            conflict = true;
          } else if (first.answer != null) {
            call.replyWith(first.answer);
            return Role.ANSWERED;
          } else {
            if (first.followers == null) {
              first.followers = new ArrayList<>(2);
            }
            first.followers.add(call);
            return Role.FOLLOWER;
          }
        }
      }
      if (conflict) {
        call.conflict();
        return Role.CONFLICT;
      }
      // the first was handed back or dropped unrun: this one runs in its place
      if (running.replace(key, first, fresh)) {
        return Role.FIRST;
      }
    }
  }

  /**
   * A first request has its answer: keeps it (unless it is an error worth retrying) and returns the
   * followers, which the caller answers the same way.
   *
   * @param key the key
   * @param first the request that ran
   * @param answer its answer
   * @param keep whether to keep the answer for later duplicates
   * @param nowMillis the time now
   * @return the followers
   */
  List<ServerCall> answered(String key, ServerCall first, AnswerCache.Answer answer, boolean keep, long nowMillis) {
    if (keep) {
      answers.put(key, first.fingerprint(), answer.error(), answer.contentType(), answer.body(), nowMillis);
    }
    return end(key, first, r -> r.answer = answer);
  }

  /**
   * A first request will not run here (handed back, or dropped past its deadline): returns its
   * followers, which the caller settles the same way; a duplicate arriving later runs in its place.
   *
   * @param key the key
   * @param first the request
   * @return the followers
   */
  List<ServerCall> abandoned(String key, ServerCall first) {
    return end(key, first, r -> r.abandoned = true);
  }

  /** Ends the run of a first request: marks it (under its lock, as {@link #join} reads it) and takes its followers. */
  private List<ServerCall> end(String key, ServerCall first, java.util.function.Consumer<Running> mark) {
    Running r = running.get(key);
    if (r == null || r.first != first) {
      return List.of();
    }
    List<ServerCall> waiting;
    synchronized (r) {
      mark.accept(r);
      waiting = r.followers == null ? List.of() : r.followers;
    }
    running.remove(key, r);
    return waiting;
  }

  /**
   * @param nowMillis the time now
   * @return how many answers are kept
   */
  long keptAnswers(long nowMillis) {
    return answers.size(nowMillis);
  }
}
