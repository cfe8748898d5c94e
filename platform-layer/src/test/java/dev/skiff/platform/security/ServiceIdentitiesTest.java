package dev.skiff.platform.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Who may act as whom: the mapping docs/security.md describes. */
class ServiceIdentitiesTest {
  private final ServiceIdentities production = new ServiceIdentities("skiff-kernel", Set.of(), Set.of("skiff-cli"));

  @Test
  void aServiceIsItsOwnUserAndTheKernelServicesAreTheKernelUser() {
    assertThat(production.mayActAs("com.example.greeter", "com.example.greeter")).isTrue();
    assertThat(production.mayActAs("com.example.bookings", "com.example.greeter")).isFalse();
    assertThat(production.mayActAs("skiff-kernel", "skiff.discovery")).isTrue();
    assertThat(production.mayActAs("skiff-kernel", "com.example.greeter")).as("the kernel is not every service").isFalse();
    assertThat(production.mayActAs("skiff.discovery", "skiff.discovery")).as("kernel services act as the kernel user only").isFalse();
  }

  @Test
  void theGatewayIsItsOwnUserNotTheKernels() {
    assertThat(production.mayActAs("skiff-gateway", ServiceIdentities.GATEWAY_SERVICE)).isTrue();
    assertThat(production.mayActAs("skiff-kernel", ServiceIdentities.GATEWAY_SERVICE)).as("the kernel user is not the gateway").isFalse();
    assertThat(production.mayActAs("skiff-gateway", "skiff.login")).as("the gateway's user is not the kernel").isFalse();
    assertThat(production.mayActAs("skiff-gateway", "skiff.discovery")).isFalse();
    ServiceIdentities named = ServiceIdentities.fromEnvironment(Map.of("SKIFF_GATEWAY_USER", "edge"));
    assertThat(named.gatewayUser()).isEqualTo("edge");
    assertThat(named.mayActAs("edge", ServiceIdentities.GATEWAY_SERVICE)).isTrue();
    assertThatThrownBy(() -> new ServiceIdentities("skiff-kernel", "edge", Set.of(), Set.of("edge")))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void anUnknownSenderMayActAsNothing() {
    assertThat(production.mayActAs(null, "com.example.greeter")).isFalse();
    assertThat(ServiceIdentities.defaults().mayActAs(null, "com.example.greeter")).isFalse();
  }

  @Test
  void aToolUserActsAsNoServiceNotEvenOneNamedAfterIt() {
    assertThat(production.mayActAs("skiff-cli", "skiff-cli")).isFalse();
    assertThat(production.mayActAs("skiff-cli", "com.example.greeter")).isFalse();
    assertThat(ServiceIdentities.defaults().toolUsers()).containsExactly(ServiceIdentities.DEFAULT_TOOL_USER);
  }

  @Test
  void aToolUserCannotAlsoBeTheKernelUserOrASharedUser() {
    assertThatThrownBy(() -> new ServiceIdentities("skiff-kernel", Set.of(), Set.of("skiff-kernel")))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new ServiceIdentities("skiff-kernel", Set.of("guest"), Set.of("guest")))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void theDefaultsAreForDevelopmentGuestAndInProcessMayActAsAnything() {
    ServiceIdentities dev = ServiceIdentities.defaults();
    assertThat(dev.kernelUser()).isEqualTo(ServiceIdentities.DEFAULT_KERNEL_USER);
    assertThat(dev.mayActAs("guest", "com.example.greeter")).isTrue();
    assertThat(dev.mayActAs(ServiceIdentities.IN_PROCESS, "skiff.binding")).isTrue();
  }

  @Test
  void theEnvironmentConfiguresTheKernelUserTheSharedUsersAndTheToolUsers() {
    ServiceIdentities ids = ServiceIdentities.fromEnvironment(
        Map.of("SKIFF_KERNEL_USER", "kern", "SKIFF_SHARED_BROKER_USERS", "", "SKIFF_TOOL_USERS", "cli, ops"));
    assertThat(ids.kernelUser()).isEqualTo("kern");
    assertThat(ids.sharedUsers()).isEmpty();
    assertThat(ids.toolUsers()).containsExactlyInAnyOrder("cli", "ops");
    assertThat(ids.mayActAs("guest", "com.example.greeter")).as("no shared users: guest is nobody special").isFalse();
    assertThat(ServiceIdentities.fromEnvironment(Map.of("SKIFF_TOOL_USERS", "")).toolUsers()).isEmpty();
  }
}
