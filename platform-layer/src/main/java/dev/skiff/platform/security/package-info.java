/**
 * <b>API.</b> Who may act as whom: the mapping from broker users, whose identity the broker proves, to the
 * services they may act as ({@link dev.skiff.platform.security.ServiceIdentities}), which the client uses
 * to accept a reply only from the service it called, and the kernel services use to accept an
 * announcement, a health report or spans only from the service they are about (docs/security.md).
 */
package dev.skiff.platform.security;
