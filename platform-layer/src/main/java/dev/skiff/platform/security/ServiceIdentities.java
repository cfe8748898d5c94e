package dev.skiff.platform.security;

import java.util.Arrays;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Which broker user may act as which service (docs/security.md). The broker proves who sent a message
 * (RabbitMQ refuses a publish whose {@code user_id} is not the connection's user); this says whether
 * that user may speak for a service:
 *
 * <ul>
 *   <li>a service {@code S} is expected to connect as the broker user named {@code S} (what
 *       {@code skiff credentials create S} creates);
 *   <li>the kernel's services, whose names start with {@value #KERNEL_PREFIX}, connect as the kernel user
 *       ({@value #DEFAULT_KERNEL_USER} unless {@code SKIFF_KERNEL_USER} says otherwise);
 *   <li>but the HTTP gateway ({@value #GATEWAY_SERVICE}), which faces the internet, connects as a user of
 *       its own ({@value #DEFAULT_GATEWAY_USER} unless {@code SKIFF_GATEWAY_USER} says otherwise) with a
 *       service's least privilege, so that whoever takes the gateway over does not hold the kernel's powers;
 *   <li>a <em>shared</em> user may act as any service: the development set-up, where every process
 *       connects as {@code guest}, and the in-process transport, which reports {@value #IN_PROCESS} for
 *       everything. The production set-up ({@code skiff broker setup}) deletes {@code guest}, so that it
 *       cannot log in; set {@code SKIFF_SHARED_BROKER_USERS} to empty to refuse it even so;
 *   <li>a <em>tool</em> user acts for people and never as a service: the CLI's broker user
 *       ({@value #DEFAULT_TOOL_USER} unless {@code SKIFF_TOOL_USERS} lists others), whose calls count only
 *       through the signed-in person's session token they carry.
 * </ul>
 *
 * <p>What may change what applies to every service (routing rules, users) is not a broker user's
 * privilege but a person's: a role in a session token ({@link Access#role(Role)}).
 *
 * <p>A message whose sender is unknown (null: no {@code user_id}) may act as nothing. Immutable.
 */
public final class ServiceIdentities {
  /** The prefix of the kernel services' names: they all act as the kernel user. */
  public static final String KERNEL_PREFIX = "skiff.";
  /** The kernel's broker user unless {@code SKIFF_KERNEL_USER} names another. */
  public static final String DEFAULT_KERNEL_USER = "skiff-kernel";
  /** The identity the in-process transport reports for every sender: one process, one trust domain. */
  public static final String IN_PROCESS = "in-process";
  /** The shared users unless {@code SKIFF_SHARED_BROKER_USERS} says otherwise: development only. */
  public static final Set<String> DEFAULT_SHARED_USERS = Set.of("guest", IN_PROCESS);
  /** The tool user unless {@code SKIFF_TOOL_USERS} says otherwise: what {@code skiff credentials setup} creates for the CLI. */
  public static final String DEFAULT_TOOL_USER = "skiff-cli";
  /** The HTTP gateway's service name. */
  public static final String GATEWAY_SERVICE = "skiff.gateway";
  /** The gateway's broker user unless {@code SKIFF_GATEWAY_USER} names another: what {@code skiff credentials setup} creates. */
  public static final String DEFAULT_GATEWAY_USER = "skiff-gateway";

  private final String kernelUser;
  private final String gatewayUser;
  private final Set<String> sharedUsers;
  private final Set<String> toolUsers;

  /**
   * @param kernelUser the broker user the kernel services connect as
   * @param sharedUsers users that may act as any service (development); may be empty
   * @param toolUsers users that act for people only and never as a service (the CLI's); may be empty
   * @throws IllegalArgumentException when the kernel user is blank, or a tool user is also the kernel
   *     user or a shared user
   */
  public ServiceIdentities(String kernelUser, Set<String> sharedUsers, Set<String> toolUsers) {
    this(kernelUser, DEFAULT_GATEWAY_USER, sharedUsers, toolUsers);
  }

  /**
   * @param kernelUser the broker user the kernel services connect as
   * @param gatewayUser the broker user the HTTP gateway connects as
   * @param sharedUsers users that may act as any service (development); may be empty
   * @param toolUsers users that act for people only and never as a service (the CLI's); may be empty
   * @throws IllegalArgumentException when the kernel or gateway user is blank, or a tool user is also the
   *     kernel user, the gateway user or a shared user
   */
  public ServiceIdentities(String kernelUser, String gatewayUser, Set<String> sharedUsers, Set<String> toolUsers) {
    this.kernelUser = Objects.requireNonNull(kernelUser, "kernelUser");
    this.gatewayUser = Objects.requireNonNull(gatewayUser, "gatewayUser");
    this.sharedUsers = Set.copyOf(sharedUsers);
    this.toolUsers = Set.copyOf(toolUsers);
    if (kernelUser.isBlank() || gatewayUser.isBlank()) {
      throw new IllegalArgumentException("the kernel and gateway users must not be blank");
    }
    for (String t : this.toolUsers) {
      if (t.equals(kernelUser) || t.equals(gatewayUser) || this.sharedUsers.contains(t)) {
        throw new IllegalArgumentException("broker user '" + t + "' cannot be a tool user: it is the kernel user, the gateway user or a shared user");
      }
    }
  }

  /** @return the defaults: kernel user {@value #DEFAULT_KERNEL_USER}, shared users guest and in-process */
  public static ServiceIdentities defaults() {
    return fromEnvironment(Map.of());
  }

  /** @return the mapping this process's environment configures ({@link #fromEnvironment(Map)}) */
  public static ServiceIdentities fromEnvironment() {
    return fromEnvironment(System.getenv());
  }

  /**
   * The mapping a set of environment variables configures: {@code SKIFF_KERNEL_USER}, {@code SKIFF_GATEWAY_USER},
   * {@code SKIFF_SHARED_BROKER_USERS} and {@code SKIFF_TOOL_USERS} (comma-separated user names; set and
   * empty means none).
   *
   * @param env the variables
   * @return the mapping
   */
  public static ServiceIdentities fromEnvironment(Map<String, String> env) {
    String kernel = env.getOrDefault("SKIFF_KERNEL_USER", "").trim();
    kernel = kernel.isEmpty() ? DEFAULT_KERNEL_USER : kernel;
    String gateway = env.getOrDefault("SKIFF_GATEWAY_USER", "").trim();
    gateway = gateway.isEmpty() ? DEFAULT_GATEWAY_USER : gateway;
    Set<String> shared = env.containsKey("SKIFF_SHARED_BROKER_USERS") ? list(env.get("SKIFF_SHARED_BROKER_USERS")) : DEFAULT_SHARED_USERS;
    Set<String> tools = env.containsKey("SKIFF_TOOL_USERS") ? list(env.get("SKIFF_TOOL_USERS")) : Set.of(DEFAULT_TOOL_USER);
    return new ServiceIdentities(kernel, gateway, shared, tools);
  }

  private static Set<String> list(String csv) {
    return Arrays.stream(csv.split(",")).map(String::trim).filter(s -> !s.isEmpty()).collect(Collectors.toUnmodifiableSet());
  }

  /**
   * @param service a service's name
   * @return the broker user it is expected to connect as
   */
  public String expectedUser(String service) {
    if (service.equals(GATEWAY_SERVICE)) {
      return gatewayUser;
    }
    return service.startsWith(KERNEL_PREFIX) ? kernelUser : service;
  }

  /**
   * @param user a sender's broker-validated user, or null when unknown
   * @param service a service's name
   * @return whether that sender may speak for the service: answer its calls, announce it, report its
   *     health or spans
   */
  public boolean mayActAs(String user, String service) {
    return user != null && !toolUsers.contains(user) && (sharedUsers.contains(user) || user.equals(expectedUser(service)));
  }

  /** @return the kernel's broker user */
  public String kernelUser() {
    return kernelUser;
  }

  /** @return the HTTP gateway's broker user */
  public String gatewayUser() {
    return gatewayUser;
  }

  /** @return the users that may act as any service */
  public Set<String> sharedUsers() {
    return sharedUsers;
  }

  /** @return the users that act for people only, never as a service */
  public Set<String> toolUsers() {
    return toolUsers;
  }

  @Override
  public String toString() {
    return "ServiceIdentities[kernel=" + kernelUser + ", gateway=" + gatewayUser + ", shared=" + sharedUsers + ", tools=" + toolUsers + "]";
  }
}
