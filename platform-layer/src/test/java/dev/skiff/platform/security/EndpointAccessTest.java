package dev.skiff.platform.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.codahale.metrics.MetricRegistry;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.CallScope;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.testproto.EchoRequest;
import dev.skiff.platform.testproto.EchoResponse;
import dev.skiff.platform.transport.inprocess.InProcessTransport;
import java.time.Instant;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The server enforces each endpoint's {@link Access} before its handler runs, and a nested call carries
 * the person on, unchanged. Tokens here come from a fixed table (the signatures are tested with the
 * login service); what is under test is the server's use of the verdict.
 */
class EndpointAccessTest {
  private static final EchoRequest HI = EchoRequest.newBuilder().setText("hi").build();

  /** Pure logic stand-in: known tokens prove a person, anything else is refused as a bad signature. */
  private static final TokenVerifier TABLE = token -> {
    Map<String, UserIdentity> known = Map.of(
        "tok-ann", new UserIdentity("ann", Set.of(Role.ADMIN), "s-ann", Instant.EPOCH, Instant.MAX),
        "tok-bob", new UserIdentity("bob", Set.of(Role.of("ADMIN.CONFIG")), "s-bob", Instant.EPOCH, Instant.MAX),
        "tok-cat", new UserIdentity("cat", Set.of(), "s-cat", Instant.EPOCH, Instant.MAX));
    UserIdentity u = known.get(token);
    if (u == null) {
      throw new TokenRejectedException(TokenRejectedException.Reason.BAD_SIGNATURE, "the session token's signature does not match");
    }
    return u;
  };

  private final InProcessTransport transport = InProcessTransport.create();
  private final MetricRegistry metrics = new MetricRegistry();
  private final AtomicReference<Caller> seenByBack = new AtomicReference<>();
  private Server front;
  private Server back;
  private Client client;

  @BeforeEach
  void start() {
    back = Server.builder("test.back").transport(transport).tokenVerifier(TABLE).metrics(metrics).announce(false)
        .endpoint(Endpoint.of("config", EchoRequest.class, EchoResponse.class, (r, ctx) -> {
          seenByBack.set(ctx.caller());
          return EchoResponse.newBuilder().setText(ctx.caller().user().map(UserIdentity::user).orElse("-")).build();
        }).withAccess(Access.role("ADMIN.CONFIG")))
        .endpoint(Endpoint.of("open", EchoRequest.class, EchoResponse.class, (r, ctx) -> EchoResponse.getDefaultInstance())
            .withAccess(Access.anyone()))
        .endpoint(Endpoint.of("internal", EchoRequest.class, EchoResponse.class, (r, ctx) -> EchoResponse.getDefaultInstance()))
        .build().start();
    front = Server.builder("test.front").transport(transport).tokenVerifier(TABLE).announce(false)
        .endpoint(Endpoint.of("relay", EchoRequest.class, EchoResponse.class,
            (r, ctx) -> ctx.client().call("test.back", "config", r, EchoResponse.class)).withAccess(Access.signedIn()))
        .build().start();
    client = Client.builder().transport(transport).build();
  }

  @AfterEach
  void stop() {
    client.close();
    front.close();
    back.close();
    transport.close();
  }

  private Client as(String token) {
    return client.withScope(CallScope.forUser(token));
  }

  private static ErrorCode codeOf(Runnable call) {
    try {
      call.run();
    } catch (SkiffException e) {
      return e.code();
    }
    throw new AssertionError("the call was not refused");
  }

  @Test
  void aRoleRequirementAdmitsItsHoldersAndItsAncestorsOnly() {
    assertThat(as("tok-ann").call("test.back", "config", HI, EchoResponse.class).getText()).isEqualTo("ann");
    assertThat(as("tok-bob").call("test.back", "config", HI, EchoResponse.class).getText()).isEqualTo("bob");
    assertThat(codeOf(() -> as("tok-cat").call("test.back", "config", HI, EchoResponse.class))).isEqualTo(ErrorCode.FORBIDDEN);
    assertThat(codeOf(() -> client.call("test.back", "config", HI, EchoResponse.class))).isEqualTo(ErrorCode.UNAUTHORIZED);
    assertThat(metrics.counter("skiff.server.endpoint.config.denied").getCount()).isEqualTo(2);
  }

  @Test
  void aForgedTokenIsUnauthorizedAndTheHandlerNeverRuns() {
    assertThatThrownBy(() -> as("tok-ann-forged").call("test.back", "config", HI, EchoResponse.class))
        .isInstanceOfSatisfying(SkiffException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.UNAUTHORIZED);
          assertThat(e.getMessage()).contains("signature").doesNotContain("tok-ann-forged");
        });
    assertThat(seenByBack.get()).isNull();
    // an endpoint open to anyone serves even a caller with an unreadable token; a closed one refuses it unread
    assertThat(as("x".repeat(10_000)).call("test.back", "open", HI, EchoResponse.class)).isNotNull();
    assertThat(codeOf(() -> as("x".repeat(10_000)).call("test.back", "internal", HI, EchoResponse.class)))
        .isEqualTo(ErrorCode.UNAUTHORIZED);
  }

  @Test
  void theNestedCallCarriesThePersonUnchangedSoAnIntermediateCannotWidenIt() {
    assertThat(as("tok-bob").call("test.front", "relay", HI, EchoResponse.class).getText()).isEqualTo("bob");
    assertThat(seenByBack.get().user().orElseThrow().roles()).containsExactly(Role.of("ADMIN.CONFIG"));
    assertThat(seenByBack.get().service()).contains("test.front");
    // cat may call the front (signed in) but the back refuses what cat may not do, through the front too
    assertThat(codeOf(() -> as("tok-cat").call("test.front", "relay", HI, EchoResponse.class))).isEqualTo(ErrorCode.FORBIDDEN);
  }

  @Test
  void anEndpointThatDeclaresNothingIsOpenToServicesAndToAdministratorsButNotOtherPeople() {
    assertThat(client.call("test.back", "internal", HI, EchoResponse.class)).isNotNull();
    assertThat(as("tok-ann").call("test.back", "internal", HI, EchoResponse.class)).isNotNull();
  }
}
