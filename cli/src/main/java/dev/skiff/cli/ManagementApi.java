package dev.skiff.cli;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.protobuf.util.JsonFormat;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.internal.Printable;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * RabbitMQ's HTTP management API (plugin {@code rabbitmq_management}), as far as Skiff manages broker
 * users: virtual hosts, users, their permissions and topic permissions, and the two exchanges. A
 * password never travels: the user is created with its salted SHA-256 hash, the form RabbitMQ stores.
 * Nothing here logs or prints a password or hash.
 */
final class ManagementApi {
  private static final Duration TIMEOUT = Duration.ofSeconds(10);
  private static final SecureRandom RANDOM = new SecureRandom();

  private final URI base;
  private final String authorization;
  private final String user;
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(TIMEOUT).build();

  /**
   * @param base the API's root, e.g. {@code http://localhost:15672}
   * @param user an administrator of the broker
   * @param password its password
   */
  ManagementApi(URI base, String user, String password) {
    this.base = base;
    this.user = user;
    this.authorization =
        "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
  }

  /** @return the administrator this API acts as */
  String user() {
    return user;
  }

  /** @return the API's root, for messages */
  URI base() {
    return base;
  }

  /** @return a new random password: 32 characters from 24 random bytes */
  static String newPassword() {
    byte[] b = new byte[24];
    RANDOM.nextBytes(b);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }

