package dev.skiff.platform.security;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Who may act as whom: the mapping docs/security.md describes. */
class ServiceIdentitiesTest {
  private final ServiceIdentities production = new ServiceIdentities("skiff-kernel", Set.of(), Set.of("skiff-kernel", "ops"));

  @Test
  void aServiceIsItsOwnUserAndTheKernelServicesAreTheKernelUser() {
    assertThat(production.mayActAs("com.example.greeter", "com.example.greeter")).isTrue();
    assertThat(production.mayActAs("com.example.bookings", "com.example.greeter")).isFalse();
    assertThat(production.mayActAs("skiff-kernel", "skiff.discovery")).isTrue();
    assertThat(production.mayActAs("skiff-kernel", "com.example.greeter")).as("the kernel is not every service").isFalse();
    assertThat(production.mayActAs("skiff.discovery", "skiff.discovery")).as("kernel services act as the kernel user only").isFalse();
  }

  @Test
  void anUnknownSenderMayActAsNothing() {
    assertThat(production.mayActAs(null, "com.example.greeter")).isFalse();
    assertThat(production.isAdmin(null)).isFalse();
    assertThat(ServiceIdentities.defaults().mayActAs(null, "com.example.greeter")).isFalse();
  }

  @Test
  void administratorsAreTheListedUsers() {
    assertThat(production.isAdmin("ops")).isTrue();
    assertThat(production.isAdmin("skiff-kernel")).isTrue();
    assertThat(production.isAdmin("com.example.greeter")).isFalse();
  }

  @Test
  void theDefaultsAreForDevelopmentGuestAndInProcessMayActAsAnything() {
    ServiceIdentities dev = ServiceIdentities.defaults();
    assertThat(dev.kernelUser()).isEqualTo(ServiceIdentities.DEFAULT_KERNEL_USER);
    assertThat(dev.mayActAs("guest", "com.example.greeter")).isTrue();
    assertThat(dev.mayActAs(ServiceIdentities.IN_PROCESS, "skiff.binding")).isTrue();
    assertThat(dev.isAdmin("guest")).isTrue();
    assertThat(dev.adminUsers()).containsExactly(ServiceIdentities.DEFAULT_KERNEL_USER);
  }

  @Test
  void theEnvironmentConfiguresTheKernelUserTheSharedUsersAndTheAdministrators() {
    ServiceIdentities ids = ServiceIdentities.fromEnvironment(
        Map.of("SKIFF_KERNEL_USER", "kern", "SKIFF_SHARED_BROKER_USERS", "", "SKIFF_ADMIN_USERS", "kern, ops"));
    assertThat(ids.kernelUser()).isEqualTo("kern");
    assertThat(ids.sharedUsers()).isEmpty();
    assertThat(ids.adminUsers()).containsExactlyInAnyOrder("kern", "ops");
    assertThat(ids.mayActAs("guest", "com.example.greeter")).as("no shared users: guest is nobody special").isFalse();
    assertThat(ServiceIdentities.fromEnvironment(Map.of("SKIFF_KERNEL_USER", "kern")).adminUsers())
        .as("the administrators default to the kernel user").containsExactly("kern");
  }
}
