package dev.skiff.cli;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import dev.skiff.platform.internal.PrivateFiles;
import dev.skiff.proto.v1.Session;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * Where {@code skiff login} keeps the session every later command sends: one file readable and writable
 * by its owner only, in {@code $SKIFF_TOKEN_FILE}, else {@code $XDG_CONFIG_HOME/skiff/token}, else
 * {@code ~/.config/skiff/token}. It holds the login service's answer (token, user, roles, expiries) as
 * JSON. A file that others may read, that is not a regular file, or that is larger than
 * {@value #MAX_BYTES} bytes is refused ({@link Unusable}), as ssh refuses a private key others can read.
 */
final class SessionFile {
  /** The environment variable naming the file. */
  static final String ENV = "SKIFF_TOKEN_FILE";
  /** The largest session file read: a token is a few hundred bytes. */
  static final int MAX_BYTES = 64 * 1024;


  private final Path path;

  SessionFile(Path path) {
    this.path = path;
  }

  /**
   * @param env the environment: {@code SKIFF_TOKEN_FILE}, {@code XDG_CONFIG_HOME}, {@code HOME}
   * @return the session file the environment names
   */
  static SessionFile of(Map<String, String> env) {
    String explicit = env.get(ENV);
    if (explicit != null && !explicit.isBlank()) {
      return new SessionFile(Path.of(explicit.trim()));
    }
    String xdg = env.get("XDG_CONFIG_HOME");
    if (xdg != null && !xdg.isBlank() && Path.of(xdg.trim()).isAbsolute()) {
      return new SessionFile(Path.of(xdg.trim(), "skiff", "token"));
    }
    String home = env.getOrDefault("HOME", System.getProperty("user.home"));
    return new SessionFile(Path.of(home, ".config", "skiff", "token"));
  }

  /** @return where the session is kept */
  Path path() {
    return path;
  }

  /**
   * @return the session kept, or empty when there is none
   * @throws Unusable when the file is not one to trust (others may read it, it is not a regular file,
   *     too large, or not a session)
   */
  Optional<Session> read() {
    if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
      return Optional.empty();
    }
    try {
      if (!Files.isRegularFile(path, LinkOption.NOFOLLOW_LINKS)) {
        throw new Unusable(path + " is not a regular file: remove it and run 'skiff login USER' again");
      }
      if (!PrivateFiles.ownerOnly(path)) {
        throw new Unusable(path + " may be read or written by others, so its session is not used: run 'chmod 600 "
            + path + "' if only you could have written it, else remove it and run 'skiff login USER' again");
      }
      if (Files.size(path) > MAX_BYTES) {
        throw new Unusable(path + " is larger than " + MAX_BYTES + " bytes: not a session; remove it and run 'skiff login USER' again");
      }
      Session.Builder b = Session.newBuilder();
      JsonFormat.parser().merge(Files.readString(path, StandardCharsets.UTF_8), b);
      if (b.getToken().isEmpty()) {
        throw new Unusable(path + " holds no session token: remove it and run 'skiff login USER' again");
      }
      return Optional.of(b.build());
    } catch (InvalidProtocolBufferException e) {
      throw new Unusable(path + " is not a session skiff wrote: remove it and run 'skiff login USER' again");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the session in " + path, e);
    }
  }

  /**
   * Keeps a session, replacing the one kept: written to a new owner-only file beside it, then moved
   * over it, so that no reader sees half a file and no other user can read it at any moment.
   *
   * @param session the login service's answer
   */
  void write(Session session) {
    try {
      PrivateFiles.replace(path, JsonFormat.printer().print(session));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot keep the session in " + path, e);
    }
  }

  /**
   * Forgets the session kept.
   *
   * @return whether there was one
   */
  boolean delete() {
    try {
      return Files.deleteIfExists(path);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot remove the session in " + path, e);
    }
  }

  /** A session file skiff will not use; the message says why and what to do (no token in it). */
  static final class Unusable extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Unusable(String message) {
      super(message);
    }
  }
}
