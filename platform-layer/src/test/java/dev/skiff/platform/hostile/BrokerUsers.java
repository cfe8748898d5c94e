package dev.skiff.platform.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Base64;

/**
 * A broker user a hostile-input test creates for its attacker, through RabbitMQ's management API as the
 * test's own broker user, with every permission on the test's virtual host; deleted by {@link #delete}.
 */
final class BrokerUsers {
  private BrokerUsers() {}

  /** A user created on the test's broker: its name, password and AMQP address; closing it deletes it. */
  record User(String name, String password) implements AutoCloseable {
    /** @return the test broker's address, signed in as this user */
    String uri() {
      URI u = URI.create(PoisonMessageTest.brokerUri());
      return "amqp://" + enc(name) + ":" + password + "@" + u.getHost() + ":" + (u.getPort() < 0 ? 5672 : u.getPort())
          + (u.getRawPath() == null ? "" : u.getRawPath());
    }

    /**
     * @param name the connection's name
     * @return a raw connection to the test's broker as this user, without automatic recovery
     */
    com.rabbitmq.client.Connection connect(String name) throws Exception {
      com.rabbitmq.client.ConnectionFactory f = new com.rabbitmq.client.ConnectionFactory();
      f.setUri(uri());
      f.setAutomaticRecoveryEnabled(false);
      return f.newConnection(name);
    }

    /** Deletes the user. */
    @Override
    public void close() {
      try {
        manage("DELETE", "/api/users/" + enc(name), null);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted deleting broker user " + name, e);
      } catch (Exception e) {
        throw new IllegalStateException("cannot delete broker user " + name + ": " + e, e);
      }
    }
  }

  /**
   * @param name the user's name
   * @param vhost the virtual host to allow it everything on
   * @return the user, with a random password
   */
  static User create(String name, String vhost) throws Exception {
    String password = Base64.getUrlEncoder().withoutPadding().encodeToString(new SecureRandom().generateSeed(18));
    manage("PUT", "/api/users/" + enc(name), "{\"password\":\"" + password + "\",\"tags\":\"\"}");
    manage("PUT", "/api/permissions/" + enc(vhost) + "/" + enc(name), "{\"configure\":\".*\",\"write\":\".*\",\"read\":\".*\"}");
    return new User(name, password);
  }

  static String enc(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
  }

  /**
   * A call to RabbitMQ's management API as the test's broker user ({@code SKIFF_BROKER_MANAGEMENT_URI},
   * else port 15672 of the test broker's host), asserted to succeed.
   *
   * @return the response body
   */
  static String manage(String method, String path, String json) throws Exception {
    URI amqp = URI.create(PoisonMessageTest.brokerUri());
    String given = System.getenv("SKIFF_BROKER_MANAGEMENT_URI");
    URI base = given == null || given.isBlank() ? URI.create("http://" + amqp.getHost() + ":15672/") : URI.create(given);
    String userInfo = base.getUserInfo() != null ? base.getUserInfo() : amqp.getUserInfo() != null ? amqp.getUserInfo() : "guest:guest";
    HttpRequest req = HttpRequest.newBuilder(base.resolve(path))
        .timeout(Duration.ofSeconds(10))
        .header("Authorization", "Basic " + Base64.getEncoder().encodeToString(
            URLDecoder.decode(userInfo, StandardCharsets.UTF_8).getBytes(StandardCharsets.UTF_8)))
        .header("content-type", "application/json")
        .method(method, json == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(json))
        .build();
    HttpResponse<String> r = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build().send(req, HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode() / 100).as(method + " " + path + ": " + r.body()).isEqualTo(2);
    return r.body();
  }
}
