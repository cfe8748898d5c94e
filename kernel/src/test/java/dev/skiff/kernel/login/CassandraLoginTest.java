package dev.skiff.kernel.login;

import static dev.skiff.kernel.login.LoginFixture.ADMIN_PASSWORD;
import static dev.skiff.kernel.Refusals.assertRefused;
import static org.assertj.core.api.Assertions.assertThat;

import com.nimbusds.jwt.SignedJWT;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.config.Config;
import dev.skiff.proto.v1.KeysRequest;
import dev.skiff.proto.v1.KeysResponse;
import dev.skiff.proto.v1.ListUsersRequest;
import dev.skiff.proto.v1.LogoutRequest;
import dev.skiff.proto.v1.LogoutResponse;
import dev.skiff.proto.v1.Session;
import dev.skiff.proto.v1.UserInfo;
import dev.skiff.proto.v1.UserList;
import dev.skiff.service.TestKeyspace;
import dev.skiff.testing.RabbitMqExtension;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The login service on Cassandra (the shared node, a keyspace of the test's own) survives a restart. */
class CassandraLoginTest {
  @RegisterExtension static final RabbitMqExtension broker = RabbitMqExtension.create();

  @RegisterExtension final TestKeyspace keyspace = new TestKeyspace("skiff_login");
  private final LoginFixture f = new LoginFixture(broker.amqpUri());

  @AfterEach
  void tearDown() {
    f.close();
  }

  private Config config() {
    return keyspace.config(Map.of("login.keyspace", keyspace.name()));
  }

  private LoginService start(String bootstrapPassword) {
    LoginSettings s = LoginSettings.defaults().withBootstrapAdminPassword(bootstrapPassword);
    LoginService login = f.startLogin(s, new CassandraUserStore(config(), s.tokenTtl().plus(LoginService.KEEP_MARGIN)));
    assertThat(login.isReady()).as("Cassandra answered at start").isTrue();
    return login;
  }

  @Test
  void usersKeysAndRevocationsSurviveARestart() throws Exception {
    start(ADMIN_PASSWORD);
    String admin = f.login("admin", ADMIN_PASSWORD).getToken();
    f.addUser(admin, "ivan", "ivan-password", "ADMIN.CONFIG");
    Session kept = f.login("ivan", "ivan-password");
    Session ended = f.login("ivan", "ivan-password");
    f.as(ended.getToken()).call(LoginService.SERVICE, "logout", LogoutRequest.getDefaultInstance(), LogoutResponse.class);
    String kid = SignedJWT.parse(kept.getToken()).getHeader().getKeyID();
    f.stopLogin();

    // a new copy on the same keyspace, with another bootstrap password: ignored, as users exist
    LoginService again = start("some-other-password");
    assertThat(again.signingKid()).as("the signing key was kept").isEqualTo(kid);
    assertThat(f.client().call(LoginService.SERVICE, "keys", KeysRequest.getDefaultInstance(), KeysResponse.class).getJwksJson())
        .contains(kid).doesNotContain("\"d\"");
    assertRefused(() -> f.login("admin", "some-other-password"), ErrorCode.UNAUTHORIZED);
    assertThat(f.login("ivan", "ivan-password").getRolesList()).containsExactly("ADMIN.CONFIG");
    // a verifier that starts now: the kept token verifies with the stored key; the ended one is refused (stored revocation)
    assertThat(f.probe("config", kept.getToken())).isEqualTo("config");
    assertRefused(() -> f.probe("whoami", ended.getToken()), ErrorCode.UNAUTHORIZED, "revoked");
    String admin2 = f.login("admin", ADMIN_PASSWORD).getToken();
    UserList users = f.as(admin2).call(LoginService.SERVICE, "users.list", ListUsersRequest.getDefaultInstance(), UserList.class);
    assertThat(users.getUsersList()).extracting(UserInfo::getUser).containsExactly("admin", "ivan");
    // the session of a token signed before the restart renews
    assertThat(f.as(kept.getToken()).call(LoginService.SERVICE, "renew", dev.skiff.proto.v1.RenewRequest.getDefaultInstance(),
        Session.class).getSessionId()).isEqualTo(kept.getSessionId());
  }
}
