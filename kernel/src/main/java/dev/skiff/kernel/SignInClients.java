package dev.skiff.kernel;

import com.codahale.metrics.MetricRegistry;
import dev.skiff.platform.client.BreakerOptions;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.client.RetryPolicy;
import dev.skiff.platform.security.ServiceIdentities;
import dev.skiff.platform.transport.Transport;
import java.time.Duration;

/**
 * Makes the client through which people's sign-ins reach the login service, for whatever signs people in
 * on their behalf (the kernel's pages, the HTTP gateway): <b>without retries</b>, since a refused sign-in
 * must not be tried again behind the person's back, and <b>with a breaker that cannot open</b>, since the
 * login service answers {@code CAPACITY} for a name locked after failed sign-ins: counted as the service
 * failing, a flood of sign-ins for locked names would open the breaker and shut everyone's sign-in for
 * seconds at a time (docs/gateway.md, "Signing in"). Its counters add to the metrics given (the gauges are
 * the first client's of that registry). Stateless.
 */
public final class SignInClients {
  /** A breaker that never sees enough calls to open. */
  private static final BreakerOptions NEVER_OPENS = new BreakerOptions(Duration.ofSeconds(10), Integer.MAX_VALUE, 100,
      Duration.ofSeconds(1), 1);

  private SignInClients() {}

  /**
   * @param transport the broker connection (not owned)
   * @param name the service it calls for ({@code ""} for none)
   * @param identities who may act as whom (which replies to trust)
   * @param metrics where its counters go
   * @param timeout a call's deadline unless the call gives one
   * @return the client (the caller closes it)
   */
  public static Client create(Transport transport, String name, ServiceIdentities identities, MetricRegistry metrics, Duration timeout) {
    return Client.builder().transport(transport).name(name).identities(identities).metrics(metrics).defaultTimeout(timeout)
        .retryPolicy(RetryPolicy.none()).circuitBreaker(NEVER_OPENS).build();
  }
}
