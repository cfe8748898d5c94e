package dev.skiff.service.cassandra;

import com.datastax.oss.driver.api.core.cql.ResultSet;
import com.datastax.oss.driver.api.core.cql.Row;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystem;
import java.nio.file.FileSystemAlreadyExistsException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** One run of {@link CassandraClient#migrate}: see there for the rules. */
final class Migrations {
  private static final Logger log = LoggerFactory.getLogger(Migrations.class);
  private static final Pattern FILE = Pattern.compile("V(\\d+)__([A-Za-z0-9_]+)\\.cql");
  private static final Duration LOCK_WAIT = Duration.ofSeconds(60);

  private record Migration(int version, String file, String text, String checksum) {}

  /** Runs CQL, unprepared, on a keyspace's session ("" for the session without keyspace). */
  interface Cql {
    ResultSet run(String keyspace, String cql, Object... values);
  }

  private final Cql cql;
  private final CassandraSettings settings;
  private final String keyspace;
  private final String folder;
  private final ClassLoader loader;

  Migrations(Cql cql, CassandraSettings settings, String keyspace, String folder, ClassLoader loader) {
    this.cql = cql;
    this.settings = settings;
    this.keyspace = keyspace;
    this.folder = folder.replaceAll("^/+|/+$", "");
    this.loader = loader == null ? Migrations.class.getClassLoader() : loader;
  }

  MigrationReport run() {
    List<Migration> files = load();
    CassandraSettings s = settings;
    admin(
        "CREATE KEYSPACE IF NOT EXISTS " + keyspace + " WITH replication = {'class': 'NetworkTopologyStrategy', '"
            + s.datacenter() + "': " + s.replicationFactor() + "}");
    admin(
        "CREATE TABLE IF NOT EXISTS " + keyspace + ".skiff_schema_migrations ("
            + "version int PRIMARY KEY, file text, checksum text, applied_at timestamp, applied_by text)");
    admin(
        "CREATE TABLE IF NOT EXISTS " + keyspace + ".skiff_schema_lock (name text PRIMARY KEY, owner text)");
    String owner = UUID.randomUUID().toString();
    lock(owner);
    try {
      return apply(files, owner);
    } finally {
      admin("DELETE FROM " + keyspace + ".skiff_schema_lock WHERE name = 'migrations' IF owner = ?", owner);
    }
  }

  private ResultSet admin(String statement, Object... values) {
    return cql.run("", statement, values);
  }

  private void lock(String owner) {
    Instant until = Instant.now().plus(LOCK_WAIT);
    while (true) {
      Row r =
          admin(
                  "INSERT INTO " + keyspace + ".skiff_schema_lock (name, owner) VALUES ('migrations', ?) IF NOT EXISTS USING TTL 300",
                  owner)
              .one();
      if (r != null && r.getBoolean("[applied]")) {
        return;
      }
      if (Instant.now().isAfter(until)) {
        throw new SkiffException(
            ErrorCode.TIMEOUT, "migrations of " + keyspace + ": another instance held the migration lock for " + LOCK_WAIT);
      }
      try {
        Thread.sleep(200);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new SkiffException(ErrorCode.UNAVAILABLE, "interrupted while waiting for the migration lock of " + keyspace, e);
      }
    }
  }

  private MigrationReport apply(List<Migration> files, String owner) {
    Map<Integer, Row> applied = new HashMap<>();
    for (Row r : admin("SELECT version, file, checksum FROM " + keyspace + ".skiff_schema_migrations")) {
      applied.put(r.getInt("version"), r);
    }
    List<String> now = new ArrayList<>();
    List<String> before = new ArrayList<>();
    for (Migration m : files) {
      Row done = applied.get(m.version());
      if (done != null) {
        if (!m.checksum().equals(done.getString("checksum"))) {
          throw new SkiffException(
              ErrorCode.CONFLICT,
              "migration " + folder + "/" + m.file() + " changed after it was applied to " + keyspace
                  + " (add a new version instead of editing an applied one)");
        }
        before.add(m.file());
        continue;
      }
      List<String> statements = statements(m);
      for (int i = 0; i < statements.size(); i++) {
        try {
          cql.run(keyspace, statements.get(i));
        } catch (SkiffException e) {
          throw new SkiffException(
              e.code(), "migration " + m.file() + ", statement " + (i + 1) + " of " + statements.size() + ": " + e.description(), e);
        }
      }
      admin(
          "INSERT INTO " + keyspace + ".skiff_schema_migrations (version, file, checksum, applied_at, applied_by) VALUES (?, ?, ?, ?, ?)",
          m.version(), m.file(), m.checksum(), Instant.now(), owner);
      log.info("applied migration {}/{} to keyspace {}", folder, m.file(), keyspace);
      now.add(m.file());
    }
    return new MigrationReport(keyspace, now, before);
  }

  private static List<String> statements(Migration m) {
    List<String> out = new ArrayList<>();
    StringBuilder current = new StringBuilder();
    for (String line : m.text().split("\\R")) {
      String t = line.strip();
      if (t.isEmpty() || t.startsWith("--") || t.startsWith("//")) {
        continue;
      }
      current.append(line).append('\n');
      if (t.endsWith(";")) {
        String st = current.toString().strip();
        out.add(st.substring(0, st.length() - 1));
        current.setLength(0);
      }
    }
    if (!current.toString().isBlank()) {
      throw new IllegalArgumentException("migration " + m.file() + ": the last statement does not end with ';'");
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException("migration " + m.file() + " has no statements");
    }
    return out;
  }

  private List<Migration> load() {
    URL url = loader.getResource(folder);
    if (url == null) {
      throw new IllegalArgumentException("no migrations folder '" + folder + "' on the classpath");
    }
    Map<Integer, Migration> byVersion = new TreeMap<>();
    try {
      if (url.getProtocol().equals("jar")) {
        String s = url.toString();
        URI jar = URI.create(s.substring(0, s.indexOf("!/")));
        FileSystem fs;
        boolean created = false;
        try {
          fs = FileSystems.newFileSystem(jar, Map.of());
          created = true;
        } catch (FileSystemAlreadyExistsException e) {
          fs = FileSystems.getFileSystem(jar);
        }
        try {
          read(fs.getPath("/" + folder), byVersion);
        } finally {
          if (created) {
            fs.close();
          }
        }
      } else {
        read(Path.of(url.toURI()), byVersion);
      }
    } catch (IOException | URISyntaxException e) {
      throw new IllegalArgumentException("cannot list migrations folder '" + folder + "': " + e, e);
    }
    if (byVersion.isEmpty()) {
      throw new IllegalArgumentException("migrations folder '" + folder + "' has no V<n>__<name>.cql files");
    }
    return List.copyOf(byVersion.values());
  }

  private void read(Path dir, Map<Integer, Migration> byVersion) throws IOException {
    List<Path> files;
    try (Stream<Path> s = Files.list(dir)) {
      files = s.sorted().toList();
    }
    for (Path p : files) {
      String file = p.getFileName().toString().replace("/", "");
      Matcher m = FILE.matcher(file);
      if (!m.matches()) {
        throw new IllegalArgumentException(
            "migration file " + folder + "/" + file + " is not named V<version>__<description>.cql (e.g. V1__create_bookings.cql)");
      }
      int version = Integer.parseInt(m.group(1));
      String text;
      try (InputStream in = Files.newInputStream(p)) {
        text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      }
      Migration previous = byVersion.put(version, new Migration(version, file, text, sha256(text)));
      if (previous != null) {
        throw new IllegalArgumentException("migrations " + previous.file() + " and " + file + " have the same version " + version);
      }
    }
  }

  private static String sha256(String text) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
