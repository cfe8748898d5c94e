package dev.skiff.kernel.config;

import static dev.skiff.kernel.config.ConfigFixture.layer;
import static dev.skiff.kernel.Refusals.refusal;
import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.Client;
import dev.skiff.proto.v1.ConfigChange;
import dev.skiff.proto.v1.ConfigDiff;
import dev.skiff.proto.v1.ConfigDiffRequest;
import dev.skiff.proto.v1.ConfigLayer;
import dev.skiff.proto.v1.ConfigLog;
import dev.skiff.proto.v1.ConfigLogRequest;
import dev.skiff.proto.v1.ConfigView;
import dev.skiff.proto.v1.GetConfigRequest;
import dev.skiff.proto.v1.RollbackConfigRequest;
import dev.skiff.proto.v1.SetConfigRequest;
import dev.skiff.testing.RabbitMqExtension;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Optional;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Attacks on secrets, on the real broker: a person with every config role, another service, and refused
 * changes must never see a secret's value (nor its ciphertext) in any answer, error or server log; only
 * the service it belongs to, asking for itself, reads it; rollback and diff keep working.
 */
class ConfigSecretsTest {
  @RegisterExtension static final RabbitMqExtension broker = RabbitMqExtension.create();

  private static final String SECRET = "hunter2-Zq9xW";
  private static final String SECRET2 = "swordfish-Kp3vB";
  private static final ConfigLayer PAYMENTS = layer("payments", "", "");
  private static final ConfigLayer EU_PAYMENTS = layer("payments", "eu", "");

  private final ConfigFixture f = new ConfigFixture(broker.amqpUri());
  private final ByteArrayOutputStream logs = new ByteArrayOutputStream();
  private PrintStream realErr;
  private static String keyId = "(none)";
  private String admin;

  @BeforeEach
  void start() {
    realErr = System.err;
    PrintStream tee = new PrintStream(new OutputStream() {
      @Override
      public void write(int b) {
        realErr.write(b);
        synchronized (logs) {
          logs.write(b);
        }
      }

      @Override
      public void write(byte[] b, int off, int len) {
        realErr.write(b, off, len);
        synchronized (logs) {
          logs.write(b, off, len);
        }
      }
    }, true, StandardCharsets.UTF_8);
    System.setErr(tee);
    byte[] key = new byte[32];
    new SecureRandom().nextBytes(key);
    SecretCipher cipher = SecretCipher.of(key);
    keyId = cipher.keyId();
    f.start(new MemoryConfigStore(1000), Optional.of(cipher));
    admin = f.admin();
  }

  @AfterEach
  void stop() {
    try {
      f.close();
    } finally {
      System.setErr(realErr);
    }
    String logged;
    synchronized (logs) {
      logged = logs.toString(StandardCharsets.UTF_8);
    }
    assertThat(logged).contains("config service:"); // the capture sees the service's lines
    assertThat(logged).doesNotContain(SECRET).doesNotContain(SECRET2).doesNotContain("v1." + keyId + ".");
  }

  private ConfigChange setSecret(String token, ConfigLayer l, String path, String json) {
    long base = f.get(token, "", "", "", "", false).getVersion();
    return f.as(token).call(ConfigService.SERVICE, "set", SetConfigRequest.newBuilder().setLayer(l).setPath(path).setValueJson(json)
        .setMessage("secret " + path).setBaseVersion(base).setSecret(true).build(), ConfigChange.class);
  }

  private static ConfigView get(Client c, String service, String region, String path, boolean explain) {
    return c.call(ConfigService.SERVICE, "get", GetConfigRequest.newBuilder().setService(service).setRegion(region).setPath(path)
        .setExplain(explain).build(), ConfigView.class);
  }

  /** Neither the value nor anything sealed appears in an answer. */
  private static void assertClean(Object answer) {
    assertThat(answer.toString()).doesNotContain(SECRET).doesNotContain(SECRET2).doesNotContain("$secret").doesNotContain("v1." + keyId + ".");
  }

  private static void assertRefusedClean(Supplier<?> call, ErrorCode code, String... words) {
    SkiffException e = refusal(call);
    assertThat(e.code()).as(e.getMessage()).isEqualTo(code);
    if (words.length > 0) {
      assertThat(e.getMessage()).contains(words);
    }
    assertThat(e.getMessage()).doesNotContain(SECRET).doesNotContain("hunter");
  }

