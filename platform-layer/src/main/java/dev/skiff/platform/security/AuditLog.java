package dev.skiff.platform.security;

import dev.skiff.platform.internal.Printable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The audit log: one line per refused call or change, written to the SLF4J logger {@value #LOGGER}
 * (route it to a file or a collector of its own in the logging configuration). Each line says who (the
 * caller as proven), what (service, endpoint or change, request id), when (the log's timestamp) and why
 * (the refusal's code and reason); never a token, a password or a request body. Every value is escaped
 * ({@link Printable}), so a hostile name cannot forge a line. Thread-safe.
 */
public final class AuditLog {
  /** The logger's name. */
  public static final String LOGGER = "skiff.audit";

  private static final Logger log = LoggerFactory.getLogger(LOGGER);

  private AuditLog() {}

  /**
   * Records a refusal.
   *
   * @param service the service that refused
   * @param what what was asked: an endpoint's name, or a change such as {@code announcement}
   * @param caller who asked, as proven
   * @param code the answer ({@code UNAUTHORIZED}, {@code FORBIDDEN}, or {@code refused} for what has no answer)
   * @param reason why
   * @param requestId the request's id, or "" when there is none
   */
  public static void denied(String service, String what, Caller caller, String code, String reason, String requestId) {
    log.warn(
        "denied service={} what={} code={} broker-user={} caller-service={} user={} request={} reason=\"{}\"",
        Printable.of(service), Printable.of(what), code,
        Printable.of(caller.brokerUser().orElse("-")), Printable.of(caller.service().orElse("-")),
        Printable.of(caller.user().map(UserIdentity::user).orElse("-")), Printable.of(requestId.isEmpty() ? "-" : requestId),
        Printable.of(reason.replace('"', '\'')));
  }
}
