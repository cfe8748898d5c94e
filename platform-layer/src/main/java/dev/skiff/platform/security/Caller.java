package dev.skiff.platform.security;

import java.util.Objects;
import java.util.Optional;

/**
 * Who is calling, as far as it is proven: the broker user the request was published as, the calling
 * service when that user may act as the service the request names, and the person whose session token
 * came with it. Built by the server from what the broker and the token's signature prove, never from what
 * the caller says of itself; a handler reads it from
 * {@link dev.skiff.platform.server.RequestContext#caller()}. Immutable.
 */
public final class Caller {
  private final String brokerUser;
  private final String service;
  private final UserIdentity user;
  private final TokenRejectedException tokenProblem;

  private Caller(String brokerUser, String service, UserIdentity user, TokenRejectedException tokenProblem) {
    this.brokerUser = brokerUser;
    this.service = service;
    this.user = user;
    this.tokenProblem = tokenProblem;
  }

  /**
   * A caller as a request proves it.
   *
   * @param brokerUser the broker-validated sender, or null when the request proves none
   * @param claimedService the service the request says it comes from ("" for a tool such as the CLI)
   * @param identities which broker user may act as which service
   * @param user the person its token proves, or null when it carried none or it was refused
   * @param tokenProblem why its token was refused, or null when it carried none or it was accepted
   * @return the caller
   */
  public static Caller of(
      String brokerUser, String claimedService, ServiceIdentities identities, UserIdentity user, TokenRejectedException tokenProblem) {
    Objects.requireNonNull(identities, "identities");
    String service = null;
    if (brokerUser != null) {
      if (identities.sharedUsers().contains(brokerUser)) {
        // development: a shared user may act as every service, a tool included
        service = claimedService == null || claimedService.isEmpty() ? brokerUser : claimedService;
      } else if (claimedService != null && !claimedService.isEmpty() && identities.mayActAs(brokerUser, claimedService)) {
        service = claimedService;
      }
    }
    return new Caller(brokerUser, service, user, tokenProblem);
  }

  /** @return the broker user the request was published as, if the broker proved one */
  public Optional<String> brokerUser() {
    return Optional.ofNullable(brokerUser);
  }

  /**
   * The calling service: the service the request names when its broker user may act as it (or any
   * non-empty name for a shared development user). Empty for a tool acting for a person (the CLI, the
   * gateway's edge calls name no service) and for a request that proves no broker user.
   *
   * @return the proven calling service
   */
  public Optional<String> service() {
    return Optional.ofNullable(service);
  }

  /** @return the person whose valid session token came with the request (also on nested calls) */
  public Optional<UserIdentity> user() {
    return Optional.ofNullable(user);
  }

  /** @return why the request's token was refused, when it carried one that was */
  public Optional<TokenRejectedException> tokenProblem() {
    return Optional.ofNullable(tokenProblem);
  }

  /**
   * @param role a role
   * @return whether the request comes with a person holding a role that covers it
   */
  public boolean hasRole(Role role) {
    return user != null && user.hasRole(role);
  }

  /** @return a short description for logs and the audit log: broker user, service and user */
  @Override
  public String toString() {
    return "broker user " + (brokerUser == null ? "(none)" : brokerUser)
        + ", service " + (service == null ? "(none)" : service)
        + ", user " + (user == null ? "(none)" : user.user());
  }
}