  @Test
  void anAdministratorWithEveryRoleSeesOnlyTheMarkerInGetExplainLogDiffAndTheChangeItself() {
    f.set(admin, layer("", "", ""), "db", "{\"host\":\"db.global\",\"user\":\"app\"}");
    ConfigChange c = setSecret(admin, PAYMENTS, "db.password", "\"" + SECRET + "\"");
    assertClean(c);
    assertThat(c.getEdits(0).getSecret()).isTrue();
    assertThat(c.getEdits(0).getNewJson()).isEqualTo("\"<secret>\"");

    ConfigView view = f.get(admin, "payments", "", "", "", true);
    assertClean(view);
    assertThat(view.getRedacted()).isTrue();
    assertThat(view.getJson()).isEqualTo("{\"db\":{\"host\":\"db.global\",\"password\":\"<secret>\",\"user\":\"app\"}}");
    assertThat(view.getLeavesList()).filteredOn(l -> l.getPath().equals("db.password"))
        .singleElement().satisfies(l -> {
          assertThat(l.getSecret()).isTrue();
          assertThat(l.getLayer()).isEqualTo("service/payments");
          assertThat(l.getChangeId()).isEqualTo(c.getId());
        });
    assertClean(f.get(admin, "payments", "", "", "db.password", false));
    ConfigLog log = f.as(admin).call(ConfigService.SERVICE, "log", ConfigLogRequest.getDefaultInstance(), ConfigLog.class);
    assertClean(log);
    ConfigDiff diff = f.as(admin).call(ConfigService.SERVICE, "diff", ConfigDiffRequest.newBuilder().setFromVersion(0).build(), ConfigDiff.class);
    assertClean(diff);
    assertThat(diff.getEditsList()).filteredOn(e -> e.getPath().equals("db.password")).singleElement()
        .satisfies(e -> assertThat(e.getSecret()).isTrue());
  }

  @Test
  void onlyTheServiceItBelongsToReadsASecretAndOnlyForItself() {
    setSecret(admin, PAYMENTS, "db.password", "\"" + SECRET + "\"");
    setSecret(admin, EU_PAYMENTS, "api", "{\"key\":\"" + SECRET2 + "\",\"n\":1}");
    Client payments = f.asService("payments");
    assertThat(get(payments, "payments", "eu", "", false).getJson())
        .isEqualTo("{\"api\":{\"key\":\"" + SECRET2 + "\",\"n\":1},\"db\":{\"password\":\"" + SECRET + "\"}}");
    assertThat(get(payments, "payments", "", "db.password", false).getJson()).isEqualTo("\"" + SECRET + "\"");
    assertThat(get(payments, "payments", "", "", false).getRedacted()).isFalse();
    // explain never prints a value, even to the service itself
    assertClean(get(payments, "payments", "eu", "", true).getLeavesList());
    // another service, asking for payments' configuration
    Client orders = f.asService("orders");
    ConfigView stolen = get(orders, "payments", "eu", "", false);
    assertClean(stolen);
    assertThat(stolen.getRedacted()).isTrue();
    // payments itself, on a call that carries a person's session (a person could be driving it)
    assertClean(get(payments.withScope(dev.skiff.platform.client.CallScope.forUser(admin)), "payments", "", "", false));
    // a path cannot reach into a sealed value
    assertThat(get(orders, "payments", "eu", "api.key", false).getJson()).isEmpty();
  }

  @Test
  void refusedSecretChangesNeverEchoTheValue() {
    assertRefusedClean(() -> setSecret(admin, layer("", "", ""), "db.password", "\"" + SECRET + "\""), ErrorCode.BAD_REQUEST,
        "belongs to one service");
    assertRefusedClean(() -> setSecret(admin, layer("", "eu", ""), "db.password", "\"" + SECRET + "\""), ErrorCode.BAD_REQUEST);
    assertRefusedClean(() -> setSecret(admin, PAYMENTS, "db.password", "{\"" + SECRET + "\": 1"), ErrorCode.BAD_REQUEST, "no detail");
    assertRefusedClean(() -> setSecret(admin, PAYMENTS, "db.password", "{\"" + SECRET + "!\": 1}"), ErrorCode.BAD_REQUEST, "no detail");
    String other = f.user("mallory", "ADMIN.CONFIG:orders");
    assertRefusedClean(() -> setSecret(other, PAYMENTS, "db.password", "\"" + SECRET + "\""), ErrorCode.FORBIDDEN);
    // a sealed value cannot be forged as a plain one
    assertRefusedClean(() -> f.set(admin, PAYMENTS, "db.password", "{\"$secret\":\"v1.AAAA.AAAA\"}"), ErrorCode.BAD_REQUEST);
    assertThat(f.get(admin, "payments", "", "", "", false).getJson()).isEqualTo("{}");
  }

  @Test
  void withoutAKeySecretsAreRefusedWithAClearError() {
    f.stopConfig();
    f.start(new MemoryConfigStore(1000), Optional.empty());
    assertRefusedClean(() -> setSecret(admin, PAYMENTS, "db.password", "\"" + SECRET + "\""), ErrorCode.BAD_REQUEST,
        "SKIFF_CONFIG_SECRET_KEY");
  }

