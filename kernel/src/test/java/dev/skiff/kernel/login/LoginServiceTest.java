package dev.skiff.kernel.login;

import static dev.skiff.kernel.login.LoginFixture.ADMIN_PASSWORD;
import static dev.skiff.kernel.Refusals.assertRefused;
import static dev.skiff.kernel.Refusals.refusal;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.PlainHeader;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.PlainJWT;
import com.nimbusds.jwt.SignedJWT;
import dev.skiff.kernel.TestClock;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.proto.v1.ChangePasswordRequest;
import dev.skiff.proto.v1.KeysRequest;
import dev.skiff.proto.v1.KeysResponse;
import dev.skiff.proto.v1.ListUsersRequest;
import dev.skiff.proto.v1.LogoutRequest;
import dev.skiff.proto.v1.LogoutResponse;
import dev.skiff.proto.v1.RenewRequest;
import dev.skiff.proto.v1.Session;
import dev.skiff.proto.v1.SetRolesRequest;
import dev.skiff.proto.v1.UserInfo;
import dev.skiff.proto.v1.UserList;
import dev.skiff.proto.v1.UserResponse;
import dev.skiff.proto.v1.WhoAmIRequest;
import dev.skiff.testing.RabbitMqExtension;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The login service over a real RabbitMQ, its tokens checked by another process's default verifier (the
 * probe: a server on a broker connection of its own). Store: memory (see {@link CassandraLoginTest}).
 */
class LoginServiceTest {
  @RegisterExtension static final RabbitMqExtension broker = RabbitMqExtension.create();

  private LoginFixture f;
  private MemoryUserStore store;

  @BeforeEach
  void setUp() {
    f = new LoginFixture(broker.amqpUri());
  }

  @AfterEach
  void tearDown() {
    f.close();
  }

  private LoginService start(LoginSettings settings) {
    store = new MemoryUserStore(1000, 1000, Clock.systemUTC());
    return f.startLogin(settings.withBootstrapAdminPassword(ADMIN_PASSWORD), store);
  }

  private LoginService start() {
    return start(LoginSettings.defaults());
  }

  private String adminToken() {
    return f.login("admin", ADMIN_PASSWORD).getToken();
  }

  @Test
  void aLoginServiceMadeFromGivenVariablesTakesItsSettingsFromThem() {
    f.startLogin(new LoginService(Map.of("SKIFF_BOOTSTRAP_ADMIN_PASSWORD", ADMIN_PASSWORD, "SKIFF_LOGIN_TOKEN_TTL", "2m")));
    long now = System.currentTimeMillis();
    Session s = f.login("admin", ADMIN_PASSWORD);
    assertThat(s.getRolesList()).containsExactly("ADMIN");
    assertThat(s.getExpiresAtMs()).isBetween(now + 60_000, now + 2 * 60_000 + 1000);
  }

  @Test
  void aRightPasswordSignsInAndAWrongOneOrAWrongUserGetTheSameAnswer() {
    start();
    Session s = f.login("admin", ADMIN_PASSWORD);
    assertThat(s.getUser()).isEqualTo("admin");
    assertThat(s.getRolesList()).containsExactly("ADMIN");
    assertThat(s.getToken().split("\\.")).hasSize(3);
    assertThat(s.getExpiresAtMs()).isBetween(System.currentTimeMillis() + 14 * 60_000, System.currentTimeMillis() + 15 * 60_000 + 1000);
    assertThat(s.getSessionEndsAtMs()).isGreaterThan(System.currentTimeMillis() + 11 * 3_600_000L);
    assertThat(f.probe("whoami", s.getToken())).isEqualTo("admin");
    Session me = f.as(s.getToken()).call(LoginService.SERVICE, "whoami", WhoAmIRequest.getDefaultInstance(), Session.class);
    assertThat(me.getUser()).isEqualTo("admin");
    assertThat(me.getToken()).as("whoami never echoes a token").isEmpty();

    SkiffException wrongPassword = refusal(() -> f.login("admin", "not-the-password"));
    SkiffException wrongUser = refusal(() -> f.login("nobody", ADMIN_PASSWORD));
    assertThat(wrongPassword.code()).isEqualTo(ErrorCode.UNAUTHORIZED);
    assertThat(wrongUser.code()).isEqualTo(ErrorCode.UNAUTHORIZED);
    assertThat(wrongPassword.getMessage()).isEqualTo(wrongUser.getMessage().replace("nobody", "admin"))
        .doesNotContain(ADMIN_PASSWORD, "not-the-password");
    // calls without a token to endpoints for people are UNAUTHORIZED
    assertRefused(() -> f.client().call(LoginService.SERVICE, "whoami", WhoAmIRequest.getDefaultInstance(), Session.class),
        ErrorCode.UNAUTHORIZED);
    assertRefused(() -> f.client().call(LoginService.SERVICE, "users.list", ListUsersRequest.getDefaultInstance(), UserList.class),
        ErrorCode.UNAUTHORIZED);
  }

