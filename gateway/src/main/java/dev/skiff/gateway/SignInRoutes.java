package dev.skiff.gateway;

import com.google.protobuf.Descriptors.Descriptor;
import dev.skiff.kernel.login.LoginService;
import dev.skiff.proto.v1.ChangePasswordRequest;
import dev.skiff.proto.v1.LoginRequest;
import dev.skiff.proto.v1.LogoutRequest;
import dev.skiff.proto.v1.LogoutResponse;
import dev.skiff.proto.v1.RenewRequest;
import dev.skiff.proto.v1.Session;
import dev.skiff.proto.v1.UserResponse;
import dev.skiff.proto.v1.WhoAmIRequest;
import java.time.Duration;
import java.util.List;

/**
 * How people outside sign in (docs/gateway.md, "Signing in"): a fixed set of routes under {@value #PREFIX},
 * each made to one endpoint of the login service, which decides alone who may do what (a sign-in is open
 * to anyone; the rest need the session's token, sent as {@code Authorization: Bearer}). These are the
 * only routes to a kernel service that need no administrator. The gateway makes their calls with a client
 * of their own ({@code Gateway}): without retries, since a refused sign-in must not be tried again for the
 * caller, and with a breaker that does not open, since a name locked after failed sign-ins (the login
 * service's CAPACITY) says nothing about the service's health, and counting it would let anyone lock the
 * sign-in of everyone. Sign-ins are also limited per client address
 * ({@link GatewayOptions#signInsPerMinute()}). Immutable, thread-safe.
 */
final class SignInRoutes {
  /** The path prefix of every sign-in route. */
  static final String PREFIX = "/auth/v1/";

  private static final Duration TIMEOUT = Duration.ofSeconds(10);

  private final FixedRoutes table;
  private final Route signIn;

  SignInRoutes() {
    this.signIn = route("POST", "login", LoginRequest.getDescriptor(), "login", Session.getDescriptor());
    this.table = new FixedRoutes(PREFIX, List.of(signIn,
        route("POST", "renew", RenewRequest.getDescriptor(), "renew", Session.getDescriptor()),
        route("POST", "logout", LogoutRequest.getDescriptor(), "logout", LogoutResponse.getDescriptor()),
        new Route("GET", PathTemplate.parse(PREFIX + "whoami"), null, LoginService.SERVICE, "whoami", WhoAmIRequest.getDescriptor(),
            Session.getDescriptor(), TIMEOUT),
        route("PUT", "password", ChangePasswordRequest.getDescriptor(), "users.passwd", UserResponse.getDescriptor())));
  }

  /** A route whose body, if any, is the whole request ({@code {}} or nothing for the requests without fields). */
  private static Route route(String method, String path, Descriptor request, String endpoint, Descriptor response) {
    return new Route(method, PathTemplate.parse(PREFIX + path), "*", LoginService.SERVICE, endpoint, request, response, TIMEOUT);
  }

  /** @return the routes, under {@value #PREFIX} */
  FixedRoutes routes() {
    return table;
  }

  /** @return whether the route is the sign-in itself (limited per client address) */
  boolean isSignIn(Route route) {
    return route == signIn;
  }
}
