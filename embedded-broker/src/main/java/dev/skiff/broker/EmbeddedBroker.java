package dev.skiff.broker;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;

import org.apache.qpid.server.SystemLauncher;
import org.apache.qpid.server.SystemLauncherListener;
import org.apache.qpid.server.model.Broker;
import org.apache.qpid.server.model.Container;
import org.apache.qpid.server.model.Port;
import org.apache.qpid.server.model.State;
import org.apache.qpid.server.model.SystemConfig;
import org.apache.qpid.server.model.port.AmqpPort;

/**
 * An Apache Qpid Broker-J broker running inside this JVM, speaking AMQP 0-9-1 (and 0-9 / 0-8) on a
 * loopback port, so that a demo or a test needs no installed RabbitMQ.
 *
 * <pre>{@code
 * try (EmbeddedBroker broker = EmbeddedBroker.start()) {
 *     ConnectionFactory factory = new ConnectionFactory();
 *     factory.setUri(broker.amqpUri());
 *     ...
 * }
 * }</pre>
 *
 * <p>What is set up:
 * <ul>
 *   <li>one virtual host held in memory (nothing survives {@link #close()}), reachable as the
 *       default virtual host, so {@code "/"} (amqp-client's default) works;</li>
 *   <li>one user, {@code guest} / {@code guest}, authenticated with PLAIN over the plain socket;</li>
 *   <li>one AMQP port bound to {@code 127.0.0.1} only;</li>
 *   <li>a temporary work directory ({@code qpid.work_dir}), deleted by {@link #close()};</li>
 *   <li>small thread pools (8 connection threads for the virtual host, 4 for the port, about 20
 *       threads in all instead of Qpid's 90 or so).</li>
 * </ul>
 *
 * <p>How it differs from RabbitMQ (what code run against it must not rely on):
 * <ul>
 *   <li>There is no direct reply-to ({@code amq.rabbitmq.reply-to}); use an exclusive,
 *       server-named reply queue ({@code queueDeclare()}) instead.</li>
 *   <li>Queue and exchange declare arguments that Qpid does not know ({@code x-message-ttl},
 *       {@code x-expires}, {@code x-max-length}, {@code x-dead-letter-exchange},
 *       {@code x-queue-type}, ...) are <em>accepted and ignored</em>
 *       ({@code queue.behaviourOnUnknownDeclareArgument=IGNORE}, likewise for exchanges). Without
 *       that, Qpid closes the whole connection (542). So queue TTLs, queue expiry, length limits
 *       and dead-lettering configured through those arguments have no effect here.</li>
 *   <li>The per-message {@code expiration} property is carried through unchanged but <em>not
 *       enforced</em>. Qpid reads it as an absolute time (ms since the epoch), not as RabbitMQ's
 *       relative TTL, so by default it would drop every message sent with, say,
 *       {@code expiration("5000")} as long expired; {@code queue.minimumMessageTtl} (100 years)
 *       stops that.</li>
 *   <li>An unroutable {@code mandatory} publish comes back as {@code basic.return} (312
 *       NO_ROUTE), in transactions too ({@code qpid.port.closeWhenNoRoute=false}; Qpid's default
 *       closes the connection for a transacted one). With publisher confirms on, such a message is
 *       <em>nacked</em> (RabbitMQ acks it), and the nack comes before the return.</li>
 *   <li>Where RabbitMQ closes a channel, Qpid often closes the whole connection, for instance with
 *       403 when consuming from another connection's exclusive queue (RabbitMQ: 405 on the
 *       channel).</li>
 *   <li>The {@code user_id} message property is validated ({@code qpid.broker_msg_auth=true}), as
 *       RabbitMQ does: a publish whose {@code user_id} is not the connection's user is refused.
 *       Unlike RabbitMQ (channel closed with 406), Qpid closes the <em>connection</em> with
 *       403 ACCESS_REFUSED.</li>
 * </ul>
 *
 * <p>A running broker keeps the JVM alive (its threads are not daemons), like any server: close it,
 * for instance with try-with-resources. If the JVM exits while it runs (Ctrl-C), Qpid's shutdown
 * hook stops it and the work directory is deleted.
 *
 * <p>Logging: Qpid logs through SLF4J only and brings no logging backend. Its operational log
 * ({@code qpid.message.*}, normally some fifteen INFO lines per start and one per connection) is
 * demoted to DEBUG here, except fatal-error and failed-service messages, which stay at WARN. What
 * still shows at INFO is two lines per start from
 * {@code org.apache.qpid.server.store.GenericStoreUpgrader} ("... store has model version 9.1");
 * set {@code org.apache.qpid} to WARN in the application's logging configuration to hide them.
 *
 * <p>Several brokers may run in one JVM at once, and a broker may be started again after another
 * was closed. Qpid does keep some JVM-wide state, set on first start and left in place after
 * {@link #close()}: it registers its {@code classpath:} URL handler in
 * {@code java.protocol.handler.pkgs}, copies its default properties into the system properties
 * (only those not already set; here that is {@code qpid.version}), and sizes one JVM-wide network buffer pool (every
 * broker started here asks for the same size, so they share it). {@link #start(int)} calls are
 * serialised.
 */
