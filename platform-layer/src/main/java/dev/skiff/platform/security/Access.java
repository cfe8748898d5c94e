package dev.skiff.platform.security;

import dev.skiff.platform.ErrorCode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Who may call an endpoint, declared next to its handler ({@code Endpoint.withAccess(...)}): anyone,
 * authenticated services, named services, signed-in people, people with a role; combined with
 * {@link #or(Access)}. The server checks it before the handler runs and answers {@code UNAUTHORIZED} or
 * {@code FORBIDDEN} (docs/security.md). Immutable.
 *
 * <p>An endpoint that declares nothing gets {@link #byDefault()}: open to authenticated services, closed
 * to people unless they hold {@link Role#ADMIN}.
 */
public final class Access {
  private sealed interface Grant {}

  private record Anyone() implements Grant {}

  private record AnyService() implements Grant {}

  private record NamedServices(Set<String> names) implements Grant {}

  private record SignedIn() implements Grant {}

  private record WithRole(Role role) implements Grant {}

  private static final Access ANYONE = new Access(List.of(new Anyone()));
  private static final Access SERVICES = new Access(List.of(new AnyService()));
  private static final Access SIGNED_IN = new Access(List.of(new SignedIn()));
  private static final Access DEFAULT = new Access(List.of(new AnyService(), new WithRole(Role.ADMIN)));

  private final List<Grant> grants;
  /** Whether a grant lets in anyone: checked on every request, so worked out once. */
  private final boolean open;
  /** Whether a grant is for people (signed in, or with a role). */
  private final boolean forPeople;

  private Access(List<Grant> grants) {
    this.grants = List.copyOf(grants);
    this.open = this.grants.stream().anyMatch(g -> g instanceof Anyone);
    this.forPeople = this.grants.stream().anyMatch(g -> g instanceof SignedIn || g instanceof WithRole);
  }

  /** @return open to every caller, proven or not (a token that came with it is still checked, and a bad one refused) */
  public static Access anyone() {
    return ANYONE;
  }

  /** @return open to every authenticated calling service ({@link Caller#service()}), closed to people's tools */
  public static Access services() {
    return SERVICES;
  }

  /**
   * @param names the calling services allowed
   * @return open to those services only (their broker users proving them)
   */
  public static Access services(String... names) {
    if (names.length == 0) {
      throw new IllegalArgumentException("name at least one service, or use services() for all");
    }
    return new Access(List.of(new NamedServices(Collections.unmodifiableSet(new LinkedHashSet<>(List.of(names))))));
  }

  /** @return open to every person with a valid session token */
  public static Access signedIn() {
    return SIGNED_IN;
  }

  /**
   * @param role a role, in its text form ({@code ADMIN.CONFIG}, {@code ADMIN.ROUTES:com.example.greeter})
   * @return open to people holding a role that covers it ({@link Role#covers(Role)})
   */
  public static Access role(String role) {
    return role(Role.parse(role));
  }

  /**
   * @param role a role
   * @return open to people holding a role that covers it
   */
  public static Access role(Role role) {
    return new Access(List.of(new WithRole(Objects.requireNonNull(role, "role"))));
  }

  /**
   * What an endpoint that declares nothing gets: open to authenticated services, and to people holding
   * {@link Role#ADMIN}. Closed by default to people because an endpoint written for other services
   * usually trusts its input more than one meant for people; open to services because inside the
   * platform every caller has proven which service it is, and a service that needs more says so.
   *
   * @return the default
   */
  public static Access byDefault() {
    return DEFAULT;
  }

  /**
   * @param other another rule
   * @return open to whoever this or the other lets in
   */
  public Access or(Access other) {
    List<Grant> all = new ArrayList<>(grants);
    for (Grant g : other.grants) {
      if (!all.contains(g)) {
        all.add(g);
      }
    }
    return new Access(all);
  }

  /** @return whether it lets in every caller */
  public boolean isOpen() {
    return open;
  }

  /**
   * Whether a caller may call, and if not, with which code. A caller whose token was refused is
   * {@code UNAUTHORIZED} unless the endpoint is open to anyone, but {@code UNAVAILABLE} when it could not be
   * checked now ({@link TokenRejectedException.Reason#KEYS_UNAVAILABLE}: the login service's keys or ended
   * sessions cannot be had, e.g. while the broker connection recovers): the token may be good, and the
   * caller should try again, not throw it away; one that no grant lets in is
   * {@code UNAUTHORIZED} when signing in could help (a grant for people, and it came without a person)
   * and {@code FORBIDDEN} otherwise.
   *
   * @param caller the caller
   * @return the decision
   */
  public Decision check(Caller caller) {
    if (isOpen()) {
      return Decision.ALLOWED;
    }
    if (caller.tokenProblem().isPresent()) {
      TokenRejectedException problem = caller.tokenProblem().get();
      if (problem.reason() == TokenRejectedException.Reason.KEYS_UNAVAILABLE) {
        // a state of this service, not a fault of the token: retryable
        return new Decision(ErrorCode.UNAVAILABLE, "the session token cannot be checked now: " + problem.getMessage());
      }
      return new Decision(ErrorCode.UNAUTHORIZED, "the session token was refused: " + problem.getMessage());
    }
    for (Grant g : grants) {
      if (allows(g, caller)) {
        return Decision.ALLOWED;
      }
    }
    if (forPeople && caller.user().isEmpty()) {
      return new Decision(ErrorCode.UNAUTHORIZED, "sign in first: open to " + this);
    }
    return new Decision(ErrorCode.FORBIDDEN, "not allowed: open to " + this);
  }

  private static boolean allows(Grant g, Caller caller) {
    if (g instanceof AnyService) {
      return caller.service().isPresent();
    }
    if (g instanceof NamedServices n) {
      return caller.service().map(n.names()::contains).orElse(false);
    }
    if (g instanceof SignedIn) {
      return caller.user().isPresent();
    }
    if (g instanceof WithRole r) {
      return caller.hasRole(r.role());
    }
    return g instanceof Anyone;
  }

  /** @return who it lets in, as a phrase: {@code "services; users with role ADMIN"} */
  @Override
  public String toString() {
    return grants.stream().map(Access::describe).collect(Collectors.joining("; "));
  }

  private static String describe(Grant g) {
    if (g instanceof AnyService) {
      return "authenticated services";
    }
    if (g instanceof NamedServices n) {
      return "services " + String.join(", ", n.names());
    }
    if (g instanceof SignedIn) {
      return "signed-in users";
    }
    if (g instanceof WithRole r) {
      return "users with role " + r.role();
    }
    return "anyone";
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Access a && Set.copyOf(a.grants).equals(Set.copyOf(grants));
  }

  @Override
  public int hashCode() {
    return Set.copyOf(grants).hashCode();
  }

  /**
   * The answer to one caller.
   *
   * @param refusal the error code to answer with, or null when allowed
   * @param reason why not, for the caller and the audit log (no secrets), or "" when allowed
   */
  public record Decision(ErrorCode refusal, String reason) {
    /** The caller may call. */
    public static final Decision ALLOWED = new Decision(null, "");

    /** @return whether the caller may call */
    public boolean allowed() {
      return refusal == null;
    }
  }
}
