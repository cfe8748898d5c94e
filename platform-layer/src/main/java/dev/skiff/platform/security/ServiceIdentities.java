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
 *   <li>a <em>shared</em> user may act as any service: the development set-up, where every process
 *       connects as {@code guest}, and the in-process transport, which reports {@value #IN_PROCESS} for
 *       everything. The production set-up ({@code skiff broker setup}) deletes {@code guest}, so that it
 *       cannot log in; set {@code SKIFF_SHARED_BROKER_USERS} to empty to refuse it even so;
 *   <li>administrators (route changes) are the users in {@code SKIFF_ADMIN_USERS} (the kernel user
 *       unless set), and the shared users.
 * </ul>
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

  private final String kernelUser;
  private final Set<String> sharedUsers;
  private final Set<String> adminUsers;

  /**
   * @param kernelUser the broker user the kernel services connect as
   * @param sharedUsers users that may act as any service (development); may be empty
   * @param adminUsers users allowed to change routes, besides the shared users
   */
  public ServiceIdentities(String kernelUser, Set<String> sharedUsers, Set<String> adminUsers) {
    this.kernelUser = Objects.requireNonNull(kernelUser, "kernelUser");
    this.sharedUsers = Set.copyOf(sharedUsers);
    this.adminUsers = Set.copyOf(adminUsers);
    if (kernelUser.isBlank()) {
      throw new IllegalArgumentException("the kernel user must not be blank");
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
   * The mapping a set of environment variables configures: {@code SKIFF_KERNEL_USER},
   * {@code SKIFF_SHARED_BROKER_USERS} and {@code SKIFF_ADMIN_USERS} (comma-separated user names; set and
   * empty means none).
   *
   * @param env the variables
   * @return the mapping
   */
  public static ServiceIdentities fromEnvironment(Map<String, String> env) {
    String kernel = env.getOrDefault("SKIFF_KERNEL_USER", "").trim();
    kernel = kernel.isEmpty() ? DEFAULT_KERNEL_USER : kernel;
    Set<String> shared = env.containsKey("SKIFF_SHARED_BROKER_USERS") ? list(env.get("SKIFF_SHARED_BROKER_USERS")) : DEFAULT_SHARED_USERS;
    Set<String> admins = env.containsKey("SKIFF_ADMIN_USERS") ? list(env.get("SKIFF_ADMIN_USERS")) : Set.of(kernel);
    return new ServiceIdentities(kernel, shared, admins);
  }

  private static Set<String> list(String csv) {
    return Arrays.stream(csv.split(",")).map(String::trim).filter(s -> !s.isEmpty()).collect(Collectors.toUnmodifiableSet());
  }

  /**
   * @param service a service's name
   * @return the broker user it is expected to connect as
   */
  public String expectedUser(String service) {
    return service.startsWith(KERNEL_PREFIX) ? kernelUser : service;
  }

  /**
   * @param user a sender's broker-validated user, or null when unknown
   * @param service a service's name
   * @return whether that sender may speak for the service: answer its calls, announce it, report its
   *     health or spans
   */
  public boolean mayActAs(String user, String service) {
    return user != null && (sharedUsers.contains(user) || user.equals(expectedUser(service)));
  }

  /**
   * @param user a sender's broker-validated user, or null when unknown
   * @return whether it may change what applies to every service (routing rules)
   */
  public boolean isAdmin(String user) {
    return user != null && (sharedUsers.contains(user) || adminUsers.contains(user));
  }

  /** @return the kernel's broker user */
  public String kernelUser() {
    return kernelUser;
  }

  /** @return the users that may act as any service */
  public Set<String> sharedUsers() {
    return sharedUsers;
  }

  /** @return the users that may change routes (besides the shared users) */
  public Set<String> adminUsers() {
    return adminUsers;
  }

  @Override
  public String toString() {
    return "ServiceIdentities[kernel=" + kernelUser + ", shared=" + sharedUsers + ", admins=" + adminUsers + "]";
  }
}
