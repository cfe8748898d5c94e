package dev.skiff.kernel.login;

import static dev.skiff.kernel.login.LoginFixture.ADMIN_PASSWORD;
import static dev.skiff.kernel.Refusals.refusal;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.skiff.kernel.Kernel;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.pubsub.PubSub;
import dev.skiff.platform.security.ServiceIdentities;
import dev.skiff.proto.v1.ListUsersRequest;
import dev.skiff.proto.v1.LoginRequest;
import dev.skiff.proto.v1.Session;
import dev.skiff.proto.v1.ThrottleEvent;
import dev.skiff.proto.v1.UnlockUserRequest;
import dev.skiff.proto.v1.UserInfo;
import dev.skiff.proto.v1.UserList;
import dev.skiff.proto.v1.UserResponse;
import dev.skiff.testing.RabbitMqExtension;
import java.time.Clock;
import java.time.Duration;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Two copies of the login service, each in a kernel on a connection of its own, on one store: they count
 * each other's failed logins ({@value LoginService#THROTTLE_TOPIC}), so that spreading guesses over them
 * gains nothing; an administrator's unlock at one reaches the other; and the events are believed only from
 * a broker user that may act as the login service.
 */
class LoginCopiesTest {
  @RegisterExtension static final RabbitMqExtension broker = RabbitMqExtension.create();

  /** The default rules with short delays: ten failures lock, in about half a second. */
  private static final LoginThrottle.Rules QUICK = new LoginThrottle.Rules(5, Duration.ofMillis(50), Duration.ofMillis(100), 10,
      Duration.ofMinutes(15), Duration.ofMinutes(15), 1000);

  private LoginFixture f;
  private final MemoryUserStore store = new MemoryUserStore(100, 100, Clock.systemUTC());

  @BeforeEach
  void setUp() {
    f = new LoginFixture(broker.amqpUri());
  }

  @AfterEach
  void tearDown() {
    f.close();
  }

  private record Copy(LoginService service, Kernel kernel) {
    long refusedEvents() {
      return kernel.metricsOf(service.name()).counter("skiff.login.refused-events").getCount();
    }
  }

  private Copy copy(ServiceIdentities identities) {
    LoginService s = new LoginService(LoginSettings.defaults().withThrottle(QUICK).withBootstrapAdminPassword(ADMIN_PASSWORD), store,
        Clock.systemUTC());
    return new Copy(s, f.startCopy(s, identities));
  }

  private Session login(Copy at, String user, String password) {
    return f.client().call(LoginService.SERVICE, "login", LoginRequest.newBuilder().setUser(user).setPassword(password).build(),
        Session.class, CallOptions.defaults().withInstance(at.service().copy()));
  }

  private SkiffException failAt(Copy at, String user) {
    return refusal(() -> login(at, user, "guess-" + System.nanoTime()));
  }

  private static long lockedUntil(Copy c, String user) {
    return c.service().throttle().lockedUntil(user, System.currentTimeMillis());
  }

  @Test
  void guessesSpreadOverTwoCopiesLockTheUserAtBothAndAnUnlockAtOneReachesTheOther() {
    Copy a = copy(ServiceIdentities.defaults());
    Copy b = copy(ServiceIdentities.defaults());
    String admin = login(a, "admin", ADMIN_PASSWORD).getToken();
    f.addUser(admin, "gina", "gina-password");

    for (int i = 0; i < 9; i++) {
      assertThat(failAt(a, "gina").code()).isEqualTo(ErrorCode.UNAUTHORIZED);
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> b.service().throttle().failuresOf("gina") == 9);
    SkiffException tenth = failAt(b, "gina");
    assertThat(tenth.code()).as("the tenth guess, the first at this copy, locks: it counted the other's nine").isEqualTo(ErrorCode.CAPACITY);
    assertThat(tenth.getMessage()).contains("user 'gina' is locked", "skiff users unlock gina");
    await().atMost(Duration.ofSeconds(10)).until(() -> lockedUntil(a, "gina") > 0);
    SkiffException rightAtA = refusal(() -> login(a, "gina", "gina-password"));
    assertThat(rightAtA.code()).as("locked at the first copy too, even with the right password").isEqualTo(ErrorCode.CAPACITY);
    for (Copy c : new Copy[] {a, b}) {
      UserList all = f.as(admin).call(LoginService.SERVICE, "users.list", ListUsersRequest.getDefaultInstance(), UserList.class,
          CallOptions.defaults().withInstance(c.service().copy()));
      assertThat(all.getUsersList()).filteredOn(u -> u.getUser().equals("gina")).extracting(UserInfo::getLocked).containsExactly(true);
    }

    UserResponse unlocked = f.as(admin).call(LoginService.SERVICE, "users.unlock", UnlockUserRequest.newBuilder().setUser("gina").build(),
        UserResponse.class, CallOptions.defaults().withInstance(b.service().copy()));
    assertThat(unlocked.getUser().getLocked()).isFalse();
    await().atMost(Duration.ofSeconds(10)).until(() -> lockedUntil(a, "gina") == 0);
    assertThat(login(a, "gina", "gina-password").getUser()).as("unlocked at the other copy; the password as it was").isEqualTo("gina");
    assertThat(a.refusedEvents() + b.refusedEvents()).isZero();
  }

