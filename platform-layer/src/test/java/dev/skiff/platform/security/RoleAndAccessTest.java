package dev.skiff.platform.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.skiff.platform.ErrorCode;
import java.time.Instant;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class RoleAndAccessTest {
  private static final ServiceIdentities PRODUCTION =
      ServiceIdentities.fromEnvironment(Map.of("SKIFF_SHARED_BROKER_USERS", ""));

  private static UserIdentity user(String name, String... roles) {
    Set<Role> held = new java.util.HashSet<>();
    for (String r : roles) {
      held.add(Role.parse(r));
    }
    return new UserIdentity(name, held, "s-1", Instant.EPOCH, Instant.MAX);
  }

  private static Caller tool(UserIdentity user) {
    return Caller.of("skiff-cli", "", PRODUCTION, user, null);
  }

  private static Caller service(String name) {
    return Caller.of(name, name, PRODUCTION, null, null);
  }

  @Test
  void aRoleCoversItsDescendantsButNotItsAncestorsNorLookalikes() {
    assertThat(Role.ADMIN.covers(Role.of("ADMIN.CONFIG"))).isTrue();
    assertThat(Role.ADMIN.covers(Role.of("ADMIN"))).isTrue();
    assertThat(Role.of("ADMIN.CONFIG").covers(Role.ADMIN)).isFalse();
    assertThat(Role.ADMIN.covers(Role.of("ADMINISTRATIVE"))).isFalse();
    assertThat(Role.of("ADMIN.CONFIG").covers(Role.of("ADMIN.CONFIG.WRITE"))).isTrue();
  }

  @Test
  void aScopedRoleCoversOnlyItsScopeAndAnUnscopedOneCoversEvery() {
    Role greeterRoutes = Role.parse("ADMIN.ROUTES:com.example.greeter");
    assertThat(greeterRoutes.covers(Role.parse("ADMIN.ROUTES:com.example.greeter"))).isTrue();
    assertThat(greeterRoutes.covers(Role.parse("ADMIN.ROUTES:com.example.bookings"))).isFalse();
    assertThat(greeterRoutes.covers(Role.of("ADMIN.ROUTES"))).isFalse();
    assertThat(Role.of("ADMIN.ROUTES").covers(greeterRoutes)).isTrue();
    assertThat(Role.ADMIN.covers(greeterRoutes)).isTrue();
    assertThat(greeterRoutes.toString()).isEqualTo("ADMIN.ROUTES:com.example.greeter");
  }

  @Test
  void hostileRoleTextIsRefusedWithoutEchoingControlCharacters() {
    assertThatThrownBy(() -> Role.parse("admin")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Role.parse("ADMIN..X")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Role.parse("ADMIN:")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Role.parse("ADMIN\u001b[31m"))
        .isInstanceOf(IllegalArgumentException.class)
        .message().doesNotContain("\u001b").contains("\\u001b");
  }

  @Test
  void theDefaultIsOpenToServicesAndToAdministratorsOnly() {
    Access d = Access.byDefault();
    assertThat(d.check(service("com.example.bookings")).allowed()).isTrue();
    assertThat(d.check(tool(user("root", "ADMIN"))).allowed()).isTrue();
    assertThat(d.check(tool(user("bob", "ADMIN.CONFIG"))).refusal()).isEqualTo(ErrorCode.FORBIDDEN);
    assertThat(d.check(tool(null)).refusal()).isEqualTo(ErrorCode.UNAUTHORIZED);
    assertThat(d.check(Caller.of(null, "com.example.bookings", PRODUCTION, null, null)).refusal())
        .isEqualTo(ErrorCode.UNAUTHORIZED);
  }

  @Test
  void aServiceIsProvenOnlyByABrokerUserThatMayActAsIt() {
    assertThat(Caller.of("com.example.mallory", "com.example.bookings", PRODUCTION, null, null).service()).isEmpty();
    assertThat(Caller.of("com.example.bookings", "com.example.bookings", PRODUCTION, null, null).service())
        .contains("com.example.bookings");
    assertThat(Caller.of("guest", "", ServiceIdentities.defaults(), null, null).service()).contains("guest");
  }

  @Test
  void namedServicesRolesAndSignedInUsers() {
    Access bookingsOnly = Access.services("com.example.bookings");
    assertThat(bookingsOnly.check(service("com.example.bookings")).allowed()).isTrue();
    assertThat(bookingsOnly.check(service("com.example.other")).refusal()).isEqualTo(ErrorCode.FORBIDDEN);
    Access config = Access.role("ADMIN.CONFIG");
    assertThat(config.check(tool(user("ann", "ADMIN"))).allowed()).isTrue();
    assertThat(config.check(tool(user("bob", "ADMIN.CONFIG"))).allowed()).isTrue();
    assertThat(config.check(tool(user("cat", "ADMIN.ROUTES"))).refusal()).isEqualTo(ErrorCode.FORBIDDEN);
    assertThat(config.check(service("com.example.bookings")).refusal()).isEqualTo(ErrorCode.UNAUTHORIZED);
    assertThat(Access.signedIn().check(tool(user("dan"))).allowed()).isTrue();
    assertThat(Access.signedIn().check(tool(null)).refusal()).isEqualTo(ErrorCode.UNAUTHORIZED);
    Access either = bookingsOnly.or(config);
    assertThat(either.check(service("com.example.bookings")).allowed()).isTrue();
    assertThat(either.check(tool(user("bob", "ADMIN.CONFIG"))).allowed()).isTrue();
    assertThat(either.toString()).isEqualTo("services com.example.bookings; users with role ADMIN.CONFIG");
  }

  @Test
  void aRefusedTokenIsUnauthorizedEvenForAServiceButNotOnAnOpenEndpoint() {
    Caller withBadToken = Caller.of("com.example.bookings", "com.example.bookings", PRODUCTION, null,
        new TokenRejectedException(TokenRejectedException.Reason.EXPIRED, "the session token has expired"));
    Access.Decision d = Access.byDefault().check(withBadToken);
    assertThat(d.refusal()).isEqualTo(ErrorCode.UNAUTHORIZED);
    assertThat(d.reason()).contains("expired");
    assertThat(Access.anyone().check(withBadToken).allowed()).isTrue();
  }

  @Test
  void aTokenThatCannotBeCheckedNowIsUnavailableNotUnauthorized() {
    Caller c = Caller.of("com.example.bookings", "com.example.bookings", PRODUCTION, null,
        new TokenRejectedException(TokenRejectedException.Reason.KEYS_UNAVAILABLE,
            "ended sessions cannot be checked while the broker connection is lost; try again in a moment"));
    Access.Decision d = Access.signedIn().check(c);
    assertThat(d.refusal()).as("a state of the service, retryable: the token may be good").isEqualTo(ErrorCode.UNAVAILABLE);
    assertThat(d.refusal().isRetryable()).isTrue();
    assertThat(d.reason()).isEqualTo("the session token cannot be checked now: ended sessions cannot be checked while the broker"
        + " connection is lost; try again in a moment");
    assertThat(Access.anyone().check(c).allowed()).as("an open endpoint does not read the token").isTrue();
  }
}