  @Test
  void aTokenWithOneByteChangedIsRefused() {
    start();
    String token = f.login("admin", ADMIN_PASSWORD).getToken();
    String[] parts = token.split("\\.");
    for (int part = 0; part < 3; part++) {
      char[] c = parts[part].toCharArray();
      int i = c.length / 2;
      c[i] = c[i] == 'A' ? 'B' : 'A';
      String[] changed = parts.clone();
      changed[part] = new String(c);
      String forged = String.join(".", changed);
      assertRefused(() -> f.probe("whoami", forged), ErrorCode.UNAUTHORIZED, "session token");
    }
    assertThat(f.probe("whoami", token)).isEqualTo("admin");
  }

  @Test
  void anExpiredTokenIsRefusedAndRenewingBeforeGivesANewOne() {
    start(LoginSettings.defaults().withTokenTtl(Duration.ofSeconds(2)));
    Session s = f.login("admin", ADMIN_PASSWORD);
    assertThat(f.probe("whoami", s.getToken())).isEqualTo("admin");
    Session renewed = f.as(s.getToken()).call(LoginService.SERVICE, "renew", RenewRequest.getDefaultInstance(), Session.class);
    assertThat(renewed.getSessionId()).isEqualTo(s.getSessionId());
    assertThat(renewed.getToken()).isNotEqualTo(s.getToken());
    // past its expiry and the verifiers' clock skew allowance (5 s): refused, even though it is cached
    awaitProbeRefuses(s.getToken(), "expired", Duration.ofMillis(200));
    assertThat(f.probeMetrics.counter("skiff.tokens.refused.EXPIRED").getCount()).isPositive();
  }

  /**
   * Waits (30 s at most) until the probe's verifier refuses a token as {@code UNAUTHORIZED} for a reason
   * its message names.
   */
  private void awaitProbeRefuses(String token, String reason, Duration pollInterval) {
    await().atMost(Duration.ofSeconds(30)).pollInterval(pollInterval).until(() -> {
      try {
        f.probe("whoami", token);
        return false;
      } catch (SkiffException e) {
        return e.code() == ErrorCode.UNAUTHORIZED && e.getMessage().contains(reason);
      }
    });
  }