  @Test
  void anUnlockNeedsAnAdministratorAndAKnownValidName() {
    Copy a = copy(ServiceIdentities.defaults());
    String admin = login(a, "admin", ADMIN_PASSWORD).getToken();
    f.addUser(admin, "hal", "hal-password-1");
    String hal = login(a, "hal", "hal-password-1").getToken();
    SkiffException notAdmin = refusal(() -> f.as(hal).call(LoginService.SERVICE, "users.unlock",
        UnlockUserRequest.newBuilder().setUser("hal").build(), UserResponse.class));
    assertThat(notAdmin.code()).isEqualTo(ErrorCode.FORBIDDEN);
    SkiffException unknown = refusal(() -> f.as(admin).call(LoginService.SERVICE, "users.unlock",
        UnlockUserRequest.newBuilder().setUser("nobody").build(), UserResponse.class));
    assertThat(unknown.code()).isEqualTo(ErrorCode.NOT_FOUND);
    assertThat(unknown.getMessage()).contains("no user 'nobody'");
    SkiffException bad = refusal(() -> f.as(admin).call(LoginService.SERVICE, "users.unlock",
        UnlockUserRequest.newBuilder().setUser("Bad\u001b[31mName").build(), UserResponse.class));
    assertThat(bad.code()).isEqualTo(ErrorCode.BAD_REQUEST);
    assertThat(bad.getMessage()).doesNotContain("\u001b");
    assertThat(f.as(admin).call(LoginService.SERVICE, "users.unlock", UnlockUserRequest.newBuilder().setUser("hal").build(),
        UserResponse.class).getUser().getLocked()).as("a user who is not locked: nothing to do, no error").isFalse();
  }

  @Test
  void failedLoginEventsAreBelievedOnlyFromTheLoginServicesBrokerUserAndOnlyWhenWellFormed() {
    // the copies connect as the tests' broker user, which these identities do not let act as the login service
    ServiceIdentities strict = new ServiceIdentities("skiff-kernel", Set.of(), Set.of());
    Copy a = copy(strict);
    Copy b = copy(strict);
    String admin = login(a, "admin", ADMIN_PASSWORD).getToken();
    f.addUser(admin, "ivy", "ivy-password");
    for (int i = 0; i < 3; i++) {
      failAt(a, "ivy");
    }
    PubSub forger = new PubSub(broker.transport());
    for (int i = 0; i < 10; i++) {
      forger.publish(LoginService.THROTTLE_TOPIC,
          ThrottleEvent.newBuilder().setUser("ivy").setCopy("forged").setFailedAtMs(System.currentTimeMillis()).build());
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> b.refusedEvents() >= 13);
    assertThat(b.service().throttle().failuresOf("ivy")).as("neither the other copy's events nor forged ones").isZero();
    assertThat(login(b, "ivy", "ivy-password").getUser()).isEqualTo("ivy");

    // believed senders, malformed events: ignored and counted
    Copy c = copy(ServiceIdentities.defaults());
    long before = c.refusedEvents();
    forger.publish(LoginService.THROTTLE_TOPIC, ThrottleEvent.newBuilder().setUser("Not A Name\n").setCopy("x").setFailedAtMs(1).build());
    forger.publish(LoginService.THROTTLE_TOPIC, ThrottleEvent.newBuilder().setUser("ivy").setCopy("x").setFailedAtMs(-5).build());
    await().atMost(Duration.ofSeconds(10)).until(() -> c.refusedEvents() == before + 2);
    assertThat(c.service().throttle().size()).isZero();
  }
}
