package dev.skiff.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.platform.transport.amqp.AmqpOptions;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code skiff credentials create|delete} on users that exist, against the real broker's management API
 * (exploratory test "ops", findings 3 and 11): a new password keeps the user's tags; the administrator the
 * command runs as can neither be given a new password nor deleted by it (either used to lock the operator
 * out: a password changed and never printed, the administrator tag gone); a name a URL would resolve away
 * is refused; a refused administrator is exit 3 with a hint about the broker's administrator.
 */
class CredentialsCommandTest {
  private final String tag = EchoService.randomHex(4);
  private final String admin = "test-cred-" + tag + "-admin";
  private final String adminPassword = "admin-pass-" + tag;
  private final List<String> users = new ArrayList<>();
  private ManagementApi guest;
  private String vhost;

  @BeforeEach
  void setUp() {
    AmqpOptions broker = AmqpOptions.of(EchoService.brokerUri());
    guest = new ManagementOption().resolve(Map.of(), broker, null);
    vhost = ManagementOption.vhost(broker);
    guest.putUser(admin, adminPassword, "administrator");
    guest.putPermissions(vhost, admin, BrokerPermissions.ALL);
    users.add(admin);
  }

  @AfterEach
  void tearDown() {
    for (String u : users) {
      guest.deleteUser(u);
    }
  }

  /** The environment of a command run as the test's administrator. */
  private Map<String, String> asAdmin(String password) {
    URI amqp = URI.create(EchoService.brokerUri());
    return Map.of(
        "SKIFF_AMQP_URI", "amqp://" + admin + ":" + password + "@" + amqp.getHost() + ":" + (amqp.getPort() < 0 ? 5672 : amqp.getPort())
            + amqp.getRawPath(),
        ManagementOption.ENV, "http://" + admin + ":" + password + "@" + amqp.getHost() + ":15672");
  }

  /** @return whether the administrator can still use the management API with its password */
  private boolean adminWorks() {
    return new ManagementApi(guest.base(), admin, adminPassword).userTags(admin).isPresent();
  }

  @Test
  void theAdministratorRunningTheCommandIsNeitherGivenANewPasswordNorDeleted() {
    Skiff.Result create = Skiff.run(asAdmin(adminPassword), "credentials", "create", admin, "--admin");
    assertThat(create.exitCode()).as(create.toString()).isEqualTo(SkiffCli.EXIT_USAGE);
    assertThat(create.err()).contains("'" + admin + "' is the administrator this command uses").contains("rabbitmqctl change_password");
    assertThat(create.out()).isEmpty();
    assertThat(adminWorks()).as("its password unchanged").isTrue();
    assertThat(guest.userTags(admin)).as("its tag kept").contains("administrator");

    Skiff.Result delete = Skiff.run(asAdmin(adminPassword), "credentials", "delete", admin);
    assertThat(delete.exitCode()).as(delete.toString()).isEqualTo(SkiffCli.EXIT_USAGE);
    assertThat(delete.err()).contains("'" + admin + "' is the administrator this command uses");
    assertThat(guest.userExists(admin)).isTrue();
  }

  @Test
  void aNewPasswordForAnExistingUserKeepsItsTagsAndIsPrinted() {
    String other = "test-cred-" + tag + "-ops";
    users.add(other);
    guest.putUser(other, "old-pass-" + tag, "administrator,monitoring");
    Skiff.Result create = Skiff.run(asAdmin(adminPassword), "credentials", "create", other, "--admin");
    assertThat(create.exitCode()).as(create.toString()).isZero();
    String password = create.out().strip();
    assertThat(password).hasSize(32);
    assertThat(guest.userTags(other)).as("its tags kept").contains("administrator,monitoring");
    assertThat(new ManagementApi(guest.base(), other, password).userTags(other)).as("the printed password works").isPresent();
  }

  @Test
  void aNodeListUsesTheFirstNodesVirtualHostAndNeverPutsAPasswordInOne() throws Exception {
    URI amqp = URI.create(EchoService.brokerUri());
    String node = admin + ":" + adminPassword + "@%s:" + (amqp.getPort() < 0 ? 5672 : amqp.getPort()) + amqp.getRawPath();
    String list = "amqp://" + String.format(node, amqp.getHost()) + ",amqp://" + String.format(node, "127.0.0.1");
    String service = "test.cred" + tag + ".listed";
    users.add(service);
    Skiff.Result r = Skiff.run(Map.of("SKIFF_AMQP_URI", list), "credentials", "create", service);
    assertThat(r.exitCode()).as(r.toString()).isZero();
    assertThat(r.err()).contains("broker user '" + service + "' can use virtual host '" + vhost + "' as service " + service)
        .doesNotContain(adminPassword);
    String password = r.out().strip();
    URI first = URI.create(EchoService.brokerUri());
    // the printed password opens the first node's virtual host, as the new user
    com.rabbitmq.client.ConnectionFactory f = new com.rabbitmq.client.ConnectionFactory();
    f.setUri("amqp://" + service + ":" + password + "@" + first.getHost() + ":" + (first.getPort() < 0 ? 5672 : first.getPort())
        + first.getRawPath());
    f.setAutomaticRecoveryEnabled(false);
    try (com.rabbitmq.client.Connection c = f.newConnection("credentials-list-test")) {
      assertThat(c.isOpen()).isTrue();
    }
  }

  @Test
  void aNameAUrlWouldResolveAwayIsRefused() {
    for (String name : List.of("..", ".", "a\u001bb")) {
      Skiff.Result r = Skiff.run(asAdmin(adminPassword), "credentials", "delete", name);
      assertThat(r.exitCode()).as(r.toString()).isEqualTo(SkiffCli.EXIT_USAGE);
      assertThat(r.err()).contains("is not a broker user name").doesNotContain("\u001b");
    }
  }

  @Test
  void aRefusedAdministratorIsExitThreeWithAHintAboutTheBrokersAdministrator() {
    Skiff.Result r = Skiff.run(asAdmin("wrong-" + tag), "credentials", "delete", "test-cred-" + tag + "-nobody");
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(SkiffCli.EXIT_BROKER_UNREACHABLE);
    assertThat(r.err()).startsWith("UNAUTHORIZED: DELETE /api/users/").contains("answered 401")
        .contains("give a broker administrator").doesNotContain("skiff login USER").doesNotContain("wrong-" + tag);
  }
}