  @Test
  void rollbackRestoresASecretAndDiffSaysItChangedWithoutTheValue() {
    long first = setSecret(admin, PAYMENTS, "db.password", "\"" + SECRET + "\"").getId();
    ConfigChange second = setSecret(admin, PAYMENTS, "db.password", "\"" + SECRET2 + "\"");
    f.set(admin, PAYMENTS, "db.pool", "5");
    ConfigDiff d = f.as(admin).call(ConfigService.SERVICE, "diff", ConfigDiffRequest.newBuilder().setFromVersion(first).build(), ConfigDiff.class);
    assertClean(d);
    assertThat(d.getEditsList()).extracting(e -> e.getPath() + " " + e.getOldJson() + " -> " + e.getNewJson() + " " + e.getSecret())
        .containsExactly("db.password \"<secret>\" -> \"<secret>\" true", "db.pool  -> 5 false");
    ConfigChange back = f.as(admin).call(ConfigService.SERVICE, "rollback", RollbackConfigRequest.newBuilder().setToVersion(first)
        .setMessage("back").setBaseVersion(second.getId() + 1).build(), ConfigChange.class);
    assertClean(back);
    assertThat(back.getEdits(0).getSecret()).isTrue();
    assertThat(get(f.asService("payments"), "payments", "", "db.password", false).getJson()).isEqualTo("\"" + SECRET + "\"");
    // a plain value set below a secret replaces it: recorded at the secret's path, so a rollback brings it back
    setSecret(admin, PAYMENTS, "api", "{\"key\":\"" + SECRET2 + "\"}");
    long withApi = f.get(admin, "", "", "", "", false).getVersion();
    ConfigChange below = f.set(admin, PAYMENTS, "api.n", "1");
    assertThat(below.getEdits(0).getPath()).isEqualTo("api");
    assertThat(below.getEdits(0).getOldJson()).isEqualTo("\"<secret>\"");
    assertThat(below.getEdits(0).getNewJson()).isEqualTo("{\"n\":1}");
    f.as(admin).call(ConfigService.SERVICE, "rollback", RollbackConfigRequest.newBuilder().setToVersion(withApi)
        .setMessage("back").setBaseVersion(below.getId()).build(), ConfigChange.class);
    assertThat(get(f.asService("payments"), "payments", "", "api", false).getJson()).isEqualTo("{\"key\":\"" + SECRET2 + "\"}");
    // a plain value replacing a secret: the history shows the secret's side redacted
    ConfigChange plain = f.set(admin, PAYMENTS, "db.password", "\"not-secret\"");
    assertClean(plain);
    assertThat(plain.getEdits(0).getOldJson()).isEqualTo("\"<secret>\"");
    assertThat(plain.getEdits(0).getNewJson()).isEqualTo("\"not-secret\"");
  }

  private java.net.http.HttpResponse<String> http(String method, String path) throws Exception {
    return java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
        java.net.URI.create("http://127.0.0.1:" + f.web().port() + path)).method(method, java.net.http.HttpRequest.BodyPublishers.noBody())
        .timeout(java.time.Duration.ofSeconds(5)).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void theBootstrapReadOverHttpAnswersTheMergedTreeAndVersionWithSecretsRedacted() throws Exception {
    f.set(admin, layer("", "", ""), "db", "{\"host\":\"db.global\",\"port\":5432}");
    f.set(admin, layer("", "eu", ""), "db.host", "\"db.eu\"");
    long v = setSecret(admin, EU_PAYMENTS, "db.password", "\"" + SECRET + "\"").getId();
    var r = http("GET", "/config/api/payments?region=eu");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type")).hasValue("application/json");
    assertThat(r.body()).isEqualTo("{\"service\":\"payments\",\"region\":\"eu\",\"env\":null,\"version\":" + v
        + ",\"config\":{\"db\":{\"host\":\"db.eu\",\"password\":\"\\u003csecret\\u003e\",\"port\":5432}},\"redacted\":true}");
    assertThat(http("GET", "/config/api/orders").body()).isEqualTo("{\"service\":\"orders\",\"region\":null,\"env\":null,\"version\":" + v
        + ",\"config\":{\"db\":{\"host\":\"db.global\",\"port\":5432}},\"redacted\":false}");
    // hostile names are refused as JSON, not echoed raw; changes are not served here
    var bad = http("GET", "/config/api/%3Cscript%3E?env=a%22b");
    assertThat(bad.statusCode()).isEqualTo(400);
    assertThat(bad.body()).startsWith("{\"error\":\"BAD_REQUEST\"").doesNotContain("<script>");
    // an instance may run in a region and an environment: its view has both
    var both = http("GET", "/config/api/payments?region=eu&env=prod");
    assertThat(both.statusCode()).as(both.body()).isEqualTo(200);
    assertThat(both.body()).contains("\"region\":\"eu\",\"env\":\"prod\"", "\"host\":\"db.eu\"");
    assertThat(http("DELETE", "/config/api/payments").statusCode()).isIn(401, 403, 405);
  }
}
