/**
 * <b>API</b> (and one <b>SPI</b>, {@link dev.skiff.platform.security.TokenVerifier}). Who is calling and
 * what they may do (docs/security.md): which broker user may act as which service
 * ({@link dev.skiff.platform.security.ServiceIdentities}); the proven {@link dev.skiff.platform.security.Caller}
 * of a request, with the person a session token proves ({@link dev.skiff.platform.security.UserIdentity})
 * and their hierarchical, optionally scoped {@link dev.skiff.platform.security.Role}s; who may call an
 * endpoint ({@link dev.skiff.platform.security.Access}); and the {@link dev.skiff.platform.security.AuditLog}
 * of refusals.
 */
package dev.skiff.platform.security;
