package dev.skiff.platform.server;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What the other instances of a service served over the last window, from the cumulative counts each
 * publishes in its health reports: per peer, the reports received within the window, so that its recent
 * counts are the last report's minus the first's. Bounded: past {@code maxPeers} the peer heard from
 * least recently is forgotten (and counted), so a flood of made-up instance ids costs nothing lasting.
 *
 * <p>Pure (the caller passes the time) and thread-safe.
 */
final class PeerOutcomes {
  /** Requests and failures, over some time. */
  record Counts(long requests, long failures) {
    static final Counts NONE = new Counts(0, 0);

    /** @return the failures' share, in percent; 0 with no requests */
    double failurePercent() {
      return requests == 0 ? 0 : 100.0 * failures / requests;
    }
  }

  private record Snapshot(long atMillis, long requests, long failures) {}

  private final long windowMillis;
  private final int maxPeers;
  /** By instance id, the least recently heard from first. */
  private final Map<String, Deque<Snapshot>> peers = new LinkedHashMap<>();

  PeerOutcomes(long windowMillis, int maxPeers) {
    this.windowMillis = windowMillis;
    this.maxPeers = maxPeers;
  }

  /**
   * Records a peer's report.
   *
   * @param instance the peer's instance id
   * @param nowMillis when it arrived
   * @param requests the requests it served since it started
   * @param failures how many of them failed
   * @return true if a peer was forgotten to make room
   */
  synchronized boolean report(String instance, long nowMillis, long requests, long failures) {
    Deque<Snapshot> history = peers.remove(instance);
    if (history == null) {
      history = new ArrayDeque<>();
    }
    Snapshot last = history.peekLast();
    if (last != null && (requests < last.requests() || failures < last.failures())) {
      history.clear(); // counts went back: not the same run of it; start over
    } else if (history.size() >= 2 && nowMillis - history.peekLast().atMillis() < windowMillis / 32) {
      history.removeLast(); // a report soon after the last replaces it: at most ~32 kept per peer
    }
    history.addLast(new Snapshot(nowMillis, requests, failures));
    peers.put(instance, history);
    if (peers.size() <= maxPeers) {
      return false;
    }
    Iterator<String> oldest = peers.keySet().iterator();
    oldest.next();
    oldest.remove();
    return true;
  }

  /**
   * What every peer together served in the window ending now; drops what is older.
   *
   * @param nowMillis now
   * @return the counts
   */
  synchronized Counts recent(long nowMillis) {
    long requests = 0;
    long failures = 0;
    for (Iterator<Deque<Snapshot>> it = peers.values().iterator(); it.hasNext(); ) {
      Deque<Snapshot> history = it.next();
      while (!history.isEmpty() && history.peekFirst().atMillis() < nowMillis - windowMillis) {
        history.removeFirst();
      }
      if (history.isEmpty()) {
        it.remove();
        continue;
      }
      requests = saturatedAdd(requests, history.peekLast().requests() - history.peekFirst().requests());
      failures = saturatedAdd(failures, history.peekLast().failures() - history.peekFirst().failures());
    }
    return new Counts(requests, Math.min(failures, requests));
  }

  private static long saturatedAdd(long a, long b) {
    long r = a + b;
    return r < 0 ? Long.MAX_VALUE : r; // both are never negative
  }

  /** @return how many peers are remembered */
  synchronized int size() {
    return peers.size();
  }
}
