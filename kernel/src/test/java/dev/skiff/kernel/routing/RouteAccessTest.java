package dev.skiff.kernel.routing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.skiff.kernel.Guard;
import dev.skiff.kernel.binding.BindingService;
import dev.skiff.kernel.login.LoginService;
import dev.skiff.kernel.routing.RoutingFixture.KernelCopy;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.CallScope;
import dev.skiff.platform.client.Client;
import dev.skiff.proto.v1.AddUserRequest;
import dev.skiff.proto.v1.GetRouteRequest;
import dev.skiff.proto.v1.LoginRequest;
import dev.skiff.proto.v1.RouteRule;
import dev.skiff.proto.v1.RouteStatus;
import dev.skiff.proto.v1.SetRouteRequest;
import dev.skiff.proto.v1.Session;
import dev.skiff.proto.v1.UserResponse;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

/**
 * Who may change a routing rule (docs/security.md): a signed-in person whose roles cover
 * {@code ADMIN.ROUTES} for the rule's service; everyone else is refused before the rule changes, and
 * counted. The read view is open to services and signed-in people.
 */
class RouteAccessTest {
  @AutoClose
  final RoutingFixture f = new RoutingFixture();

  @Test
  void onlyAPersonWithAdminRoutesForTheServiceMayChangeItsRule() {
    KernelCopy k = f.leader();
    String mine = f.name("mine");
    String other = f.name("other");
    Client admin = f.admin();
    addUser(admin, "reader", List.of());
    addUser(admin, "routes-all", List.of("ADMIN.ROUTES"));
    addUser(admin, "routes-mine", List.of("ADMIN.ROUTES:" + mine));
    long refusedBefore = k.kernel.metricsOf("binding").counter("skiff.kernel.refused." + Guard.ROUTE_CHANGE).getCount();

    // a service (here the shared development user) without a person: not signed in
    assertRefused(f.client, mine, ErrorCode.UNAUTHORIZED);
    // a person whose token does not verify: not signed in either
    assertRefused(f.client.withScope(CallScope.forUser(token("reader") + "x")), mine, ErrorCode.UNAUTHORIZED);
    // a person without the role: not allowed, and counted
    assertRefused(as("reader"), mine, ErrorCode.FORBIDDEN);
    assertThatThrownBy(() -> set(as("reader"), mine, Map.of("1.0.0", 100))).hasMessageContaining("; user reader has no role");
    // a role scoped to another service
    assertRefused(as("routes-mine"), other, ErrorCode.FORBIDDEN);
    assertThatThrownBy(() -> set(as("routes-mine"), other, Map.of("1.0.0", 100)))
        .hasMessageContaining("; user routes-mine has roles ADMIN.ROUTES:" + mine);
    assertThat(k.kernel.metricsOf("binding").counter("skiff.kernel.refused." + Guard.ROUTE_CHANGE).getCount()).isEqualTo(refusedBefore + 4);
    assertThat(rule(f.client, mine)).as("no refused change was applied").isEmpty();
    assertThat(rule(f.client, other)).isEmpty();

    assertThat(set(as("routes-mine"), mine, Map.of("1.0.0", 100)).getRule().getWeightsMap()).isEqualTo(Map.of("1.0.0", 100));
    assertThat(set(as("routes-all"), other, Map.of("2.0.0", 100)).getRule().getWeightsMap()).isEqualTo(Map.of("2.0.0", 100));
    assertThat(set(admin, other, Map.of()).getRule().getWeightsMap()).as("ADMIN covers ADMIN.ROUTES").isEmpty();
    // the read view: open to a service and to a signed-in person without roles
    assertThat(rule(as("reader"), mine)).isEqualTo(Map.of("1.0.0", 100));
    set(admin, mine, Map.of());
  }

  @Test
  void theReadViewRefusesAnEmptyOrInvalidServiceName() {
    f.leader();
    for (String bad : List.of("", "Not A Name", "<script>", "a".repeat(300))) {
      assertThatThrownBy(() -> f.client.call(BindingService.SERVICE, "get_route", GetRouteRequest.newBuilder().setService(bad).build(),
          RouteStatus.class))
          .as("'%s'", bad)
          .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.BAD_REQUEST))
          .hasMessageContaining("service");
    }
    assertThat(rule(f.client, f.name("valid"))).as("a valid name with no rule: an empty rule").isEmpty();
  }

  private void addUser(Client admin, String user, List<String> roles) {
    admin.call(LoginService.SERVICE, "users.add",
        AddUserRequest.newBuilder().setUser(user).setPassword(user + "-password").addAllRoles(roles).build(), UserResponse.class);
  }

  private String token(String user) {
    return f.client.call(LoginService.SERVICE, "login",
        LoginRequest.newBuilder().setUser(user).setPassword(user + "-password").build(), Session.class).getToken();
  }

  private Client as(String user) {
    return f.client.withScope(CallScope.forUser(token(user)));
  }

  private static RouteStatus set(Client c, String service, Map<String, Integer> weights) {
    return c.call(BindingService.SERVICE, "set_route",
        SetRouteRequest.newBuilder().setRule(RouteRule.newBuilder().setService(service).putAllWeights(weights)).setForce(true).build(),
        RouteStatus.class);
  }

  private static Map<String, Integer> rule(Client c, String service) {
    return c.call(BindingService.SERVICE, "get_route", GetRouteRequest.newBuilder().setService(service).build(), RouteStatus.class)
        .getRule().getWeightsMap();
  }

  private static void assertRefused(Client c, String service, ErrorCode code) {
    assertThatThrownBy(() -> set(c, service, Map.of("1.0.0", 100)))
        .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).as(e.getMessage()).isEqualTo(code));
  }
}