  @Test
  void aLogoutIsRefusedByAnotherProcessesVerifierAtOnceAlsoWhenTheTokenIsCached() {
    start();
    List<Long> latencies = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      Session s = f.login("admin", ADMIN_PASSWORD);
      assertThat(f.probe("whoami", s.getToken())).isEqualTo("admin");
      long hits = f.probeMetrics.counter("skiff.tokens.cache-hits").getCount();
      assertThat(f.probe("whoami", s.getToken())).isEqualTo("admin");
      assertThat(f.probeMetrics.counter("skiff.tokens.cache-hits").getCount()).as("cached").isEqualTo(hits + 1);

      f.as(s.getToken()).call(LoginService.SERVICE, "logout", LogoutRequest.getDefaultInstance(), LogoutResponse.class);
      long loggedOut = System.nanoTime();
      awaitProbeRefuses(s.getToken(), "revoked", Duration.ofMillis(5));
      latencies.add((System.nanoTime() - loggedOut) / 1_000_000);
      // and the login service itself refuses it too (renew, whoami)
      assertRefused(() -> f.as(s.getToken()).call(LoginService.SERVICE, "renew", RenewRequest.getDefaultInstance(), Session.class),
          ErrorCode.UNAUTHORIZED);
    }
    System.out.println("revoked token first refused by another process's verifier after (ms, from logout's answer): " + latencies);
  }

  @Test
  void aVerifierStartedAfterTheLogoutCatchesUpAndRefusesTheToken() {
    start();
    Session s = f.login("admin", ADMIN_PASSWORD);
    f.as(s.getToken()).call(LoginService.SERVICE, "logout", LogoutRequest.getDefaultInstance(), LogoutResponse.class);
    // the probe's verifier starts listening only now: it learns of the logout through revocations(since)
    assertRefused(() -> f.probe("whoami", s.getToken()), ErrorCode.UNAUTHORIZED, "revoked");
  }

  @Test
  void aPasswordChangeEndsEverySessionOfTheUser() {
    start();
    String admin = adminToken();
    f.addUser(admin, "bob", "bob-password-1");
    String bob1 = f.login("bob", "bob-password-1").getToken();
    String bob2 = f.login("bob", "bob-password-1").getToken();
    assertThat(f.probe("whoami", bob1)).isEqualTo("bob");
    assertThat(f.probe("whoami", bob2)).isEqualTo("bob");

    // bob may not change another's password, nor his own with a wrong old one
    assertRefused(() -> passwd(bob1, "admin", "", "whatever-123"), ErrorCode.FORBIDDEN);
    assertRefused(() -> passwd(bob1, "", "wrong-old-password", "bob-password-2"), ErrorCode.UNAUTHORIZED, "old password");
    assertRefused(() -> passwd(bob1, "", "bob-password-1", "short"), ErrorCode.BAD_REQUEST);
    passwd(bob1, "", "bob-password-1", "bob-password-2");
    for (String t : List.of(bob1, bob2)) {
      await().ignoreExceptions().atMost(Duration.ofSeconds(30)).until(() -> refusal(() -> f.probe("whoami", t)).getMessage().contains("revoked"));
    }
    assertRefused(() -> f.login("bob", "bob-password-1"), ErrorCode.UNAUTHORIZED);
    String bob3 = f.login("bob", "bob-password-2").getToken();
    assertThat(f.probe("whoami", bob3)).as("a login right after the change is valid").isEqualTo("bob");

    // an administrator sets it without the old one: bob's sessions end again
    passwd(admin, "bob", "", "bob-password-3");
    await().ignoreExceptions().atMost(Duration.ofSeconds(30)).until(() -> refusal(() -> f.probe("whoami", bob3)).getMessage().contains("revoked"));
    assertThat(f.probe("whoami", f.login("bob", "bob-password-3").getToken())).isEqualTo("bob");
    assertThat(f.probe("whoami", admin)).as("the administrator's own session goes on").isEqualTo("admin");
  }

  @Test
  void twoChangesWithinOneSecondEndTheSessionsOpenedBetweenThem() {
    // a clock that stands still: every change and login below falls in the same second
    TestClock still = new TestClock(Instant.now());
    store = new MemoryUserStore(1000, 1000, still);
    f.startLogin(new LoginService(LoginSettings.defaults().withBootstrapAdminPassword(ADMIN_PASSWORD), store, still));
    String admin = adminToken();
    f.addUser(admin, "cleo", "cleo-password-1");
    passwd(admin, "cleo", "", "cleo-password-2");
    String between = f.login("cleo", "cleo-password-2").getToken();
    assertThat(f.probe("whoami", between)).isEqualTo("cleo");
    passwd(admin, "cleo", "", "cleo-password-3");
    await().ignoreExceptions().atMost(Duration.ofSeconds(30))
        .until(() -> refusal(() -> f.probe("whoami", between)).getMessage().contains("revoked"));
    assertThat(f.probe("whoami", f.login("cleo", "cleo-password-3").getToken())).isEqualTo("cleo");
  }

  private UserResponse passwd(String token, String user, String old, String neu) {
    return f.as(token).call(LoginService.SERVICE, "users.passwd",
        ChangePasswordRequest.newBuilder().setUser(user).setOldPassword(old).setNewPassword(neu).build(), UserResponse.class);
  }

  @Test
  void rolesAreHierarchicalAndScopedThroughRealTokensAndChangingThemEndsTheSessions() {
    start();
    String admin = adminToken();
    f.addUser(admin, "carol", "carol-password", "ADMIN.CONFIG");
    f.addUser(admin, "dave", "dave-password", "ADMIN.ROUTES:com.example.greeter");
    f.addUser(admin, "erin", "erin-password");
    String carol = f.login("carol", "carol-password").getToken();
    String dave = f.login("dave", "dave-password").getToken();
    String erin = f.login("erin", "erin-password").getToken();

    assertThat(f.probe("config", admin)).as("ADMIN covers ADMIN.CONFIG").isEqualTo("config");
    assertThat(f.probe("admin", admin)).isEqualTo("admin");
    assertThat(f.probe("config", carol)).isEqualTo("config");
    assertRefused(() -> f.probe("admin", carol), ErrorCode.FORBIDDEN);
    assertThat(f.probe("greeter-routes", dave)).isEqualTo("routes");
    assertThat(f.probe("greeter-routes", admin)).as("an unscoped ADMIN covers every scope").isEqualTo("routes");
    assertRefused(() -> f.probe("config", dave), ErrorCode.FORBIDDEN);
    assertRefused(() -> f.probe("config", erin), ErrorCode.FORBIDDEN);
    assertThat(f.probe("whoami", erin)).isEqualTo("erin");
    // users.* need ADMIN.USERS: carol (ADMIN.CONFIG) is refused, the administrator is not
    assertRefused(() -> f.addUser(carol, "mallory", "mallory-pass"), ErrorCode.FORBIDDEN);
    assertRefused(() -> f.as(carol).call(LoginService.SERVICE, "users.list", ListUsersRequest.getDefaultInstance(), UserList.class),
        ErrorCode.FORBIDDEN);

    UserResponse r = f.as(admin).call(LoginService.SERVICE, "users.roles",
        SetRolesRequest.newBuilder().setUser("erin").addRoles("ADMIN.USERS").build(), UserResponse.class);
    assertThat(r.getUser().getRolesList()).containsExactly("ADMIN.USERS");
    await().ignoreExceptions().atMost(Duration.ofSeconds(30)).until(() -> refusal(() -> f.probe("whoami", erin)).getMessage().contains("revoked"));
    String erin2 = f.login("erin", "erin-password").getToken();
    assertThat(f.addUser(erin2, "frank", "frank-password").getUser().getUser()).isEqualTo("frank");
    assertRefused(() -> f.as(admin).call(LoginService.SERVICE, "users.roles",
        SetRolesRequest.newBuilder().setUser("nobody").build(), UserResponse.class), ErrorCode.NOT_FOUND);
    assertRefused(() -> f.addUser(admin, "frank", "frank-password"), ErrorCode.CONFLICT);

    UserList all = f.as(admin).call(LoginService.SERVICE, "users.list", ListUsersRequest.getDefaultInstance(), UserList.class);
    assertThat(all.getUsersList()).extracting(UserInfo::getUser).containsExactly("admin", "carol", "dave", "erin", "frank");
    assertThat(all.toString()).doesNotContain("argon2");
  }

  @Test
  void aRotatedKeySignsNewTokensWhileTheOldOnesStillVerify() throws Exception {
    LoginService login = start();
    String before = adminToken();
    String oldKid = login.signingKid();
    assertThat(f.probe("whoami", before)).isEqualTo("admin");
    login.rotateNow();
    String after = adminToken();
    assertThat(SignedJWT.parse(after).getHeader().getKeyID()).isEqualTo(login.signingKid()).isNotEqualTo(oldKid);
    assertThat(f.probe("whoami", after)).as("the new key is learned").isEqualTo("admin");
    assertThat(f.probe("whoami", before)).as("the old key still verifies").isEqualTo("admin");
    // a verifier that starts now knows both
    String fresh = f.newProbe().name();
    assertThat(f.as(before).call(fresh, "whoami", com.google.protobuf.StringValue.of(""), com.google.protobuf.StringValue.class).getValue())
        .isEqualTo("admin");

    JWKSet jwks = JWKSet.parse(f.client().call(LoginService.SERVICE, "keys", KeysRequest.getDefaultInstance(), KeysResponse.class)
        .getJwksJson());
    assertThat(jwks.getKeys()).extracting(k -> k.getKeyID()).contains(oldKid, login.signingKid());
    assertThat(jwks.getKeys()).allSatisfy(k -> assertThat(k.isPrivate()).as("only public keys are published").isFalse());
  }

  @Test
  void bruteForceIsSlowedThenLockedWithAClearErrorAndAnUnknownUserLocksTheSameWay() {
    LoginThrottle.Rules rules = new LoginThrottle.Rules(5, Duration.ofMillis(200), Duration.ofMillis(800), 10, Duration.ofMinutes(15),
        Duration.ofMinutes(15), 1000);
    start(LoginSettings.defaults().withThrottle(rules));
    String admin = adminToken();
    f.addUser(admin, "gina", "gina-password");
    List<String> ginaAnswers = guessTen("gina");
    List<String> ghostAnswers = guessTen("ghost");
    assertThat(ghostAnswers).as("an unknown user is answered exactly like a known one")
        .isEqualTo(ginaAnswers.stream().map(a -> a.replace("gina", "ghost")).toList());

    // locked: even the right password is refused, saying until when
    SkiffException e = refusal(() -> f.login("gina", "gina-password"));
    assertThat(e.code()).isEqualTo(ErrorCode.CAPACITY);
    assertThat(e.getMessage()).contains("user 'gina' is locked", "until 20");
    assertThat(e.retryAfter()).as("how long to wait, for the gateway's Retry-After, crossing the wire")
        .hasValueSatisfying(d -> assertThat(d).isBetween(Duration.ofMinutes(14), Duration.ofMinutes(15)));
    UserList all = f.as(admin).call(LoginService.SERVICE, "users.list", ListUsersRequest.getDefaultInstance(), UserList.class);
    assertThat(all.getUsersList()).filteredOn(u -> u.getUser().equals("gina")).extracting(UserInfo::getLocked).containsExactly(true);
    // an administrator setting a new password unlocks
    passwd(admin, "gina", "", "gina-password-2");
    assertThat(f.login("gina", "gina-password-2").getUser()).isEqualTo("gina");
  }

  /** Ten wrong passwords: five answered at once, four more slowed down (doubling), the tenth locks. */
  private List<String> guessTen(String user) {
    List<String> answers = new ArrayList<>();
    long[] expectedDelay = {0, 0, 0, 0, 0, 200, 400, 800, 800, 800};
    for (int i = 0; i < 10; i++) {
      long start = System.nanoTime();
      SkiffException e = refusal(() -> f.login(user, "guess-number-" + System.nanoTime()));
      long took = (System.nanoTime() - start) / 1_000_000;
      assertThat(took).as("attempt %d took at least its delay", i + 1).isGreaterThanOrEqualTo(expectedDelay[i]);
      assertThat(e.code()).as(e.getMessage()).isEqualTo(i < 9 ? ErrorCode.UNAUTHORIZED : ErrorCode.CAPACITY);
      answers.add(e.code() + " " + e.getMessage().replaceAll("until \\S+", "until T"));
    }
    assertThat(answers.get(9)).contains("user '" + user + "' is locked", "until");
    return answers;
  }

  @Test
  void theFirstAdministratorIsCreatedOnlyWhenThereIsNoUserAtAll() {
    MemoryUserStore s = new MemoryUserStore(10, 10, Clock.systemUTC());
    // no password set: no user at all, nothing can sign in
    f.startLogin(LoginSettings.defaults(), s);
    assertThat(s.hasAnyUser()).isFalse();
    assertRefused(() -> f.login("admin", ADMIN_PASSWORD), ErrorCode.UNAUTHORIZED);
    f.stopLogin();
    // set, and no user: admin with role ADMIN
    f.startLogin(LoginSettings.defaults().withBootstrapAdminPassword(ADMIN_PASSWORD), s);
    assertThat(f.login("admin", ADMIN_PASSWORD).getRolesList()).containsExactly("ADMIN");
    String hash = s.user("admin").orElseThrow().passwordHash();
    assertThat(hash).startsWith("$argon2id$v=19$m=19456,t=2,p=1$").doesNotContain(ADMIN_PASSWORD);
    f.stopLogin();
    // set again with another password, users exist: ignored
    f.startLogin(LoginSettings.defaults().withBootstrapAdminPassword("another-password"), s);
    assertRefused(() -> f.login("admin", "another-password"), ErrorCode.UNAUTHORIZED);
    assertThat(f.login("admin", ADMIN_PASSWORD).getUser()).isEqualTo("admin");
    assertThat(s.user("admin").orElseThrow().passwordHash()).isEqualTo(hash);
  }

  // ---- hostile input ----

  @Test
  void hostileTokensAreRefused() throws Exception {
    start();
    String good = adminToken();
    SignedJWT parsed = SignedJWT.parse(good);
    JWTClaimsSet claims = parsed.getJWTClaimsSet();
    String kid = parsed.getHeader().getKeyID();
    ECKey realKey = ECKey.parse(store.keys().get(0).privateJwk());
    ECKey otherKey = new ECKeyGenerator(Curve.P_256).keyID(kid).generate();

    List<String> hostile = new ArrayList<>();
    hostile.add("x".repeat(9000));                                      // over the guard's bound: refused unread
    hostile.add("a".repeat(8000));                                      // under it, and garbage
    hostile.add("a.b.c");
    hostile.add("..");
    hostile.add(good + ".");
    hostile.add(new PlainJWT(new PlainHeader(), claims).serialize());   // alg: none
    hostile.add(good.substring(0, good.lastIndexOf('.') + 1));          // signature stripped
    String publicJwk = realKey.toPublicJWK().toJSONString();            // HS256 with the public key as the secret
    SignedJWT hs = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.HS256).keyID(kid).build(), claims);
    hs.sign(new MACSigner(publicJwk.getBytes(StandardCharsets.UTF_8)));
    hostile.add(hs.serialize());
    hostile.add(sign(otherKey, kid, claims));                           // another key under the real key's kid
    hostile.add(sign(otherKey, "unknownkid123", claims));               // a kid nobody published
    hostile.add(sign(realKey, kid, claims) + "x");
    // signed with the real key (stolen), but with claims that must not pass
    hostile.add(sign(realKey, kid, with(claims, "sub", "adm\u0007in")));
    hostile.add(sign(realKey, kid, with(claims, "sub", "ADMIN")));
    hostile.add(sign(realKey, kid, with(claims, "roles", List.of("ADMIN x"))));
    hostile.add(sign(realKey, kid, with(claims, "roles", "ADMIN")));
    hostile.add(sign(realKey, kid, with(claims, "iss", "someone.else")));
    hostile.add(sign(realKey, kid, with(claims, "sid", null)));
    hostile.add(sign(realKey, kid, with(claims, "exp", null)));
    hostile.add(sign(realKey, kid, with(claims, "iat", new Date(System.currentTimeMillis() + 3_600_000))));
    hostile.add(sign(realKey, kid, with(claims, "exp", new Date(System.currentTimeMillis() - 60_000))));
    hostile.add(sign(realKey, "../../etc", claims));
    for (String t : hostile) {
      assertRefused(() -> f.probe("whoami", t), ErrorCode.UNAUTHORIZED);
    }
    // the control: the real key with the real claims passes, so the refusals above are the claims' doing
    assertThat(f.probe("whoami", sign(realKey, kid, claims))).isEqualTo("admin");
    assertThat(f.probe("whoami", good)).isEqualTo("admin");
  }

  private static String sign(ECKey key, String kid, JWTClaimsSet claims) throws Exception {
    SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.ES256).keyID(kid).build(), claims);
    jwt.sign(new ECDSASigner(key));
    return jwt.serialize();
  }

  private static JWTClaimsSet with(JWTClaimsSet c, String name, Object value) {
    Map<String, Object> m = new java.util.HashMap<>(c.toJSONObject());
    if (value instanceof Date d) {
      value = d.getTime() / 1000;
    }
    m.put(name, value);
    m.values().removeIf(java.util.Objects::isNull);
    try {
      return JWTClaimsSet.parse(m);
    } catch (java.text.ParseException e) {
      throw new IllegalStateException(e);
    }
  }

  @Test
  void hostileUserNamesAndPasswordsAreRefusedAndEscaped() {
    start();
    String admin = adminToken();
    for (String name : List.of("adm\nin", "Admin", "a b", "", "x".repeat(65), "bob\u0000", "bob\u001b[31m", "1bob", "../bob", "böb")) {
      SkiffException e = refusal(() -> f.login(name, "whatever-pass"));
      assertThat(e.code()).as(name).isEqualTo(ErrorCode.BAD_REQUEST);
      assertThat(e.getMessage()).doesNotContain("\n", "\u0000", "\u001b");
      assertRefused(() -> f.addUser(admin, name, "whatever-pass"), ErrorCode.BAD_REQUEST);
    }
    assertRefused(() -> f.login("admin", "p".repeat(1025)), ErrorCode.BAD_REQUEST);
    assertRefused(() -> f.addUser(admin, "henry", "seven77"), ErrorCode.BAD_REQUEST, "8 to 1024");
    assertRefused(() -> f.addUser(admin, "henry", "henry-password", "admin"), ErrorCode.BAD_REQUEST, "role");
    assertRefused(() -> f.addUser(admin, "henry", "henry-password", "ADMIN:bad scope"), ErrorCode.BAD_REQUEST);
    assertThat(f.as(admin).call(LoginService.SERVICE, "users.list", ListUsersRequest.getDefaultInstance(), UserList.class).getUsersCount())
        .isEqualTo(1);
  }
}