public final class EmbeddedBroker implements AutoCloseable {

    /** The user name and password of the one user the broker knows. */
    private static final String USER = "guest";

    private static final String HOST = "127.0.0.1";

    private static final String CONFIG_RESOURCE = "embedded-broker-config.json";

    private static final String AMQP_PORT_NAME = "AMQP";

    /** Serialises starts: Qpid's first start mutates JVM-wide state (system properties, buffer pool). */
    private static final Object START_LOCK = new Object();

    private final SystemLauncher launcher;
    private final Path workDir;
    private final int port;
    private final AtomicBoolean closed = new AtomicBoolean();
    /** Deletes the work dir if the JVM exits with the broker still running (Qpid's own hook stops it). */
    private final Thread workDirCleaner;

    private EmbeddedBroker(SystemLauncher launcher, Path workDir, int port) {
        this.launcher = launcher;
        this.workDir = workDir;
        this.port = port;
        this.workDirCleaner = new Thread(() -> deleteRecursively(workDir), "skiff-embedded-broker-cleanup");
        Runtime.getRuntime().addShutdownHook(workDirCleaner);
    }

    /**
     * Starts a broker on a free loopback port (port 0 -> AmqpPort.getBoundPort()).
     *
     * @return the running broker; close it to stop it
     * @throws IllegalStateException if the broker does not start
     */
    public static EmbeddedBroker start() {
        return start(0);
    }

    /**
     * Starts a broker listening on {@code 127.0.0.1:port}.
     *
     * @param port the TCP port to listen on; {@code 0} picks any free port, which {@link #port()}
     *     then tells
     * @return the running broker; close it to stop it
     * @throws IllegalArgumentException if {@code port} is not in {@code 0..65535}
     * @throws IllegalStateException if the broker does not start, for instance because the port is
     *     taken; nothing is left running and the work directory is deleted
     */
    public static EmbeddedBroker start(int port) {
        if (port < 0 || port > 65_535) {
            throw new IllegalArgumentException("port must be in 0..65535, was " + port);
        }
        synchronized (START_LOCK) {
            // Qpid would log an ERROR with a stack trace and leave the port ERRORED; say it plainly instead
            if (port != 0 && !isFree(port)) {
                throw new IllegalStateException("embedded Qpid broker did not start on " + HOST + ":" + port
                        + ": the port is already in use");
            }
            return doStart(port);
        }
    }

