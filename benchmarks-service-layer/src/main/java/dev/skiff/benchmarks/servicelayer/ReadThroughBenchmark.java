package dev.skiff.benchmarks.servicelayer;

import dev.skiff.platform.config.Config;
import dev.skiff.service.memcached.Codec;
import dev.skiff.service.memcached.Memcached;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import net.rubyeye.xmemcached.MemcachedClient;
import net.rubyeye.xmemcached.XMemcachedClientBuilder;
import net.rubyeye.xmemcached.impl.KetamaMemcachedSessionLocator;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The read-through hit path ({@link Memcached#readThrough}: key check, timed get, hit count, decode)
 * beside the bare xmemcached {@code get} of the same key on the same server: what the service layer
 * adds to a cache hit. One caller, one memcached ({@code SKIFF_MEMCACHED_HOSTS}, else 127.0.0.1:11211).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 3)
@Measurement(iterations = 5, time = 3)
@Fork(1)
public class ReadThroughBenchmark {
  private static final String KEY = "skiff-bench:booking:42";
  private static final String VALUE = "{\"id\":\"42\",\"customer\":\"Ada\",\"pickup\":\"King's Cross\"}";

  private Memcached skiff;
  private MemcachedClient bare;

  /** Connects both clients and stores the value. */
  @Setup(Level.Trial)
  public void setUp() throws Exception {
    String hosts = System.getenv().getOrDefault("SKIFF_MEMCACHED_HOSTS", "127.0.0.1:11211");
    skiff = Memcached.builder().config(Config.of(Map.of("memcached.hosts", hosts))).build().start();
    InetSocketAddress first = skiff.settings().hosts().get(0);
    XMemcachedClientBuilder b = new XMemcachedClientBuilder(List.of(first));
    b.setSessionLocator(new KetamaMemcachedSessionLocator());
    b.setConnectionPoolSize(1);
    bare = b.build();
    skiff.setString(KEY, VALUE, Duration.ofHours(1));
  }

  /** Closes both clients. */
  @TearDown(Level.Trial)
  public void tearDown() throws Exception {
    skiff.close();
    bare.shutdown();
  }

  /** @return the value through the service layer's read-through (always a hit) */
  @Benchmark
  public String readThroughHit() {
    return skiff.readThrough(KEY, Duration.ofHours(1), Codec.utf8(), () -> VALUE);
  }

  /** @return the value through a bare xmemcached get */
  @Benchmark
  public Object bareGet() throws Exception {
    return bare.get(KEY, 1000);
  }
}
