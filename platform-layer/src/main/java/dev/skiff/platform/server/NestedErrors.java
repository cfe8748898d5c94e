package dev.skiff.platform.server;

import dev.skiff.platform.Callee;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.internal.Printable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a handler's caller is answered when a nested call's error escapes the handler (docs/wire-protocol.md,
 * "Errors from nested calls"; why: docs/design-notes.md). An error the handler raised itself, or passed
 * on deliberately with {@link SkiffException#passThrough()}, is answered as it is. One that a call the
 * handler made failed with ({@link SkiffException#callee()}) is judged by its code:
 *
 * <ul>
 *   <li>a fault of the one who called the callee ({@code BAD_REQUEST}, {@code UNAUTHORIZED}, {@code
 *       FORBIDDEN}, {@code NOT_FOUND}, {@code CONFLICT}): that one is this handler, not its caller, so
 *       the caller gets {@code INTERNAL} naming the callee and its code, not the callee's description
 *       (which speaks of fields and ids the caller never sent); the description goes to this service's
 *       log under the request id; except an access refusal ({@code UNAUTHORIZED}, {@code FORBIDDEN}) of
 *       a call that carried the caller's user token ({@link Callee#forUser()}), which is about that user
 *       and is answered as it is;
 *   <li>{@code CIRCUIT_OPEN} (this service's breaker for the callee): {@code UNAVAILABLE}, since the
 *       caller's own breaker is not open;
 *   <li>anything else ({@code TIMEOUT}, {@code CAPACITY}, {@code UNAVAILABLE}, {@code UNKNOWN_OUTCOME},
 *       {@code INTERNAL}): its code, with its origin the callee's, so that the caller's client sees it
 *       raised further down and does not retry it again (the client nearest the cause did).
 * </ul>
 *
 * Pure logic apart from the log line; thread-safe.
 */
final class NestedErrors {
  private static final Logger log = LoggerFactory.getLogger(NestedErrors.class);

  private NestedErrors() {}

  /**
   * @param e the error that escaped the handler
   * @param service this service
   * @param endpoint the endpoint whose handler it escaped
   * @param requestId the request's id
   * @return the error to answer the handler's caller with
   */
  static SkiffException answerFor(SkiffException e, String service, String endpoint, String requestId) {
    Callee callee = e.callee().orElse(null);
    if (callee == null) {
      return e;
    }
    if ((e.code() == ErrorCode.UNAUTHORIZED || e.code() == ErrorCode.FORBIDDEN) && callee.forUser()) {
      // refused the user on whose behalf the handler called (its token went with the call): the caller's user
      return e.passThrough();
    }
    // a handler may have called a name it was sent (one refused as invalid is marked too): shown escaped
    String called = Printable.of(callee.toString());
    return switch (e.code()) {
      case BAD_REQUEST, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, CONFLICT -> {
        log.warn(
            "{}/{} request {}: its call to {} failed with {} and the handler did not handle it; answered INTERNAL. {} said: {}",
            service, endpoint, requestId, called, e.code(), called, Printable.text(e.description()));
        yield new SkiffException(
                ErrorCode.INTERNAL,
                service + "/" + endpoint + " failed: its call to " + called + " was refused with " + e.code()
                    + ", a fault of " + service + ", not of its caller (" + service + "'s log has the description under request id "
                    + requestId + ")")
            .withContext("callee", called)
            .withContext("callee_code", e.code().name());
      }
      case CIRCUIT_OPEN -> located(
          new SkiffException(
                  ErrorCode.UNAVAILABLE,
                  called + " cannot be reached from " + service + "/" + endpoint + ": " + e.description())
              .withContext("callee", called)
              .withContext("callee_code", e.code().name()),
          callee, requestId);
      default -> located(e.passThrough(), callee, requestId);
    };
  }

  /** @return the error with the callee as its origin, unless it names one already (the callee's answer) */
  private static SkiffException located(SkiffException e, Callee callee, String requestId) {
    return e.withOrigin(callee.service(), callee.endpoint(), "", requestId);
  }
}
