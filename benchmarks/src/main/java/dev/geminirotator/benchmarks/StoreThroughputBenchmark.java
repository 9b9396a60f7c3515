package dev.geminirotator.benchmarks;

import dev.geminirotator.testsupport.redis.RedisCluster;
import dev.geminirotator.testsupport.redis.RedisServer;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyLease;
import dev.geminirotator.api.NoKeyAvailableException;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.QuotaScope;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.core.rotation.CooldownPolicy;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.redis.RedisKeyStateStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Rotator throughput with the Redis store against the memory store, side by side: 1000 keys (one
 * project each), acquire + complete with 97% success, 2% 429 and 1% 500. The Redis run starts its
 * own redis-server on a free port ({@link RedisServer}), the cluster run a 3-master Redis Cluster
 * without replicas ({@link RedisCluster}, {@code redis-cluster://}), and both print the Redis
 * commands per request from {@code INFO commandstats} (every command counted, those run inside Lua
 * scripts included; summed over the masters).
 *
 * <p>Cooldowns are milliseconds long so that, at millions of requests a second, 429s never take
 * the whole pool out of rotation (see {@link #cooldownMillis}).
 *
 * <p>Targets (issues: redis, 17): Redis mode, single node and cluster, at least 0.8x memory-mode
 * throughput, at most one Redis round trip per request on average. Run:
 * {@code java -jar benchmarks/target/benchmarks.jar StoreThroughputBenchmark}
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@State(Scope.Benchmark)
public class StoreThroughputBenchmark {

  @Param({"memory", "redis", "cluster"})
  public String store;

  @Param({"1000"})
  public int keys;

  /**
   * How long a 429 cools its (project, model). {@code 1}: over one model; most cooldowns end
   * before the writer's 2 ms linger, so the store never writes them. {@code 20}: requests spread
   * over 20 models so the pool is never exhausted, and every cooldown outlives the linger: each
   * 429 becomes a Redis write and a publish.
   */
  @Param({"1", "20"})
  public int cooldownMillis;

  /**
   * Each key's requests-per-minute quota, or 0 for none. With a quota every request also takes a
   * permit from the key's {@code SharedQuota}, and each rotator claims blocks of permits from the
   * store's window counter in the background (in Redis: one INCRBY script per block). 1,000,000
   * per key is more than a run spends in a minute, so the quota never refuses: this measures what
   * counting costs, not what refusing does.
   */
  @Param({"0", "1000000"})
  public int rpm;

  private static final Outcome SUCCESS = Outcome.success();
  private static final Outcome SERVER_ERROR = Outcome.upstreamError(500, "INTERNAL");

  private Outcome rateLimited;
  private RequestContext[] contexts;
  private final LongAdder requests = new LongAdder();
  private final LongAdder noKey = new LongAdder();
  private RedisServer redis;
  private RedisCluster cluster;
  private RedisKeyStateStore redisStore;
  private GeminiKeyRotator rotator;
  private long commandsBefore;

  /** Each thread's own outcome sequence. */
  @State(Scope.Thread)
  public static class Dice {
    long seed = System.nanoTime() | 1;

    int roll() {
      long x = seed;
      x ^= x << 13;
      x ^= x >>> 7;
      x ^= x << 17;
      seed = x;
      return (int) Long.remainderUnsigned(x, 100);
    }

    int next(int bound) {
      return bound == 1 ? 0 : (int) Long.remainderUnsigned(seed >>> 7, bound);
    }
  }

  @Setup(Level.Trial)
  public void setUp() {
    List<ApiKey> pool = new ArrayList<>(keys);
    for (int i = 0; i < keys; i++) {
      ApiKey.Builder key = ApiKey.builder(String.format("AIzaSyBENCH%028d", i)).id("k" + i);
      if (rpm > 0) key.requestsPerMinute(rpm);
      pool.add(key.build());
    }
    rateLimited = Outcome.rateLimited(Duration.ofMillis(cooldownMillis), QuotaScope.PER_MINUTE);
    int models = cooldownMillis <= 1 ? 1 : 20;
    contexts = new RequestContext[models];
    for (int i = 0; i < models; i++) contexts[i] = RequestContext.forModel("gemini-model-" + i);
    GeminiKeyRotator.Builder builder = GeminiKeyRotator.builder().keys(pool)
        .cooldowns(CooldownPolicy.builder().minimum(Duration.ofMillis(1)).build());
    if (store.equals("redis")) {
      redis = RedisServer.startOnFreePort();
      redisStore = RedisKeyStateStore.open(redis.uri("/0"));
      builder.store(redisStore, true);
    } else if (store.equals("cluster")) {
      cluster = RedisCluster.start(3, 0);
      redisStore = RedisKeyStateStore.open(cluster.uri(""));
      builder.store(redisStore, true);
    }
    rotator = builder.build();
    if (redis != null) commandsBefore = redis.commandCalls();
    if (cluster != null) commandsBefore = cluster.commandCalls();
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    long dropped = redisStore != null ? redisStore.droppedWrites() : 0;
    rotator.close(); // closes the Redis store, which flushes what is queued
    long n = requests.sum();
    if (redis != null || cluster != null) {
      // minus the INFO of this count (one per master)
      long commands = redis != null ? redis.commandCalls() - commandsBefore - 1
          : cluster.commandCalls() - commandsBefore - cluster.liveMasters().size();
      System.out.printf("%n[%s, cooldown %d ms, rpm %d] %d requests, %d Redis commands (INFO"
          + " commandstats), %.4f commands per request; writes dropped: %d; no key available:"
          + " %d%n", store, cooldownMillis, rpm, n, commands,
          (double) commands / n, dropped, noKey.sum());
      if (redis != null) redis.close();
      if (cluster != null) cluster.close();
    } else {
      System.out.printf("%n[memory, cooldown %d ms, rpm %d] %d requests; no key available: %d%n",
          cooldownMillis, rpm, n, noKey.sum());
    }
  }

  @Benchmark
  public Object acquireAndComplete(Dice dice) {
    requests.increment();
    int roll = dice.roll();
    KeyLease lease;
    try {
      lease = rotator.acquire(contexts[dice.next(contexts.length)]);
    } catch (NoKeyAvailableException e) {
      noKey.increment();
      return e;
    }
    lease.complete(roll < 97 ? SUCCESS : roll < 99 ? rateLimited : SERVER_ERROR);
    return lease;
  }
}
