package dev.skiff.platform.server;

import com.codahale.metrics.Counter;
import com.codahale.metrics.MetricRegistry;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.security.Access;
import dev.skiff.platform.security.AuditLog;
import dev.skiff.platform.security.Caller;
import dev.skiff.platform.security.ServiceIdentities;
import dev.skiff.platform.security.TokenRejectedException;
import dev.skiff.platform.security.TokenVerifier;
import dev.skiff.platform.security.UserIdentity;
import dev.skiff.platform.transport.RequestMessage;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides whether a request's caller may call its endpoint: proves the caller (broker user, calling
 * service, the person's token through the {@link TokenVerifier}, a token that came in full then learnt by
 * the {@link SessionReferences}), checks the endpoint's {@link Access},
 * and refuses the rest with {@code UNAUTHORIZED} or {@code FORBIDDEN}, counted per endpoint and written
 * to the {@link AuditLog}.
 */
final class EndpointGuard {
  /** The largest session token read; a longer one is refused unread (tokens are a few hundred bytes). */
  static final int MAX_TOKEN_CHARS = 8192;

  private static final Logger log = LoggerFactory.getLogger(EndpointGuard.class);

  private final String service;
  private final ServiceIdentities identities;
  private final TokenVerifier verifier;
  private final SessionReferences sessions;
  private final Counter denied;
  private final Map<String, Counter> deniedPerEndpoint = new HashMap<>();

  EndpointGuard(
      String service, ServiceIdentities identities, TokenVerifier verifier, SessionReferences sessions, MetricRegistry metrics,
      Collection<String> endpoints) {
    this.service = service;
    this.identities = identities;
    this.verifier = verifier;
    this.sessions = sessions;
    this.denied = metrics.counter("skiff.server.denied");
    for (String e : endpoints) {
      deniedPerEndpoint.put(e, metrics.counter("skiff.server.endpoint." + e + ".denied"));
    }
  }

  /**
   * @param req the request
   * @param endpoint its endpoint
   * @return the caller, when it may call
   * @throws SkiffException UNAUTHORIZED or FORBIDDEN, after counting and auditing the refusal
   */
  Caller check(RequestMessage req, Endpoint<?, ?> endpoint) {
    Caller caller = prove(req);
    Access.Decision decision = endpoint.access().check(caller);
    if (decision.allowed()) {
      return caller;
    }
    denied.inc();
    Counter c = deniedPerEndpoint.get(endpoint.name());
    if (c != null) {
      c.inc();
    }
    AuditLog.denied(service, endpoint.name(), caller, decision.refusal().name(), decision.reason(), req.requestId());
    throw new SkiffException(decision.refusal(), service + "/" + endpoint.name() + ": " + decision.reason());
  }

  /**
   * Writes to the {@link AuditLog} the refusal of a request whose reply address is not its caller's own
   * ({@link dev.skiff.platform.transport.Transport.Delivery#replyAddressAllowed}): the caller as its
   * broker user proves it (its token is not read), and the address, escaped.
   *
   * @param req the request
   */
  void auditReplyAddress(RequestMessage req) {
    AuditLog.denied(
        service, req.endpoint(), Caller.of(req.userId(), req.fromService(), identities, null, null), "refused",
        "its reply address " + req.replyTo() + " is not a reply queue of its broker user: no reply sent, not run", req.requestId());
  }

  /**
   * Writes to the {@link AuditLog} a request answered CONFLICT for reusing the request id of another
   * caller's call, or of another body's: the caller as its broker user proves it (its token is not read).
   *
   * @param req the request
   */
  void auditConflict(RequestMessage req) {
    AuditLog.denied(
        service, req.endpoint(), Caller.of(req.userId(), req.fromService(), identities, null, null), "CONFLICT",
        "its request id was used by another caller or with another request body within the dedupe window", req.requestId());
  }

  private Caller prove(RequestMessage req) {
    String token = req.userToken();
    UserIdentity user = null;
    TokenRejectedException problem = null;
    if (token != null) {
      if (token.isEmpty() || token.length() > MAX_TOKEN_CHARS) {
        problem = new TokenRejectedException(TokenRejectedException.Reason.MALFORMED, "not a session token");
      } else {
        try {
          user = verifier.verify(token);
        } catch (TokenRejectedException e) {
          problem = e;
        } catch (RuntimeException e) {
          log.warn("{}: the token verifier failed: {}", service, e.toString());
          problem = new TokenRejectedException(TokenRejectedException.Reason.KEYS_UNAVAILABLE, "the session token could not be checked");
        }
      }
    }
    if (user != null && req.userTokenReference() == null) {
      // it came in full: its sender may refer to it from now on
      sessions.learn(req.userId(), token, epochMillis(user.expiresAt()));
    }
    return Caller.of(req.userId(), req.fromService(), identities, user, problem);
  }

  private static long epochMillis(java.time.Instant t) {
    try {
      return t.toEpochMilli();
    } catch (ArithmeticException beyond) {
      return t.isAfter(java.time.Instant.EPOCH) ? Long.MAX_VALUE : Long.MIN_VALUE;
    }
  }
}
