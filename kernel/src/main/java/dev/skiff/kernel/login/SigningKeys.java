package dev.skiff.kernel.login;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.security.LoginTokenVerifier;
import java.security.SecureRandom;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The login service's signing keys: ECDSA P-256 key pairs (JWS ES256), made by the service and kept in
 * its {@link UserStore}, so that a restart or another copy of the service signs and verifies with the
 * same keys.
 *
 * <p><b>Rotation.</b> The newest key signs. When it is older than the rotation period, any copy of the
 * service makes a new one (two copies rotating at once make two keys; both are published, the newer
 * signs). A key replaced by a newer one is still published until every token it can have signed has
 * expired: the newer key's creation time plus the longest token lifetime plus a minute (for copies
 * that learn of the new key a little later); then it is deleted.
 *
 * <p>Only public keys leave the service ({@link #publicJwks()}); private keys are never logged.
 * Thread-safe.
 */
final class SigningKeys {
  private static final Logger log = LoggerFactory.getLogger(SigningKeys.class);
  private static final long MARGIN_MS = 60_000;

  private final UserStore store;
  private final Clock clock;
  private final Duration rotation;
  private final Duration tokenLifetime;
  private final SecureRandom random = new SecureRandom();
  private volatile State state = new State(null, null, List.of(), "{\"keys\":[]}");

  /** The keys in force: the signer and what is published. */
  private record State(ECKey signer, ECDSASigner signerImpl, List<ECKey> published, String jwks) {}

  /**
   * @param store where keys are kept
   * @param clock the time source
   * @param rotation how long a key signs before a new one replaces it
   * @param tokenLifetime the longest a token lives (its lifetime plus the verifiers' clock skew)
   */
  SigningKeys(UserStore store, Clock clock, Duration rotation, Duration tokenLifetime) {
    this.store = store;
    this.clock = clock;
    this.rotation = rotation;
    this.tokenLifetime = tokenLifetime;
  }

  /**
   * Reads the keys from the store; makes a new one when there is none or the newest is due for
   * rotation; deletes those no longer published.
   *
   * @return whether the published key set changed
   */
  synchronized boolean refresh() {
    long now = clock.millis();
    List<UserStore.Key> keys = new ArrayList<>(store.keys());
    keys.sort(Comparator.comparingLong(UserStore.Key::createdAtMs));
    if (keys.isEmpty() || keys.get(keys.size() - 1).createdAtMs() + rotation.toMillis() <= now) {
      UserStore.Key made = make(now);
      store.addKey(made);
      keys.add(made);
      log.info("login: new signing key {}{}", made.kid(), keys.size() > 1 ? " (rotated)" : "");
    }
    List<ECKey> published = new ArrayList<>();
    for (int i = 0; i < keys.size(); i++) {
      UserStore.Key k = keys.get(i);
      boolean newest = i == keys.size() - 1;
      if (!newest && keys.get(i + 1).createdAtMs() + tokenLifetime.toMillis() + MARGIN_MS <= now) {
        store.deleteKey(k.kid());
        log.info("login: signing key {} retired and deleted (every token it signed has expired)", k.kid());
        continue;
      }
      try {
        published.add(ECKey.parse(k.privateJwk()));
      } catch (ParseException e) {
        log.warn("login: signing key {} in the store does not parse; skipped", k.kid());
      }
    }
    if (published.isEmpty()) {
      throw new SkiffException(ErrorCode.INTERNAL, "the login service has no usable signing key");
    }
    ECKey signer = published.get(published.size() - 1);
    List<JWK> pub = new ArrayList<>();
    for (ECKey k : published) {
      pub.add(k.toPublicJWK());
    }
    String jwks = new JWKSet(pub).toString(true);
    boolean changed = !jwks.equals(state.jwks());
    try {
      state = new State(signer, new ECDSASigner(signer), List.copyOf(published), jwks);
    } catch (JOSEException e) {
      throw new SkiffException(ErrorCode.INTERNAL, "the signing key " + signer.getKeyID() + " cannot sign: " + e.getMessage());
    }
    return changed;
  }

  /** Makes a new signing key now, whatever the age of the newest (an operator's or a test's rotation). */
  synchronized void forceRotation() {
    long newest = store.keys().stream().mapToLong(UserStore.Key::createdAtMs).max().orElse(0);
    UserStore.Key made = make(Math.max(clock.millis(), newest + 1));
    store.addKey(made);
    log.info("login: new signing key {} (rotated on demand)", made.kid());
    refresh();
  }

  private UserStore.Key make(long now) {
    byte[] id = new byte[12];
    random.nextBytes(id);
    String kid = Base64.getUrlEncoder().withoutPadding().encodeToString(id);
    try {
      ECKey k = new ECKeyGenerator(Curve.P_256).keyID(kid).keyUse(KeyUse.SIGNATURE).algorithm(LoginTokenVerifier.ALGORITHM)
          .secureRandom(random).generate();
      return new UserStore.Key(kid, k.toJSONString(), now);
    } catch (JOSEException e) {
      throw new SkiffException(ErrorCode.INTERNAL, "cannot make a signing key: " + e.getMessage());
    }
  }

  /**
   * @param claims the token's claims
   * @return the compact JWS, signed with the newest key
   */
  String sign(JWTClaimsSet claims) {
    State s = state;
    if (s.signer() == null) {
      throw new SkiffException(ErrorCode.UNAVAILABLE, "the login service has no signing key yet");
    }
    SignedJWT jwt = new SignedJWT(
        new JWSHeader.Builder(LoginTokenVerifier.ALGORITHM).keyID(s.signer().getKeyID()).type(JOSEObjectType.JWT).build(), claims);
    try {
      jwt.sign(s.signerImpl());
    } catch (JOSEException e) {
      throw new SkiffException(ErrorCode.INTERNAL, "cannot sign a token: " + e.getMessage());
    }
    return jwt.serialize();
  }

  /** @return the public keys published now, as a JSON Web Key Set */
  String publicJwks() {
    return state.jwks();
  }

  /** @return the key id of the key that signs now */
  String signingKid() {
    ECKey k = state.signer();
    return k == null ? "" : k.getKeyID();
  }
}
