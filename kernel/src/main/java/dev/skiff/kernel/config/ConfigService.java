package dev.skiff.kernel.config;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import dev.skiff.kernel.Bound;
import dev.skiff.kernel.Guard;
import dev.skiff.kernel.KernelContext;
import dev.skiff.kernel.KernelServiceBase;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.config.EnvVars;
import dev.skiff.platform.config.LayeredConfig;
import dev.skiff.platform.internal.Release;
import dev.skiff.platform.liveconfig.ConfigServiceLayer;
import dev.skiff.platform.pubsub.PubSub;
import dev.skiff.platform.security.Access;
import dev.skiff.platform.security.Caller;
import dev.skiff.platform.security.Role;
import dev.skiff.platform.security.UserIdentity;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.server.ServerBuilder;
import dev.skiff.proto.v1.ConfigChange;
import dev.skiff.proto.v1.ConfigChanged;
import dev.skiff.proto.v1.ConfigDiff;
import dev.skiff.proto.v1.ConfigDiffRequest;
import dev.skiff.proto.v1.ConfigEdit;
import dev.skiff.proto.v1.ConfigLayer;
import dev.skiff.proto.v1.ConfigLeaf;
import dev.skiff.proto.v1.ConfigLog;
import dev.skiff.proto.v1.ConfigLogRequest;
import dev.skiff.proto.v1.ConfigView;
import dev.skiff.proto.v1.DeleteConfigRequest;
import dev.skiff.proto.v1.GetConfigRequest;
import dev.skiff.proto.v1.RollbackConfigRequest;
import dev.skiff.proto.v1.SetConfigRequest;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The config kernel service, {@value #SERVICE}: the configuration of every service in layers
 * ({@link LayerId}), every change recorded as a new version with who, when, why, and each path's old and
 * new value; explain, diff and rollback (docs/configuration.md, "The config service"). Endpoints (messages
 * in {@code skiff/v1/config.proto}):
 *
 * <table>
 *   <caption>Endpoints</caption>
 *   <tr><th>endpoint</th><th>who may call</th><th>request → response</th></tr>
 *   <tr><td>set</td><td>role ADMIN.CONFIG (scoped to the layer's service)</td><td>SetConfigRequest → ConfigChange</td></tr>
 *   <tr><td>delete</td><td>as set</td><td>DeleteConfigRequest → ConfigChange</td></tr>
 *   <tr><td>rollback</td><td>as set, for every layer it changes</td><td>RollbackConfigRequest → ConfigChange</td></tr>
 *   <tr><td>get</td><td>services and signed-in people</td><td>GetConfigRequest → ConfigView</td></tr>
 *   <tr><td>log</td><td>services and signed-in people</td><td>ConfigLogRequest → ConfigLog</td></tr>
 *   <tr><td>diff</td><td>services and signed-in people</td><td>ConfigDiffRequest → ConfigDiff</td></tr>
 * </table>
 *
 * <p>A change names the version it was made against: one to a layer that changed after it (a rollback:
 * when anything changed after it) is refused with CONFLICT, never merged. Store: {@link MemoryConfigStore}
 * unless {@code SKIFF_CONFIG_STORE=cassandra} ({@link CassandraConfigStore}); the history is the truth and
 * this copy catches up with changes another copy made before every request.
 */
public final class ConfigService extends KernelServiceBase {
  /** The RPC service name. */
  public static final String SERVICE = ConfigServiceLayer.SERVICE;
  /** The role changes need (scoped to a service for that service's layers). */
  public static final Role CONFIG_ADMIN = Role.of("ADMIN.CONFIG");
  /** What a refused change is counted as ({@code skiff.kernel.refused.config-change}). */
  static final String CONFIG_CHANGE = "config-change";
  /** The longest change message. */
  static final int MAX_MESSAGE = 1000;
  /** The largest page of history. */
  static final int MAX_PAGE = 200;
  /** How many changes back a diff or rollback may reach from the newest. */
  static final int MAX_SPAN = 1000;
  private static final int DEFAULT_PAGE = 50;
  private static final int COMMIT_TRIES = 3;
  private static final Logger log = LoggerFactory.getLogger(ConfigService.class);

  private final ConfigStore store;
  private final Optional<SecretCipher> cipher;
  private final Clock clock;
  private final Bound bound;
  private final Map<String, ConfigStore.Layer> layers = new TreeMap<>();
  private final Map<String, Integer> sizes = new HashMap<>();
  private long bytes;
  private long head;
  private boolean loaded;
  private Guard guard;
  private ServiceValidators validators;
  private PubSub events;

  /**
   * A config service configured by the environment ({@code SKIFF_CONFIG_STORE}, {@code SKIFF_CONFIG_KEYSPACE},
   * {@code SKIFF_CONFIG_MAX_LAYERS}, {@code SKIFF_CONFIG_SECRET_KEY}, {@code SKIFF_CASSANDRA_*}); what {@code skiff kernel} runs.
   *
   * @throws IllegalArgumentException naming a variable whose value is invalid
   */
  public ConfigService() {
    this(System.getenv());
  }

  /**
   * @param env the variables to read instead of the process's environment
   * @throws IllegalArgumentException naming a variable whose value is invalid
   */
  public ConfigService(Map<String, String> env) {
    this(storeOf(env), SecretCipher.fromEnvironment(env), Clock.systemUTC(), maxLayers(env));
  }

  /**
   * @param store where the layers and history are kept (owned: closed with the service)
   * @param clock the time source
   * @param maxLayers the most layers kept
   */
  ConfigService(ConfigStore store, Clock clock, int maxLayers) {
    this(store, Optional.empty(), clock, maxLayers);
  }

  /**
   * @param store where the layers and history are kept (owned: closed with the service)
   * @param cipher what seals and opens secrets; empty: secrets are refused
   * @param clock the time source
   * @param maxLayers the most layers kept
   */
  ConfigService(ConfigStore store, Optional<SecretCipher> cipher, Clock clock, int maxLayers) {
    super("config");
    this.store = Objects.requireNonNull(store, "store");
    this.cipher = Objects.requireNonNull(cipher, "cipher");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.bound = new Bound("config-layers", new Bound.Limits(maxLayers, (long) maxLayers * Documents.MAX_BYTES), false);
  }

  private static int maxLayers(Map<String, String> env) {
    return EnvVars.positiveInt(env, "SKIFF_CONFIG_MAX_LAYERS", 10_000);
  }

  private static ConfigStore storeOf(Map<String, String> env) {
    String kind = EnvVars.nonBlank(env, "SKIFF_CONFIG_STORE").orElse("memory");
    switch (kind) {
      case "memory":
        return new MemoryConfigStore(10_000); // development only: the oldest changes are forgotten beyond it
      case "cassandra":
        try (LayeredConfig config = LayeredConfig.builder().environment(env).build()) {
          return new CassandraConfigStore(config.current(), EnvVars.nonBlank(env, "SKIFF_CONFIG_KEYSPACE").orElse("skiff_config"));
        }
      default:
        throw new IllegalArgumentException("SKIFF_CONFIG_STORE must be memory or cassandra, not '" + kind + "'");
    }
  }

  @Override
  protected void begin(KernelContext context) {
    guard = context.guard();
    bound.register(context.metrics());
    closeAtEnd(store);
    if (store instanceof MemoryConfigStore) {
      log.warn("config: configuration is kept in memory (SKIFF_CONFIG_STORE=memory): it is lost when the kernel stops; "
          + "set SKIFF_CONFIG_STORE=cassandra for real use");
    }
    ServerBuilder b = Server.builder(SERVICE).version(Release.version())
        .description("configuration of every service in layers, with history, explain, diff and rollback")
        .transport(context.transport())
        .identities(context.guard().identities())
        .metrics(context.metrics())
        .concurrency(16)
        .endpoint(Endpoint.of("set", SetConfigRequest.class, ConfigChange.class, (r, ctx) -> set(r, ctx.caller()))
            .withAccess(Access.signedIn()))
        .endpoint(Endpoint.of("delete", DeleteConfigRequest.class, ConfigChange.class, (r, ctx) -> delete(r, ctx.caller()))
            .withAccess(Access.signedIn()))
        .endpoint(Endpoint.of("rollback", RollbackConfigRequest.class, ConfigChange.class, (r, ctx) -> rollback(r, ctx.caller()))
            .withAccess(Access.signedIn()))
        .endpoint(Endpoint.of("get", GetConfigRequest.class, ConfigView.class, (r, ctx) -> get(r, ctx.caller())).withAccess(Guard.READ_VIEWS).asIdempotent())
        .endpoint(Endpoint.of("log", ConfigLogRequest.class, ConfigLog.class, (r, ctx) -> log(r)).withAccess(Guard.READ_VIEWS).asIdempotent())
        .endpoint(Endpoint.of("diff", ConfigDiffRequest.class, ConfigDiff.class, (r, ctx) -> diff(r)).withAccess(Guard.READ_VIEWS).asIdempotent())
        .healthCheck("bounds", Bound.healthCheck(List.of(bound)));
    store.healthCheck().ifPresent(check -> b.healthCheck("config-store", check));
    try {
      synchronized (this) {
        load();
      }
    } catch (SkiffException e) {
      log.warn("config: the store cannot be used yet (each request tries again): {}: {}", e.code(), e.description());
    }
    Server server = b.build();
    validators = new ServiceValidators(server.client());
    events = new PubSub(context.transport());
    closeAtEnd(server.start());
    context.web().mount(ConfigPages.PATH, "Configuration: every service's tree, history, diff and rollback",
        new ConfigPages(this, context.guard().identities()));
    log.info("config service: {} store, {} layers, version {}, secrets {}", store.getClass().getSimpleName(), layers.size(), head,
        cipher.map(c -> "kept under key id " + c.keyId()).orElse("refused (no " + SecretCipher.KEY_VARIABLE + ")"));
  }

  /** Loads the layers and catches up with the history (repairing layers a change was recorded without). */
  private void load() {
    if (!loaded) {
      store.start();
      layers.clear();
      sizes.clear();
      bytes = 0;
      head = 0;
      for (ConfigStore.Layer l : store.layers()) {
        hold(l);
        head = Math.max(head, l.version());
      }
      loaded = true;
    }
    List<ConfigStore.Layer> repaired = new ArrayList<>();
    for (Optional<ConfigChange> c = store.change(head + 1); c.isPresent(); c = store.change(head + 1)) {
      repaired.addAll(apply(c.get()));
    }
    if (!repaired.isEmpty()) {
      store.repair(repaired);
    }
  }

  /** Applies a recorded change to the layers held; answers the layers it made. */
  private List<ConfigStore.Layer> apply(ConfigChange c) {
    List<ConfigStore.Layer> out = new ArrayList<>();
    Map<String, Struct> docs = new TreeMap<>();
    for (ConfigEdit e : c.getEditsList()) {
      Struct doc = docs.containsKey(e.getLayer()) ? docs.get(e.getLayer()) : doc(e.getLayer());
      docs.put(e.getLayer(), Documents.put(doc, ConfigPath.parse(e.getPath()), value(e.getNewJson())));
    }
    docs.forEach((key, doc) -> out.add(layerAfter(key, doc, c.getId())));
    out.forEach(this::hold);
    head = c.getId();
    return out;
  }

  /** Holds a layer as it is now, keeping the bound's count and bytes. */
  private void hold(ConfigStore.Layer l) {
    int size = Documents.size(l.doc());
    Integer before = sizes.put(l.key(), size);
    bytes += size - (before == null ? 0 : before);
    layers.put(l.key(), l);
    bound.holds(layers.size(), bytes);
  }

  private Struct doc(String key) {
    ConfigStore.Layer l = layers.get(key);
    return l == null ? Struct.getDefaultInstance() : l.doc();
  }

  /** A layer as a change leaves it: each leaf that changed is the change's, the others keep theirs. */
  private ConfigStore.Layer layerAfter(String key, Struct doc, long version) {
    ConfigStore.Layer old = layers.get(key);
    Map<String, Value> before = old == null ? Map.of() : Documents.leaves(old.doc());
    Map<String, Long> provenance = new HashMap<>();
    Documents.leaves(doc).forEach((path, v) -> provenance.put(path,
        v.equals(before.get(path)) && old.provenance().containsKey(path) ? old.provenance().get(path) : version));
    return new ConfigStore.Layer(key, version, doc, provenance);
  }

  private static Optional<Value> value(String json) {
    return json.isEmpty() ? Optional.empty() : Optional.of(Documents.parseStoredValue(json));
  }

  private static String json(Optional<Value> v) {
    return v.map(Documents::print).orElse("");
  }

  /** The layers and history up to date with the store; UNAVAILABLE while it cannot be reached. */
  private void fresh() {
    load();
  }

  // ---- changes ----

  private ConfigChange set(SetConfigRequest r, Caller caller) {
    ConfigPath path = ConfigPath.parse(r.getPath());
    if (path.isRoot()) {
      throw new SkiffException(ErrorCode.BAD_REQUEST, "give a path to set (a layer as a whole is changed path by path)");
    }
    LayerId layer = layer(r.getLayer());
    if (!r.getSecret()) {
      return edit(layer, path, Optional.of(Documents.parse(r.getValueJson())), r.getMessage(), r.getBaseVersion(), caller);
    }
    person(caller, layer.requiredRole(CONFIG_ADMIN)); // who may not change the layer learns nothing more
    if (layer.service() == null) {
      throw new SkiffException(ErrorCode.BAD_REQUEST, "a secret belongs to one service: set it in a layer of that service "
          + "(--service S, with --region or --env if need be), not in " + layer.key());
    }
    SecretCipher c = cipher.orElseThrow(() -> new SkiffException(ErrorCode.BAD_REQUEST,
        "secrets cannot be stored: the config service has no key (" + SecretCipher.KEY_VARIABLE + ", base64 of 32 bytes)"));
    Value plain;
    try {
      plain = Documents.parse(r.getValueJson());
    } catch (SkiffException e) {
      throw new SkiffException(ErrorCode.BAD_REQUEST, "the secret is not a valid value (JSON of at most " + Documents.MAX_BYTES
          + " bytes, object keys path segments); no detail is given for a secret");
    }
    Value sealed = Documents.sealed(c.seal(Documents.print(plain), layer.key(), path.toString()));
    return edit(layer, path, Optional.of(sealed), r.getMessage(), r.getBaseVersion(), caller);
  }

  private ConfigChange delete(DeleteConfigRequest r, Caller caller) {
    ConfigPath path = ConfigPath.parse(r.getPath());
    if (path.isRoot()) {
      throw new SkiffException(ErrorCode.BAD_REQUEST, "give a path to delete");
    }
    return edit(layer(r.getLayer()), path, Optional.empty(), r.getMessage(), r.getBaseVersion(), caller);
  }

  private static LayerId layer(ConfigLayer l) {
    return LayerId.of(l.getService(), l.getRegion(), l.getEnv());
  }

  private ConfigChange edit(LayerId layer, ConfigPath path, Optional<Value> value, String message, long base, Caller caller) {
    String user = person(caller, layer.requiredRole(CONFIG_ADMIN));
    checkMessage(message);
    String key = layer.key();
    for (int attempt = 1; ; attempt++) {
      synchronized (this) {
        fresh();
        checkBase(base);
        ConfigStore.Layer current = layers.get(key);
        if (current != null && current.version() > base) {
          throw new SkiffException(ErrorCode.CONFLICT, "layer " + key + " changed at version " + current.version()
              + ", after version " + base + " this change was made against: read it again and redo the change");
        }
        Struct before = doc(key);
        Optional<Value> old = Documents.get(before, path);
        if (value.isEmpty() && old.isEmpty()) {
          throw new SkiffException(ErrorCode.NOT_FOUND, "layer " + key + " has nothing at " + path);
        }
        Struct after = Documents.put(before, path, value);
        if (after.equals(before)) {
          // as a rollback to the configuration in force is: no version that changes nothing, pushed to every instance
          throw new SkiffException(ErrorCode.BAD_REQUEST, "layer " + key + " has that value at " + path + " already: nothing to change");
        }
        if (Documents.size(after) > Documents.MAX_BYTES) {
          throw new SkiffException(ErrorCode.BAD_REQUEST, "a layer's document has at most " + Documents.MAX_BYTES + " bytes of JSON");
        }
        if (current == null && !bound.fits(layers.size() + 1L, bound.bytes())) {
          bound.hit("a change that makes a new layer");
          throw new SkiffException(ErrorCode.CAPACITY, "the config service holds " + layers.size() + " layers, its most");
        }
        // a value in the way (a leaf, a secret) is replaced: the edit is recorded where it was, so that
        // undoing it (diff, rollback) brings that value back
        ConfigPath at = inTheWay(before, path);
        ConfigEdit e = ConfigEdit.newBuilder().setLayer(key).setPath(at.toString()).setOldJson(json(Documents.get(before, at)))
            .setNewJson(json(Documents.get(after, at))).build();
        ConfigChange c = ConfigChange.newBuilder().setId(head + 1).setAtMs(clock.millis()).setUser(user).setMessage(message)
            .addEdits(e).build();
        if (commit(c, attempt)) {
          return Secrets.redact(c);
        }
      }
    }
  }

  /**
   * config.rollback.
   *
   * @param r the request
   * @param caller who asks (a signed-in person with the role for every layer it changes)
   * @return the change made, secrets redacted
   */
  ConfigChange rollback(RollbackConfigRequest r, Caller caller) {
    UserIdentity person = caller.user().orElseThrow(() -> new SkiffException(ErrorCode.UNAUTHORIZED, "sign in to change configuration"));
    checkMessage(r.getMessage());
    if (r.getToVersion() == 0) {
      // version 0 is no configuration at all, and a change's rollback_to of 0 says it is not a rollback
      throw new SkiffException(ErrorCode.BAD_REQUEST, "version 0 is the configuration before any change (nothing at all): roll back "
          + "to version 1 or later, or delete what should go ('skiff config delete')");
    }
    for (int attempt = 1; ; attempt++) {
      synchronized (this) {
        fresh();
        checkBase(r.getBaseVersion());
        if (head > r.getBaseVersion()) {
          throw new SkiffException(ErrorCode.CONFLICT, "the configuration changed at version " + head + ", after version "
              + r.getBaseVersion() + " this rollback was made against: look again and redo it");
        }
        Map<String, Struct> then = docsAt(r.getToVersion());
        ConfigChange.Builder c = ConfigChange.newBuilder().setId(head + 1).setAtMs(clock.millis()).setUser(person.user())
            .setMessage(r.getMessage()).setRollbackTo(r.getToVersion());
        for (String key : union(layerDocs(), then)) {
          Struct now = doc(key);
          Struct was = then.getOrDefault(key, Struct.getDefaultInstance());
          if (!now.equals(was)) {
            requireRole(caller, LayerId.parse(key).requiredRole(CONFIG_ADMIN));
            c.addEdits(ConfigEdit.newBuilder().setLayer(key).setPath("").setOldJson(Documents.print(now)).setNewJson(Documents.print(was)));
          }
        }
        if (c.getEditsCount() == 0) {
          throw new SkiffException(ErrorCode.BAD_REQUEST, "the configuration is as it was at version " + r.getToVersion() + " already");
        }
        ConfigChange built = c.build();
        if (commit(built, attempt)) {
          return Secrets.redact(built);
        }
      }
    }
  }

  /** @return the shortest prefix of a path that holds a value objects cannot be made in, else the path */
  private static ConfigPath inTheWay(Struct doc, ConfigPath path) {
    for (int i = 1; i < path.segments().size(); i++) {
      ConfigPath prefix = new ConfigPath(path.segments().subList(0, i));
      Optional<Value> v = Documents.get(doc, prefix);
      if (v.isEmpty()) {
        break;
      }
      if (!Documents.isTree(v.get())) {
        return prefix;
      }
    }
    return path;
  }

  /** Records a change; false when another copy took its version (the caller catches up and decides again). */
  private boolean commit(ConfigChange c, int attempt) {
    Map<String, Struct> docs = new TreeMap<>();
    for (ConfigEdit e : c.getEditsList()) {
      Struct doc = docs.containsKey(e.getLayer()) ? docs.get(e.getLayer()) : doc(e.getLayer());
      docs.put(e.getLayer(), Documents.put(doc, ConfigPath.parse(e.getPath()), value(e.getNewJson())));
    }
    List<ConfigStore.Layer> after = new ArrayList<>();
    docs.forEach((key, doc) -> after.add(layerAfter(key, doc, c.getId())));
    if (validators != null) {
      Map<String, Struct> all = layerDocs();
      all.putAll(docs);
      validators.check(all, docs.keySet(), c.getId());
    }
    if (store.append(c, after)) {
      after.forEach(this::hold);
      head = c.getId();
      log.info("config: version {} by '{}': {} edit(s){}", c.getId(), c.getUser(), c.getEditsCount(),
          c.getRollbackTo() > 0 ? ", a rollback to version " + c.getRollbackTo() : "");
      announce(c.getId(), docs.keySet());
      return true;
    }
    if (attempt >= COMMIT_TRIES) {
      throw new SkiffException(ErrorCode.CONFLICT, "other changes were being made at the same time: try again");
    }
    return false;
  }

  /** Tells the services following their configuration that these layers changed (they read their views again). */
  private void announce(long version, java.util.Set<String> changed) {
    if (events == null) {
      return;
    }
    try {
      events.publish(ConfigServiceLayer.CHANGED_TOPIC, ConfigChanged.newBuilder().setVersion(version).addAllLayers(changed).build());
    } catch (SkiffException e) {
      log.warn("config: version {} could not be announced ({}): services see it at their next resync", version, e.description());
    }
  }

  private String person(Caller caller, Role required) {
    UserIdentity u = caller.user().orElseThrow(() -> new SkiffException(ErrorCode.UNAUTHORIZED, "sign in to change configuration"));
    requireRole(caller, required);
    return u.user();
  }

  private void requireRole(Caller caller, Role required) {
    if (!guard.hasRole(CONFIG_CHANGE, caller, required)) {
      throw new SkiffException(ErrorCode.FORBIDDEN, "this change needs role " + required);
    }
  }

  private static void checkMessage(String message) {
    if (message.isBlank()) {
      throw new SkiffException(ErrorCode.BAD_REQUEST, "a change needs a message saying why (-m)");
    }
    if (message.length() > MAX_MESSAGE) {
      throw new SkiffException(ErrorCode.BAD_REQUEST, "a change message has at most " + MAX_MESSAGE + " characters");
    }
  }

  private void checkBase(long base) {
    if (base < 0 || base > head) {
      throw new SkiffException(ErrorCode.BAD_REQUEST, "there is no version " + base + " (the newest is " + head + ")");
    }
  }

  // ---- reads ----

  /**
   * config.get: secrets opened only for the service they belong to asking for itself with no person.
   *
   * @param r the request
   * @param caller who asks
   * @return the view
   */
  ConfigView get(GetConfigRequest r, Caller caller) {
    List<LayerId> chain = LayerId.view(r.getService(), r.getRegion(), r.getEnv());
    String asked = LayerId.of(r.getService(), null, null).service();
    ConfigPath path = ConfigPath.parse(r.getPath());
    // a secret is opened only for the service it belongs to, asking for itself; never for a person
    boolean itself = asked != null && caller.user().isEmpty() && caller.service().filter(asked::equals).isPresent();
    synchronized (this) {
      fresh();
      Struct merged = Struct.getDefaultInstance();
      for (LayerId l : chain) {
        merged = Documents.merge(merged, doc(l.key()));
      }
      boolean[] redacted = {false};
      Struct shown = reveal(merged, ConfigPath.ROOT, chain, itself ? asked : null, redacted);
      ConfigView.Builder out = ConfigView.newBuilder().setVersion(head).setJson(json(Documents.get(shown, path))).setRedacted(redacted[0]);
      if (r.getExplain()) {
        String prefix = path.toString();
        Documents.leaves(merged).forEach((leaf, v) -> {
          if (prefix.isEmpty() || leaf.equals(prefix) || leaf.startsWith(prefix + ".")) {
            out.addLeaves(explain(chain, leaf, v));
          }
        });
      }
      return out.build();
    }
  }

  /**
   * A merged tree as a caller sees it: each sealed secret opened when it is in a layer of the service
   * {@code reader} (the proven caller asking for itself), else replaced by the marker.
   */
  private Struct reveal(Struct merged, ConfigPath at, List<LayerId> chain, String reader, boolean[] redacted) {
    Struct.Builder b = Struct.newBuilder();
    for (Map.Entry<String, Value> e : merged.getFieldsMap().entrySet()) {
      ConfigPath p = at.child(e.getKey());
      Value v = e.getValue();
      if (Documents.isSealed(v)) {
        LayerId from = sourceOf(chain, p, v);
        if (reader != null && from != null && reader.equals(from.service())) {
          SecretCipher c = cipher.orElseThrow(() -> new SkiffException(ErrorCode.INTERNAL, "layer " + from.key()
              + " holds secrets but the config service has no key to read them (" + SecretCipher.KEY_VARIABLE + ")"));
          v = Secrets.open(v, from.key(), p, c);
        } else {
          v = Secrets.REDACTED;
          redacted[0] = true;
        }
      } else if (v.hasStructValue()) {
        v = Value.newBuilder().setStructValue(reveal(v.getStructValue(), p, chain, reader, redacted)).build();
      }
      b.putFields(e.getKey(), v);
    }
    return b.build();
  }

  /** The topmost layer of a chain holding a value at a path, or null. */
  private LayerId sourceOf(List<LayerId> chain, ConfigPath p, Value v) {
    for (int i = chain.size() - 1; i >= 0; i--) {
      ConfigStore.Layer l = layers.get(chain.get(i).key());
      if (l != null && Documents.get(l.doc(), p).filter(v::equals).isPresent()) {
        return chain.get(i);
      }
    }
    return null;
  }

  /** Which layer, and which of its changes, a merged leaf came from: the topmost layer holding that value there. */
  private ConfigLeaf explain(List<LayerId> chain, String leaf, Value v) {
    ConfigPath p = ConfigPath.parse(leaf);
    ConfigLeaf.Builder out = ConfigLeaf.newBuilder().setPath(leaf).setValueJson(Documents.print(Secrets.redact(v)))
        .setSecret(Documents.isSealed(v));
    for (int i = chain.size() - 1; i >= 0; i--) {
      ConfigStore.Layer l = layers.get(chain.get(i).key());
      if (l != null && Documents.get(l.doc(), p).filter(v::equals).isPresent()) {
        return out.setLayer(l.key()).setChangeId(l.provenance().getOrDefault(leaf, l.version())).build();
      }
    }
    return out.build();
  }

  /**
   * config.log.
   *
   * @param r the request
   * @return a page of changes, secrets redacted
   */
  ConfigLog log(ConfigLogRequest r) {
    if (r.getLimit() < 0 || r.getLimit() > MAX_PAGE) {
      throw new SkiffException(ErrorCode.BAD_REQUEST, "a page has 1 to " + MAX_PAGE + " changes");
    }
    int limit = r.getLimit() == 0 ? DEFAULT_PAGE : r.getLimit();
    String service = r.getService().isEmpty() ? null : LayerId.of(r.getService(), null, null).service();
    long headNow;
    synchronized (this) {
      fresh();
      headNow = head;
    }
    long before = r.getBefore() <= 0 ? headNow + 1 : Math.min(r.getBefore(), headNow + 1);
    ConfigLog.Builder out = ConfigLog.newBuilder().setHead(headNow);
    // with a filter, look at no more than a few pages' worth of history per request
    long lowest = Math.max(0, before - (long) limit * 10);
    while (out.getChangesCount() < limit && before > 1 && before > lowest) {
      List<ConfigChange> page = store.changesBefore(before, limit);
      if (page.isEmpty()) {
        before = 1;
        break;
      }
      for (ConfigChange c : page) {
        before = c.getId();
        if (service == null || concerns(c, service)) {
          out.addChanges(Secrets.redact(c));
          if (out.getChangesCount() == limit) {
            break;
          }
        }
      }
    }
    return out.setNextBefore(before > 1 ? before : 0).build();
  }

  private static boolean concerns(ConfigChange c, String service) {
    for (ConfigEdit e : c.getEditsList()) {
      String s = LayerId.parse(e.getLayer()).service();
      if (s == null || s.equals(service)) {
        return true;
      }
    }
    return false;
  }

  /**
   * config.diff.
   *
   * @param r the request
   * @return what differs, secrets redacted
   */
  ConfigDiff diff(ConfigDiffRequest r) {
    synchronized (this) {
      fresh();
      long to = r.getToVersion() == 0 ? head : r.getToVersion();
      Map<String, Struct> a = docsAt(r.getFromVersion());
      Map<String, Struct> b = docsAt(to);
      ConfigDiff.Builder out = ConfigDiff.newBuilder().setFromVersion(r.getFromVersion()).setToVersion(to);
      for (String key : union(a, b)) {
        if (Objects.equals(a.get(key), b.get(key))) {
          continue;
        }
        Map<String, Value> la = Documents.leaves(a.getOrDefault(key, Struct.getDefaultInstance()));
        Map<String, Value> lb = Documents.leaves(b.getOrDefault(key, Struct.getDefaultInstance()));
        for (String p : new TreeSet<>(union(la, lb))) {
          Value x = la.get(p);
          Value y = lb.get(p);
          if (!Objects.equals(x, y)) {
            out.addEdits(Secrets.redact(ConfigEdit.newBuilder().setLayer(key).setPath(p).setOldJson(json(Optional.ofNullable(x)))
                .setNewJson(json(Optional.ofNullable(y))).build()));
          }
        }
      }
      return out.build();
    }
  }

  /** Every layer's document at a version: the current ones with the changes after it undone. */
  private Map<String, Struct> docsAt(long version) {
    checkBase(version);
    if (head - version > MAX_SPAN) {
      throw new SkiffException(ErrorCode.BAD_REQUEST, "version " + version + " is more than " + MAX_SPAN
          + " changes back: diff or roll back to a newer one");
    }
    Map<String, Struct> docs = layerDocs();
    long next = head;
    while (next > version) {
      List<ConfigChange> page = store.changesBefore(next + 1, (int) Math.min(MAX_PAGE, next - version));
      if (page.isEmpty() || page.get(0).getId() != next) {
        throw new SkiffException(ErrorCode.BAD_REQUEST, "the history of version " + next + " is no longer kept");
      }
      for (ConfigChange c : page) {
        if (c.getId() != next) {
          throw new SkiffException(ErrorCode.BAD_REQUEST, "the history of version " + next + " is no longer kept");
        }
        List<ConfigEdit> edits = c.getEditsList();
        for (int i = edits.size() - 1; i >= 0; i--) {
          ConfigEdit e = edits.get(i);
          docs.put(e.getLayer(), Documents.put(docs.getOrDefault(e.getLayer(), Struct.getDefaultInstance()),
              ConfigPath.parse(e.getPath()), value(e.getOldJson())));
        }
        next--;
        if (next == version) {
          break;
        }
      }
    }
    return docs;
  }

  private Map<String, Struct> layerDocs() {
    Map<String, Struct> out = new TreeMap<>();
    layers.forEach((k, l) -> out.put(k, l.doc()));
    return out;
  }

  private static <K> List<K> union(Map<K, ?> a, Map<K, ?> b) {
    TreeSet<K> keys = new TreeSet<>(a.keySet());
    keys.addAll(b.keySet());
    return new ArrayList<>(keys);
  }

  /** @return the newest version (for tests) */
  synchronized long version() {
    return head;
  }
}
