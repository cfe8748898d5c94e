package dev.skiff.platform.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.codahale.metrics.MetricRegistry;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.pubsub.PubSub;
import dev.skiff.platform.security.TokenRejectedException.Reason;
import dev.skiff.platform.transport.Transport;
import dev.skiff.platform.transport.inprocess.InProcessTransport;
import dev.skiff.proto.v1.KeysChanged;
import dev.skiff.proto.v1.Revocation;
import dev.skiff.proto.v1.RevocationsResponse;
import java.time.Duration;
import java.util.Date;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The token verifier's logic on the in-process transport, with keys and revocations from a stand-in
 * source: caching, where events may come from, catching up, failing closed while the connection is lost
 * and when its revocation list overflows, and fetching keys at a bounded rate. (Its end-to-end behaviour
 * against the real login service over RabbitMQ is in the kernel's LoginServiceTest.)
 */
class LoginTokenVerifierTest {
  private final InProcessTransport inner = InProcessTransport.create();
  private final Watched transport = new Watched(inner);
  private final PubSub events = new PubSub(inner);
  private final MetricRegistry metrics = new MetricRegistry();
  private final ECKey key = newKey("key-one-1");
  private final Source source = new Source();
  private LoginTokenVerifier verifier;

  private static ECKey newKey(String kid) {
    try {
      return new ECKeyGenerator(Curve.P_256).keyID(kid).generate();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  @AfterEach
  void tearDown() {
    if (verifier != null) {
      verifier.close();
    }
    inner.close();
  }

  private LoginTokenVerifier verifier(ServiceIdentities identities, int maxRevocations) {
    verifier = LoginTokenVerifier.builder().transport(transport).source(source).identities(identities).metrics(metrics)
        .maxRevocations(maxRevocations).keyWait(Duration.ofSeconds(10)).keyRefreshInterval(Duration.ofHours(1)).build();
    return verifier;
  }

  private LoginTokenVerifier verifier() {
    return verifier(ServiceIdentities.defaults(), 1000);
  }

  static String token(ECKey k, String user, String sid, long iatMillis, long expMillis) {
    try {
      JWTClaimsSet c = new JWTClaimsSet.Builder().issuer("skiff.login").subject(user).claim("sid", sid).claim("roles", List.of("ADMIN.CONFIG"))
          .issueTime(new Date(iatMillis)).expirationTime(new Date(expMillis)).build();
      SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.ES256).keyID(k.getKeyID()).build(), c);
      jwt.sign(new ECDSASigner(k));
      return jwt.serialize();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private String token(String user, String sid) {
    long now = System.currentTimeMillis();
    return token(key, user, sid, now - 1000, now + 600_000);
  }

  private static Reason reason(LoginTokenVerifier v, String token) {
    try {
      v.verify(token);
    } catch (TokenRejectedException e) {
      return e.reason();
    }
    return null;
  }

  private long count(String name) {
    return metrics.counter("skiff.tokens." + name).getCount();
  }

  @Test
  void nothingHappensUntilTheFirstTokenThenARepeatedTokenIsAHashLookup() throws Exception {
    LoginTokenVerifier v = verifier();
    assertThat(transport.subscriptions.get()).isZero();
    assertThat(source.keyCalls.get()).isZero();
    String t = token("ann", "session-ann-1");
    UserIdentity id = v.verify(t);
    assertThat(id.user()).isEqualTo("ann");
    assertThat(id.roles()).containsExactly(Role.of("ADMIN.CONFIG"));
    assertThat(id.sessionId()).isEqualTo("session-ann-1");
    assertThat(transport.subscriptions.get()).isEqualTo(2);
    for (int i = 0; i < 100; i++) {
      v.verify(t);
    }
    assertThat(count("verified")).as("one signature check").isEqualTo(1);
    assertThat(count("cache-hits")).isEqualTo(100);
    assertThat(source.keyCalls.get()).isEqualTo(1);
  }

  @Test
  void revocationsAreBelievedOnlyFromWhoMayActAsTheLoginServiceAndApplyToCachedTokens() throws Exception {
    // the in-process sender may act as nothing here
    LoginTokenVerifier strict = verifier(new ServiceIdentities("skiff-kernel", Set.of(), Set.of()), 1000);
    String t = token("ann", "session-ann-1");
    strict.verify(t);
    events.publish(LoginTokenVerifier.REVOKED_TOPIC, sessionRevoked("session-ann-1"));
    await().atMost(Duration.ofSeconds(30)).until(() -> count("refused-events") == 1);
    assertThat(strict.verify(t).user()).isEqualTo("ann");
    strict.close();

    LoginTokenVerifier v = verifier();
    v.verify(t);
    events.publish(LoginTokenVerifier.REVOKED_TOPIC, sessionRevoked("session-ann-1"));
    await().atMost(Duration.ofSeconds(30)).until(() -> reason(v, t) == Reason.REVOKED);
    assertThat(count("refused.REVOKED")).isPositive();
  }

  @Test
  void aUserWideRevocationEndsTokensIssuedBeforeItOnly() throws Exception {
    LoginTokenVerifier v = verifier();
    long now = System.currentTimeMillis();
    String old = token(key, "bob", "session-bob-1", now - 5000, now + 600_000);
    String later = token(key, "bob", "session-bob-2", now + 2000, now + 600_000);
    v.verify(old);
    long before = (now / 1000 + 1) * 1000;
    events.publish(LoginTokenVerifier.REVOKED_TOPIC, Revocation.newBuilder().setUser("bob").setIssuedBeforeMs(before).setRevokedAtMs(now)
        .setKeepUntilMs(now + 600_000).build());
    await().atMost(Duration.ofSeconds(30)).until(() -> reason(v, old) == Reason.REVOKED);
    assertThat(v.verify(later).user()).isEqualTo("bob");
  }

  @Test
  void aVerifierCatchesUpWithWhatEndedBeforeItListened() {
    long now = System.currentTimeMillis();
    source.revocations.add(sessionRevoked("session-cat-1"));
    source.revocations.add(Revocation.newBuilder().setSessionId("old-session-9").setRevokedAtMs(now - 900_000).setKeepUntilMs(now - 1).build());
    LoginTokenVerifier v = verifier();
    assertThat(reason(v, token("cat", "session-cat-1"))).isEqualTo(Reason.REVOKED);
    assertThat(v.revocationCount()).as("one past its keep_until is not kept").isEqualTo(1);
  }

  @Test
  void itRefusesEveryTokenWhileTheConnectionIsLostAndCatchesUpWhenItIsBack() throws Exception {
    LoginTokenVerifier v = verifier();
    String t = token("dan", "session-dan-1");
    v.verify(t);
    transport.listener.lost();
    assertThat(reason(v, t)).as("fail closed: a revocation may be missed now").isEqualTo(Reason.KEYS_UNAVAILABLE);
    // the logout happens while the event cannot arrive
    source.revocations.add(sessionRevoked("session-dan-1"));
    int before = source.revocationCalls.get();
    transport.listener.recovered();
    assertThat(reason(v, t)).isEqualTo(Reason.REVOKED);
    assertThat(source.revocationCalls.get()).isEqualTo(before + 1);
    assertThat(v.verify(token("dan", "session-dan-2")).user()).isEqualTo("dan");
  }

  @Test
  void whenTheRevocationListOverflowsItRefusesEveryTokenIssuedBeforeNow() throws Exception {
    LoginTokenVerifier v = verifier(ServiceIdentities.defaults(), 2);
    String t = token("eve", "session-eve-1");
    v.verify(t);
    for (int i = 0; i < 3; i++) {
      events.publish(LoginTokenVerifier.REVOKED_TOPIC, sessionRevoked("other-session-" + i));
    }
    await().atMost(Duration.ofSeconds(30)).until(() -> count("revocations-overflow") == 1);
    assertThat(reason(v, t)).isEqualTo(Reason.REVOKED);
    long now = System.currentTimeMillis();
    assertThat(v.verify(token(key, "eve", "session-eve-2", now + 2000, now + 600_000)).user()).as("issued after the watermark")
        .isEqualTo("eve");
  }

  @Test
  void keysComeFromTheKeysEventAndAnUnknownKidFetchesAtABoundedRate() throws Exception {
    LoginTokenVerifier v = verifier();
    v.verify(token("fay", "session-fay-1"));
    ECKey second = newKey("key-two-22");
    String unknown = token(second, "fay", "session-fay-2", System.currentTimeMillis() - 1000, System.currentTimeMillis() + 600_000);
    int calls = source.keyCalls.get();
    for (int i = 0; i < 5; i++) {
      assertThat(reason(v, unknown)).isEqualTo(Reason.BAD_SIGNATURE);
    }
    assertThat(source.keyCalls.get()).as("at most one fetch per interval").isLessThanOrEqualTo(calls + 1);
    events.publish(LoginTokenVerifier.KEYS_TOPIC, KeysChanged.newBuilder()
        .setJwksJson(new JWKSet(List.of(key.toPublicJWK(), second.toPublicJWK())).toString()).build());
    await().atMost(Duration.ofSeconds(30)).until(() -> reason(v, unknown) == null);
    assertThat(v.knownKeys()).containsExactlyInAnyOrder("key-one-1", "key-two-22");
  }

  @Test
  void keysThatComeByEventEndARefusalThatAFailedFetchBegan() throws Exception {
    source.keysDown = true;
    LoginTokenVerifier v = verifier();
    String t = token("hal", "session-hal-1");
    assertThat(reason(v, t)).as("no keys yet: refused, fail closed").isEqualTo(Reason.KEYS_UNAVAILABLE);
    int fetches = source.keyCalls.get();
    events.publish(LoginTokenVerifier.KEYS_TOPIC, KeysChanged.newBuilder().setJwksJson(new JWKSet(key.toPublicJWK()).toString()).build());
    // the refresh interval is an hour here: only the event can end the refusal
    await().atMost(Duration.ofSeconds(10)).until(() -> reason(v, t) == null);
    assertThat(source.keyCalls.get()).as("no fetch was needed").isEqualTo(fetches);

    source.down = true;
    LoginTokenVerifier other = LoginTokenVerifier.builder().transport(transport).source(source).identities(ServiceIdentities.defaults())
        .metrics(new MetricRegistry()).keyWait(Duration.ofSeconds(10)).keyRefreshInterval(Duration.ofHours(1)).build();
    try {
      assertThat(reason(other, token("hal", "session-hal-2"))).isEqualTo(Reason.KEYS_UNAVAILABLE);
      events.publish(LoginTokenVerifier.KEYS_TOPIC, KeysChanged.newBuilder().setJwksJson(new JWKSet(key.toPublicJWK()).toString()).build());
      await().atMost(Duration.ofSeconds(10)).until(() -> other.knownKeys().contains("key-one-1"));
      assertThat(reason(other, token("hal", "session-hal-2")))
          .as("keys alone are not enough while the ended sessions could not be fetched").isEqualTo(Reason.KEYS_UNAVAILABLE);
      source.down = false;
      events.publish(LoginTokenVerifier.KEYS_TOPIC, KeysChanged.newBuilder().setJwksJson(new JWKSet(key.toPublicJWK()).toString()).build());
      await("a login service that (re)starts publishes its keys: the verifier tries again at once").atMost(Duration.ofSeconds(10))
          .until(() -> reason(other, token("hal", "session-hal-2")) == null);
    } finally {
      other.close();
    }
  }

  @Test
  void withoutTheLoginServiceTokensAreRefusedAsUnverifiable() {
    source.down = true;
    LoginTokenVerifier v = verifier();
    assertThat(reason(v, token("gil", "session-gil-1"))).isEqualTo(Reason.KEYS_UNAVAILABLE);
    v.close();
    assertThatThrownBy(() -> v.verify(token("gil", "session-gil-1"))).isInstanceOf(TokenRejectedException.class);
  }

  @Test
  void aKeySetWithForeignOrPrivateKeysKeepsOnlyThePublicP256SigningKeys() throws Exception {
    ECKey p384 = new ECKeyGenerator(Curve.P_384).keyID("p384-key-1").generate();
    String jwks = new JWKSet(List.of(key, p384, newKey("bad kid!").toPublicJWK())).toString(false);
    assertThat(LoginTokenVerifier.parseKeys(jwks)).containsOnlyKeys("key-one-1");
    assertThatThrownBy(() -> LoginTokenVerifier.parseKeys("{not json")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> LoginTokenVerifier.parseKeys("{\"keys\":[]}" + " ".repeat(70_000))).isInstanceOf(IllegalArgumentException.class);
  }

  private static Revocation sessionRevoked(String sid) {
    long now = System.currentTimeMillis();
    return Revocation.newBuilder().setSessionId(sid).setRevokedAtMs(now).setKeepUntilMs(now + 600_000).build();
  }

  /** The stand-in login service. */
  private final class Source implements LoginTokenVerifier.Source {
    final AtomicInteger keyCalls = new AtomicInteger();
    final AtomicInteger revocationCalls = new AtomicInteger();
    final List<Revocation> revocations = new CopyOnWriteArrayList<>();
    volatile boolean down;
    volatile boolean keysDown;

    @Override
    public CompletableFuture<String> keys() {
      keyCalls.incrementAndGet();
      return down || keysDown ? CompletableFuture.failedFuture(new SkiffException(ErrorCode.NOT_FOUND, "no skiff.login"))
          : CompletableFuture.completedFuture(new JWKSet(key.toPublicJWK()).toString());
    }

    @Override
    public CompletableFuture<RevocationsResponse> revocations(long sinceMillis) {
      revocationCalls.incrementAndGet();
      return down ? CompletableFuture.failedFuture(new SkiffException(ErrorCode.NOT_FOUND, "no skiff.login"))
          : CompletableFuture.completedFuture(RevocationsResponse.newBuilder().addAllRevocations(revocations)
              .setAsOfMs(System.currentTimeMillis()).build());
    }
  }

  /** The in-process transport, counting subscriptions and handing out its connection watcher to the test. */
  private static final class Watched implements Transport {
    final Transport inner;
    final AtomicInteger subscriptions = new AtomicInteger();
    volatile ConnectionListener listener;

    Watched(Transport inner) {
      this.inner = inner;
    }

    @Override
    public ServerBinding bind(String service, String instanceId, BindOptions options, InboundHandler handler) {
      return inner.bind(service, instanceId, options, handler);
    }

    @Override
    public ClientChannel openClient(ReplyListener replies) {
      return inner.openClient(replies);
    }

    @Override
    public void publish(String topic, String contentType, byte[] body) {
      inner.publish(topic, contentType, body);
    }

    @Override
    public Subscription subscribe(String pattern, String group, EventListener l) {
      subscriptions.incrementAndGet();
      return inner.subscribe(pattern, group, l);
    }

    @Override
    public Subscription watchConnection(ConnectionListener l) {
      listener = l;
      return () -> listener = null;
    }

    @Override
    public String describe() {
      return "watched " + inner.describe();
    }

    @Override
    public void close() {
      inner.close();
    }
  }
}
