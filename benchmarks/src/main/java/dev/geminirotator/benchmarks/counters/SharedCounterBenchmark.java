package dev.geminirotator.benchmarks.counters;

import dev.geminirotator.core.internal.quota.SharedQuota;
import dev.geminirotator.core.internal.quota.SharedQuotas;
import dev.geminirotator.redis.RedisKeyStateStore;
import dev.geminirotator.testsupport.redis.RedisServer;
import io.github.bucket4j.Bandwidth;
import io.github.bucket4j.Bucket;
import io.github.bucket4j.BucketConfiguration;
import io.github.bucket4j.distributed.ExpirationAfterWriteStrategy;
import io.github.bucket4j.distributed.proxy.ProxyManager;
import io.github.bucket4j.distributed.proxy.RemoteBucketBuilder;
import io.github.bucket4j.distributed.proxy.optimization.DelayParameters;
import io.github.bucket4j.distributed.proxy.optimization.Optimizations;
import io.github.bucket4j.distributed.serialization.Mapper;
import io.github.bucket4j.redis.jedis.Bucket4jJedis;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.IntPredicate;
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
import org.openjdk.jmh.infra.BenchmarkParams;
import redis.clients.jedis.RedisClient;

/**
 * Shared per-key request limits on one real {@code redis-server} (started by each trial on a free
 * port, {@link RedisServer}), side by side: our {@link SharedQuotas} over
 * {@link RedisKeyStateStore}, and a Bucket4j distributed bucket (Bucket4j 8.17, its Jedis backend
 * on Jedis 8's {@code RedisClient}) with the same limit, plain and with its "delaying"
 * optimization (up to 10 tokens spent locally between synchronisations: about what one block of
 * {@code SharedQuotas} holds at 600/min). Each operation is one request on one of {@link #keys}
 * keys in turn: admitted or refused.
 *
 * <p>{@code limit} 600 per minute binds within the first milliseconds (then the run measures
 * refusals); 1,000,000,000 never binds (every request is admitted: the cost of counting). At the
 * end each trial prints its requests, how many were admitted, and its Redis round trips: for
 * Bucket4j counted on its Redis calls ({@link CountingRedisApi}), for ours from
 * {@code INFO commandstats} ({@link CommandStats#roundTrips}); both with the per-command deltas.
 *
 * <p>Run (one JMH run at a time on this machine; see benchmarks/README.md):
 * <pre>
 * flock /tmp/jmh.lock java -jar benchmarks/target/benchmarks.jar SharedCounterBenchmark \
 *     -t 1 -prof gc
 * flock /tmp/jmh.lock java -jar benchmarks/target/benchmarks.jar SharedCounterBenchmark \
 *     -t 2 -prof gc
 * </pre>
 * What each admits at a window boundary and while Redis is down: {@link SharedCounterSemantics}.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@State(Scope.Benchmark)
public class SharedCounterBenchmark {

  @Param({"sharedQuotas", "bucket4j", "bucket4jDelaying"})
  public String counter;

  /** Requests per minute per key, across every instance. */
  @Param({"600", "1000000000"})
  public long limit;

  @Param({"100"})
  public int keys;

  private RedisServer redis;
  private RedisClient stats;
  private RedisKeyStateStore store;
  private SharedQuotas quotas;
  private RedisClient bucketClient;
  private CountingRedisApi bucketApi;
  private IntPredicate acquire;
  private Map<String, Long> before;
  private int threads;
  private final LongAdder admitted = new LongAdder();
  private final LongAdder refused = new LongAdder();

  /** Each thread walks the keys in turn, from its own starting point. */
  @State(Scope.Thread)
  public static class Turn {
    int next = (int) (System.nanoTime() & 0xffff);
  }

  @Setup(Level.Trial)
  public void setUp(BenchmarkParams params) {
    threads = params.getThreads();
    redis = RedisServer.startOnFreePort();
    stats = RedisClient.create(redis.uri());
    switch (counter) {
      case "sharedQuotas" -> {
        store = RedisKeyStateStore.open(redis.uri("/0"));
        // a credit of one request, as the rotator and the proxy's per-client limits use
        quotas = SharedQuotas.builder(store).minimumCredit(1).build();
        SharedQuota[] q = new SharedQuota[keys];
        for (int i = 0; i < keys; i++) q[i] = quotas.perMinute("bench:k" + i, limit);
        acquire = k -> q[k].tryAcquire();
      }
      case "bucket4j", "bucket4jDelaying" -> {
        bucketClient = RedisClient.create(redis.uri());
        bucketApi = new CountingRedisApi(bucketClient);
        ProxyManager<String> buckets =
            new Bucket4jJedis.JedisBasedProxyManagerBuilder<>(Mapper.STRING, bucketApi)
                .expirationAfterWrite(ExpirationAfterWriteStrategy
                    .basedOnTimeForRefillingBucketUpToMax(Duration.ofSeconds(10)))
                .build();
        BucketConfiguration config = BucketConfiguration.builder()
            .addLimit(Bandwidth.builder().capacity(limit)
                .refillGreedy(limit, Duration.ofMinutes(1)).build())
            .build();
        RemoteBucketBuilder<String> builder = buckets.builder();
        if (counter.equals("bucket4jDelaying")) {
          builder = builder.withOptimization(Optimizations.delaying(
              new DelayParameters(10, Duration.ofSeconds(1))));
        }
        Bucket[] b = new Bucket[keys];
        for (int i = 0; i < keys; i++) b[i] = builder.build("bucket:k" + i, config);
        acquire = k -> b[k].tryConsume(1);
      }
      default -> throw new IllegalArgumentException("counter must be sharedQuotas, bucket4j or"
          + " bucket4jDelaying but was " + counter);
    }
    before = CommandStats.read(stats);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    if (quotas != null) quotas.close();
    Map<String, Long> delta = CommandStats.delta(before, CommandStats.read(stats));
    long trips = bucketApi != null ? bucketApi.calls.sum() : CommandStats.roundTrips(delta);
    long requests = admitted.sum() + refused.sum();
    System.out.printf(Locale.ROOT, "%n[%s, limit %d/min x %d keys, %d thread(s)] %d requests,"
            + " %d admitted, %d refused; %d Redis round trips: %.4f per request, %.4f per"
            + " admitted request; INFO commandstats: %s%n",
        counter, limit, keys, threads, requests, admitted.sum(), refused.sum(), trips,
        (double) trips / Math.max(1, requests), (double) trips / Math.max(1, admitted.sum()),
        delta);
    if (store != null) store.close();
    if (bucketClient != null) bucketClient.close();
    stats.close();
    redis.close();
  }

  @Benchmark
  public boolean tryAcquire(Turn turn) {
    int k = turn.next++ % keys;
    if (k < 0) k += keys;
    boolean ok = acquire.test(k);
    (ok ? admitted : refused).increment();
    return ok;
  }
}
