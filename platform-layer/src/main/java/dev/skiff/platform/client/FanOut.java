package dev.skiff.platform.client;

import com.google.protobuf.Message;
import dev.skiff.platform.SkiffException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * Many calls at once, at most {@code maxConcurrency} in flight together, with every result and every
 * error kept apart. Calls start as they are added (or as soon as a slot frees); {@link #awaitAll()}
 * waits for all of them. One call's failure does not fail the others.
 *
 * <pre>{@code
 * FanOut fan = ctx.client().fanOut(8);
 * FanOut.Pending<EtaResponse> eta = fan.call("com.example.eta", "estimate", req, EtaResponse.class);
 * FanOut.Pending<FareResponse> fare = fan.call("com.example.fare", "quote", req, FareResponse.class);
 * fan.awaitAll();
 * int minutes = eta.get().getMinutes();            // throws that call's SkiffException if it failed
 * }</pre>
 *
 * <p>Thread-safe. Each call's deadline comes from the client it was made from, so a fan-out inside a
 * handler stays within the request's deadline.
 */
public final class FanOut {
  private final Client client;
  private final int maxConcurrency;
  private final Queue<Runnable> waiting = new ArrayDeque<>();
  private final List<Pending<?>> all = Collections.synchronizedList(new ArrayList<>());
  private int running;

  FanOut(Client client, int maxConcurrency) {
    if (maxConcurrency <= 0) {
      throw new IllegalArgumentException("maxConcurrency must be positive: " + maxConcurrency);
    }
    this.client = client;
    this.maxConcurrency = maxConcurrency;
  }

  /**
   * Adds a call.
   *
   * @param service the service
   * @param endpoint the endpoint
   * @param request the request
   * @param responseType the response class
   * @param <R> the response type
   * @return the call's handle
   */
  public <R extends Message> Pending<R> call(
      String service, String endpoint, Message request, Class<R> responseType) {
    return call(service, endpoint, request, responseType, CallOptions.defaults());
  }

  /**
   * Adds a call with options.
   *
   * @param service the service
   * @param endpoint the endpoint
   * @param request the request
   * @param responseType the response class
   * @param options timeout, instance, request id
   * @param <R> the response type
   * @return the call's handle
   */
  public <R extends Message> Pending<R> call(
      String service, String endpoint, Message request, Class<R> responseType, CallOptions options) {
    return add(() -> client.callAsync(service, endpoint, request, responseType, options));
  }

  private <R> Pending<R> add(Supplier<CompletableFuture<R>> start) {
    Pending<R> p = new Pending<>();
    all.add(p);
    Runnable launch =
        () ->
            start
                .get()
                .whenComplete(
                    (v, e) -> {
                      if (e != null) {
                        p.future.completeExceptionally(SkiffException.of(e));
                      } else {
                        p.future.complete(v);
                      }
                      next();
                    });
    boolean now;
    synchronized (this) {
      now = running < maxConcurrency;
      if (now) {
        running++;
      } else {
        waiting.add(launch);
      }
    }
    if (now) {
      launch.run();
    }
    return p;
  }

  private void next() {
    Runnable r;
    synchronized (this) {
      r = waiting.poll();
      if (r == null) {
        running--;
        return;
      }
    }
    r.run();
  }

  /**
   * Waits until every call added so far has finished.
   *
   * @return the outcome of all of them
   */
  public Result awaitAll() {
    return Client.await(allAsync());
  }

  /** @return a stage that completes when every call added so far has finished; it never fails */
  public CompletableFuture<Result> allAsync() {
    List<Pending<?>> snapshot;
    synchronized (all) {
      snapshot = List.copyOf(all);
    }
    CompletableFuture<?>[] fs = snapshot.stream().map(p -> p.future.handle((v, e) -> null)).toArray(CompletableFuture[]::new);
    return CompletableFuture.allOf(fs).thenApply(v -> new Result(snapshot));
  }

  /**
   * One call of a fan-out.
   *
   * @param <R> the response type
   */
  public static final class Pending<R> {
    private final CompletableFuture<R> future = new CompletableFuture<>();

    private Pending() {}

    /**
     * The response, waiting for it if need be.
     *
     * @return the response
     * @throws SkiffException this call's failure
     */
    public R get() {
      return Client.await(future);
    }

    /** @return this call's failure, if it has failed; empty while running or after success */
    public Optional<SkiffException> error() {
      if (!future.isCompletedExceptionally()) {
        return Optional.empty();
      }
      try {
        future.join();
        return Optional.empty();
      } catch (RuntimeException e) {
        return Optional.of(SkiffException.of(e));
      }
    }

    /** @return the call as a future */
    public CompletableFuture<R> future() {
      return future;
    }
  }

  /** The outcome of a fan-out: how many succeeded, and each failure. */
  public static final class Result {
    private final List<Pending<?>> calls;

    private Result(List<Pending<?>> calls) {
      this.calls = calls;
    }

    /** @return the number of calls */
    public int size() {
      return calls.size();
    }

    /** @return how many calls succeeded */
    public int succeeded() {
      return (int) calls.stream().filter(p -> p.error().isEmpty()).count();
    }

    /** @return the failures, in the order the calls were added */
    public List<SkiffException> errors() {
      return calls.stream().flatMap(p -> p.error().stream()).toList();
    }

    /** @return true when every call succeeded */
    public boolean allSucceeded() {
      return errors().isEmpty();
    }
  }
}
