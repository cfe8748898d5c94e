package dev.skiff.platform.internal;

import dev.skiff.platform.observe.ClientEvent;
import dev.skiff.platform.observe.RpcObserver;
import dev.skiff.platform.observe.ServerEvent;
import java.util.List;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Several observers as one, each shielded from the others' failures. Not API. */
public final class Observers implements RpcObserver {
  private static final Logger log = LoggerFactory.getLogger(Observers.class);
  private final List<RpcObserver> all;

  /** @param all the observers */
  public Observers(List<RpcObserver> all) {
    this.all = List.copyOf(all);
  }

  /** @return whether there are none (callers can then skip building events) */
  public boolean isEmpty() {
    return all.isEmpty();
  }

  /** @return the observers */
  public List<RpcObserver> list() {
    return all;
  }

  @Override
  public void onServerRequest(ServerEvent event) {
    tellEach(RpcObserver::onServerRequest, event);
  }

  @Override
  public void onClientAttempt(ClientEvent event) {
    tellEach(RpcObserver::onClientAttempt, event);
  }

  /** Tells every observer of the event; one that fails is logged and the others still hear of it. */
  private <E> void tellEach(BiConsumer<RpcObserver, E> tell, E event) {
    for (RpcObserver o : all) {
      try {
        tell.accept(o, event);
      } catch (RuntimeException e) {
        log.warn("observer {} failed", o, e);
      }
    }
  }

  @Override
  public boolean sampleNewTrace(String service, String endpoint) {
    for (RpcObserver o : all) {
      try {
        if (o.sampleNewTrace(service, endpoint)) {
          return true;
        }
      } catch (RuntimeException e) {
        log.warn("observer {} failed", o, e);
      }
    }
    return false;
  }
}