  /**
   * RabbitMQ's stored form of a password: base64 of a 4-byte salt followed by SHA-256(salt + password)
   * ({@code rabbit_password_hashing_sha256}).
   */
  static String passwordHash(String password) {
    byte[] salt = new byte[4];
    RANDOM.nextBytes(salt);
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      sha.update(salt);
      byte[] digest = sha.digest(password.getBytes(StandardCharsets.UTF_8));
      byte[] out = new byte[salt.length + digest.length];
      System.arraycopy(salt, 0, out, 0, salt.length);
      System.arraycopy(digest, 0, out, salt.length, digest.length);
      return Base64.getEncoder().encodeToString(out);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every JDK", e);
    }
  }

  /** Creates a virtual host; does nothing if it exists. */
  void putVhost(String vhost) {
    send("PUT", "/api/vhosts/" + enc(vhost), "{}");
  }

  /** Deletes a virtual host and everything in it; does nothing if it does not exist. */
  void deleteVhost(String vhost) {
    send("DELETE", "/api/vhosts/" + enc(vhost), null);
  }

  /** @return whether a user exists */
  boolean userExists(String name) {
    return send("GET", "/api/users/" + enc(name), null) == 200;
  }

  /**
   * A user's tags, as a PUT of the user takes them back (so that a new password keeps them).
   *
   * @param name the user
   * @return its tags, comma-separated ("" for none), or empty when there is no such user
   */
  Optional<String> userTags(String name) {
    HttpResponse<String> r = exchange("GET", "/api/users/" + enc(name), null);
    if (r.statusCode() == 404) {
      return Optional.empty();
    }
    Struct.Builder user = Struct.newBuilder();
    try {
      JsonFormat.parser().ignoringUnknownFields().merge(r.body(), user);
    } catch (InvalidProtocolBufferException e) {
      throw new SkiffException(ErrorCode.UNAVAILABLE, "GET /api/users/" + enc(name) + " on the RabbitMQ management API answered"
          + " what is not a user: " + e.getMessage(), e);
    }
    Value tags = user.getFieldsOrDefault("tags", Value.getDefaultInstance());
    if (tags.hasListValue()) { // RabbitMQ 3.9 and later: a list
      List<String> names = new ArrayList<>();
      tags.getListValue().getValuesList().forEach(v -> names.add(v.getStringValue()));
      return Optional.of(String.join(",", names));
    }
    return Optional.of(tags.getStringValue()); // before: one comma-separated string
  }

  /**
   * Creates a user or sets its password.
   *
   * @param name the user
   * @param password its password (sent only as its hash)
   * @param tags RabbitMQ tags, e.g. "" for none, "administrator"
   */
  void putUser(String name, String password, String tags) {
    Map<String, String> body = new LinkedHashMap<>();
    body.put("password_hash", passwordHash(password));
    body.put("hashing_algorithm", "rabbit_password_hashing_sha256");
    body.put("tags", tags);
    send("PUT", "/api/users/" + enc(name), json(body));
  }

  /**
   * Deletes a user (and its permissions); does nothing if it does not exist.
   *
   * @param name the user
   * @return whether it existed
   */
  boolean deleteUser(String name) {
    return send("DELETE", "/api/users/" + enc(name), null) != 404;
  }

  /** Sets a user's permissions and topic permissions on the events exchange in a virtual host. */
  void putPermissions(String vhost, String name, BrokerPermissions p) {
    send("PUT", "/api/permissions/" + enc(vhost) + "/" + enc(name),
        json(Map.of("configure", p.configure(), "write", p.write(), "read", p.read())));
    send("PUT", "/api/topic-permissions/" + enc(vhost) + "/" + enc(name),
        json(Map.of("exchange", dev.skiff.platform.transport.amqp.AmqpNames.EVENTS_EXCHANGE, "write", p.topicWrite(), "read", p.topicRead())));
  }

  /** Removes a user's permissions (and topic permissions) in a virtual host: it can no longer use it. */
  void deletePermissions(String vhost, String name) {
    send("DELETE", "/api/permissions/" + enc(vhost) + "/" + enc(name), null);
    send("DELETE", "/api/topic-permissions/" + enc(vhost) + "/" + enc(name), null);
  }

  /** Declares a durable exchange; does nothing if it exists with the same type. */
  void putExchange(String vhost, String exchange, String type) {
    send("PUT", "/api/exchanges/" + enc(vhost) + "/" + enc(exchange), json(Map.of("type", type, "durable", "true")));
  }

  /** @return the status: 2xx, or 404 for GET and DELETE of what is not there; anything else throws */
  private int send(String method, String path, String body) {
    return exchange(method, path, body).statusCode();
  }

  /**
   * @return the answer: 2xx, or 404 for GET and DELETE of what is not there; anything else throws ({@link
   *     BrokerUnreachable} when the API refuses the administrator's user name or password, or the user is no
   *     administrator)
   */
  private HttpResponse<String> exchange(String method, String path, String body) {
    HttpRequest.Builder b = HttpRequest.newBuilder(base.resolve(path))
        .timeout(TIMEOUT)
        .header("Authorization", authorization)
        .header("content-type", "application/json")
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    HttpResponse<String> r;
    try {
      r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw new SkiffException(ErrorCode.UNAVAILABLE, "cannot reach the RabbitMQ management API at " + base + " (" + e
          + "); is the rabbitmq_management plugin enabled?", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new SkiffException(ErrorCode.UNAVAILABLE, "interrupted while calling the RabbitMQ management API", e);
    }
    int status = r.statusCode();
    if (status / 100 == 2 || (status == 404 && !"PUT".equals(method))) {
      return r;
    }
    // the path names users and vhosts, never a password; the request body (a hash) is not repeated
    String said = method + " " + path + " on the RabbitMQ management API answered " + status + ": " + Printable.of(r.body().strip(), 300);
    if (status == 401 || status == 403) {
      // the broker's administrator, not a person's session: exit 3 with what to change, as for a refused broker URI
      throw new BrokerUnreachable(new SkiffException(status == 401 ? ErrorCode.UNAUTHORIZED : ErrorCode.FORBIDDEN, said),
          "(the management API refused user '" + Printable.of(user) + "': give a broker administrator (a user tagged administrator)"
              + " and its password in --management or $" + ManagementOption.ENV + ", or in the broker URI; 'skiff login' is not"
              + " for broker users)");
    }
    throw new SkiffException(ErrorCode.UNAVAILABLE, said);
  }

  private static String enc(String segment) {
    return URLEncoder.encode(segment, StandardCharsets.UTF_8).replace("+", "%20");
  }

  /** A flat JSON object; the values "true" and "false" are written as booleans. */
  static String json(Map<String, String> fields) {
    Struct.Builder b = Struct.newBuilder();
    fields.forEach((k, v) -> b.putFields(k, "true".equals(v) || "false".equals(v)
        ? Value.newBuilder().setBoolValue(Boolean.parseBoolean(v)).build()
        : Value.newBuilder().setStringValue(v).build()));
    try {
      return JsonFormat.printer().omittingInsignificantWhitespace().print(b);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("a Struct of strings always prints", e);
    }
  }
}