    private static boolean isFree(int port) {
        try (ServerSocket probe = new ServerSocket()) {
            probe.setReuseAddress(true);
            probe.bind(new InetSocketAddress(HOST, port));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static EmbeddedBroker doStart(int requestedPort) {
        Path workDir;
        try {
            workDir = Files.createTempDirectory("skiff-qpid-");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a work directory for the embedded broker", e);
        }
        StartupListener listener = new StartupListener();
        SystemLauncher launcher = new SystemLauncher(listener);
        try {
            launcher.startup(systemConfigAttributes(workDir, requestedPort));
            // SystemLauncher reports a failed start to its listener and returns normally.
            if (listener.startupError != null) {
                throw listener.startupError;
            }
            int boundPort = boundAmqpPort(listener.systemConfig);
            return new EmbeddedBroker(launcher, workDir, boundPort);
        } catch (Exception e) {
            try {
                launcher.shutdown();
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            deleteRecursively(workDir);
            throw new IllegalStateException(
                    "embedded Qpid broker did not start on " + HOST + ":" + requestedPort + ": " + e.getMessage(), e);
        }
    }

    private static Map<String, Object> systemConfigAttributes(Path workDir, int port) {
        URL config = EmbeddedBroker.class.getResource(CONFIG_RESOURCE);
        if (config == null) {
            throw new IllegalStateException("missing resource " + CONFIG_RESOURCE + " next to " + EmbeddedBroker.class);
        }
        Map<String, String> context = new HashMap<>();
        context.put(SystemConfig.QPID_WORK_DIR, workDir.toAbsolutePath().toString());
        context.put(Broker.QPID_AMQP_PORT, Integer.toString(port));

        Map<String, Object> attributes = new HashMap<>();
        // broker configuration lives in memory: nothing is read back from or written to disk
        attributes.put(SystemConfig.TYPE, "Memory");
        attributes.put(SystemConfig.INITIAL_CONFIGURATION_LOCATION, config.toExternalForm());
        attributes.put(SystemConfig.STARTUP_LOGGED_TO_SYSTEM_OUT, Boolean.FALSE);
        // the default is a JSON file in the work dir; user preferences are of no use here
        attributes.put("preferenceStoreAttributes", Map.of("type", "Noop", "attributes", Map.of()));
        attributes.put(SystemConfig.CONTEXT, context);
        return attributes;
    }

    private static int boundAmqpPort(SystemConfig<?> systemConfig) {
        if (systemConfig == null) {
            throw new IllegalStateException("broker was not created");
        }
        Container<?> container = systemConfig.getContainer();
        if (!(container instanceof Broker<?> broker)) {
            throw new IllegalStateException("unexpected container " + container);
        }
        if (broker.getState() != State.ACTIVE) {
            throw new IllegalStateException("broker is " + broker.getState() + ", not ACTIVE");
        }
        for (Port<?> p : broker.getPorts()) {
            if (p instanceof AmqpPort<?> amqp && AMQP_PORT_NAME.equals(amqp.getName())) {
                if (amqp.getState() != State.ACTIVE || amqp.getBoundPort() <= 0) {
                    throw new IllegalStateException("AMQP port is " + amqp.getState() + ", bound port "
                            + amqp.getBoundPort());
                }
                return amqp.getBoundPort();
            }
        }
        throw new IllegalStateException("broker has no AMQP port");
    }

    /**
     * The TCP port the broker listens on (on {@code 127.0.0.1}).
     *
     * @return the bound port, never 0
     */
    public int port() {
        return port;
    }

    /**
     * The URI to hand to {@code ConnectionFactory.setUri}: {@code amqp://guest:guest@127.0.0.1:<port>}
     * (default virtual host).
     *
     * @return the broker's AMQP URI, with credentials
     */
    public String amqpUri() {
        return "amqp://" + USER + ":" + USER + "@" + HOST + ":" + port;
    }

    /**
     * Stops the broker, closing every connection to it, and deletes the work directory it created.
     * Idempotent: later calls do nothing.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        try {
            launcher.shutdown();
        } finally {
            deleteRecursively(workDir);
            try {
                Runtime.getRuntime().removeShutdownHook(workDirCleaner);
            } catch (IllegalStateException jvmShuttingDown) {
                // the hook runs anyway; nothing left for it to do
            }
        }
    }

    /** The work directory this broker created, for tests. */
    Path workDir() {
        return workDir;
    }

    @Override
    public String toString() {
        return "EmbeddedBroker[" + HOST + ":" + port + (closed.get() ? ", closed]" : "]");
    }

    private static void deleteRecursively(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        List<Path> paths;
        try (Stream<Path> walk = Files.walk(dir)) {
            paths = walk.sorted(Comparator.reverseOrder()).toList();
        } catch (IOException e) {
            return; // best effort: a temp dir left behind is not worth failing close() for
        }
        for (Path p : paths) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException ignored) {
                // best effort, as above
            }
        }
    }

    /** Captures the system config and any start failure, and quiets the operational log early. */
    private static final class StartupListener extends SystemLauncherListener.DefaultSystemLauncherListener {
        private volatile SystemConfig<?> systemConfig;
        private volatile RuntimeException startupError;

        @Override
        public void onContainerResolve(SystemConfig<?> systemConfig) {
            this.systemConfig = systemConfig;
            systemConfig.getEventLogger().setMessageLogger(new QuietMessageLogger());
        }

        @Override
        public void errorOnStartup(RuntimeException e) {
            this.startupError = e;
        }
    }
}
