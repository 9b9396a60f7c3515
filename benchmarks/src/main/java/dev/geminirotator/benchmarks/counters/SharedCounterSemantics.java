package dev.geminirotator.benchmarks.counters;

import dev.geminirotator.core.internal.quota.SharedQuotas;
import dev.geminirotator.redis.RedisKeyStateStore;
import dev.geminirotator.testsupport.redis.RedisServer;
import io.github.bucket4j.Bandwidth;
import io.github.bucket4j.BucketConfiguration;
import io.github.bucket4j.TimeMeter;
import io.github.bucket4j.distributed.ExpirationAfterWriteStrategy;
import io.github.bucket4j.distributed.proxy.ProxyManager;
import io.github.bucket4j.distributed.proxy.optimization.DelayParameters;
import io.github.bucket4j.distributed.proxy.optimization.Optimizations;
import io.github.bucket4j.distributed.serialization.Mapper;
import io.github.bucket4j.redis.jedis.Bucket4jJedis;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import redis.clients.jedis.RedisClient;

/**
 * What {@link SharedQuotas} and Bucket4j's Redis buckets admit, beside what they cost
 * ({@link SharedCounterBenchmark}): keys limited to 600 requests a minute each, on a real
 * {@code redis-server} started on a free port.
 *
 * <ol>
 *   <li><b>Window boundary</b> (a clock both read, moved by hand; claims run inline): a client
 *       spends all it can 1 s before a minute boundary, then again at the boundary. Ours counts
 *       fixed minute windows aligned to the epoch; Bucket4j with greedy refill is a token bucket;
 *       Bucket4j "intervally aligned" refills whole minutes like ours.</li>
 *   <li><b>Cold burst</b> (real clock, Redis up): one thread asks as fast as it can for one
 *       second over 100 fresh keys of 600 a minute (60,000 allowed): how much of the limit each
 *       admits while its counts are still being claimed.</li>
 *   <li><b>Redis killed</b> (real clock): 200 requests each after the server is gone.</li>
 *   <li><b>Redis not answering</b> (a socket that accepts and never replies): 3 requests each;
 *       Jedis' default 2 s socket timeout applies.</li>
 * </ol>
 *
 * <p>Run: {@code flock /tmp/jmh.lock java -cp benchmarks/target/benchmarks.jar
 * dev.geminirotator.benchmarks.counters.SharedCounterSemantics}. Not thread-safe; run it alone.
 */
public final class SharedCounterSemantics {

  private static final long LIMIT = 600;

  private SharedCounterSemantics() {
  }

  public static void main(String[] args) throws Exception {
    try (RedisServer redis = RedisServer.startOnFreePort()) {
      System.out.printf(Locale.ROOT, "redis-server %s on port %d; limit %d per minute%n%n",
          RedisServer.binary(), redis.port(), LIMIT);
      boundary(redis);
      burst(redis);
      killed(redis);
    }
    silent();
  }

  /** A clock both sides read, moved by hand. */
  private static final class HandClock extends Clock {
    final AtomicLong millis;

    HandClock(long millis) {
      this.millis = new AtomicLong(millis);
    }

    @Override
    public long millis() {
      return millis.get();
    }

    @Override
    public Instant instant() {
      return Instant.ofEpochMilli(millis.get());
    }

    @Override
    public java.time.ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      throw new UnsupportedOperationException();
    }

    TimeMeter meter() {
      return new TimeMeter() {
        @Override
        public long currentTimeNanos() {
          return millis.get() * 1_000_000L;
        }

        @Override
        public boolean isWallClockBased() {
          return true;
        }
      };
    }
  }

  private static void boundary(RedisServer redis) {
    long now = System.currentTimeMillis();
    long edge = now - Math.floorMod(now, 60_000L) + 120_000L; // a minute boundary ahead
    HandClock clock = new HandClock(edge - 1_000);
    try (RedisKeyStateStore store = RedisKeyStateStore.open(redis.uri("/1"));
        RedisClient client = RedisClient.create(redis.uri("/1"))) {
      SharedQuotas quotas = SharedQuotas.builder(store).clock(clock).minimumCredit(1)
          .executor(Runnable::run).build();
      var ours = quotas.perMinute("semantics:boundary", LIMIT);
      ProxyManager<String> buckets = bucketsOn(client, clock.meter());
      var greedy = buckets.builder().build("semantics:greedy", BucketConfiguration.builder()
          .addLimit(Bandwidth.builder().capacity(LIMIT)
              .refillGreedy(LIMIT, Duration.ofMinutes(1)).build()).build());
      var aligned = buckets.builder().build("semantics:aligned", BucketConfiguration.builder()
          .addLimit(Bandwidth.builder().capacity(LIMIT)
              .refillIntervallyAligned(LIMIT, Duration.ofMinutes(1), Instant.ofEpochMilli(edge))
              .build()).build());
      String[] names = {"SharedQuotas (fixed minute windows)", "Bucket4j, greedy refill",
          "Bucket4j, intervally aligned refill"};
      List<BooleanSupplier> limiters = List.of(ours::tryAcquire, () -> greedy.tryConsume(1),
          () -> aligned.tryConsume(1));
      System.out.println("1. Window boundary: a client asks 2,000 times 1 s before a minute"
          + " boundary, then 2,000 times at it");
      long[][] admitted = new long[3][2];
      for (int phase = 0; phase < 2; phase++) {
        clock.millis.set(phase == 0 ? edge - 1_000 : edge);
        for (int l = 0; l < 3; l++) admitted[l][phase] = spend(limiters.get(l), 2_000);
      }
      for (int l = 0; l < 3; l++) {
        System.out.printf(Locale.ROOT, "   %-38s admitted %4d before, %4d at the boundary:"
            + " %4d within one second%n", names[l], admitted[l][0], admitted[l][1],
            admitted[l][0] + admitted[l][1]);
      }
      quotas.close();
    }
    System.out.println();
  }

  private static long spend(BooleanSupplier limiter, int requests) {
    long n = 0;
    for (int i = 0; i < requests; i++) if (limiter.getAsBoolean()) n++;
    return n;
  }

  private static ProxyManager<String> bucketsOn(RedisClient client, TimeMeter meter) {
    var builder = new Bucket4jJedis.JedisBasedProxyManagerBuilder<>(Mapper.STRING,
        new CountingRedisApi(client))
        .expirationAfterWrite(ExpirationAfterWriteStrategy
            .basedOnTimeForRefillingBucketUpToMax(Duration.ofSeconds(10)));
    if (meter != null) builder.clientClock(meter);
    return builder.build();
  }

  private static BucketConfiguration perMinute() {
    return BucketConfiguration.builder().addLimit(Bandwidth.builder().capacity(LIMIT)
        .refillGreedy(LIMIT, Duration.ofMinutes(1)).build()).build();
  }

  private static void burst(RedisServer redis) {
    System.out.println("2. Cold burst: one thread, as fast as it can for 1 s, 100 fresh keys of"
        + " 600 a minute (60,000 allowed)");
    try (RedisKeyStateStore store = RedisKeyStateStore.open(redis.uri("/3"));
        RedisClient client = RedisClient.create(redis.uri("/3"))) {
      SharedQuotas quotas = SharedQuotas.builder(store).minimumCredit(1).build();
      ProxyManager<String> buckets = bucketsOn(client, null);
      String[] names = {"SharedQuotas", "Bucket4j", "Bucket4j, delaying(10 tokens, 1 s)"};
      for (int l = 0; l < 3; l++) {
        BooleanSupplier[] keys = new BooleanSupplier[100];
        for (int k = 0; k < keys.length; k++) {
          String name = "semantics:burst:" + l + ":" + k;
          if (l == 0) {
            keys[k] = quotas.perMinute(name, LIMIT)::tryAcquire;
          } else {
            var b = (l == 1 ? buckets.builder() : buckets.builder().withOptimization(
                Optimizations.delaying(new DelayParameters(10, Duration.ofSeconds(1)))))
                .build(name, perMinute());
            keys[k] = () -> b.tryConsume(1);
          }
        }
        long requests = 0;
        long admitted = 0;
        long end = System.nanoTime() + 1_000_000_000L;
        while (System.nanoTime() < end) {
          if (keys[(int) (requests++ % keys.length)].getAsBoolean()) admitted++;
        }
        System.out.printf(Locale.ROOT, "   %-36s %,9d requests, %,6d admitted%n", names[l],
            requests, admitted);
      }
      quotas.close();
    }
    System.out.println();
  }

  private static void killed(RedisServer redis) {
    System.out.println("3. Redis killed: 50 requests with Redis up, then 200 after it is gone,"
        + " 1 ms apart");
    try (RedisKeyStateStore store = RedisKeyStateStore.open(redis.uri("/2"));
        RedisClient client = RedisClient.create(redis.uri("/2"))) {
      SharedQuotas quotas = SharedQuotas.builder(store).minimumCredit(1).build();
      var ours = quotas.perMinute("semantics:killed", LIMIT);
      ProxyManager<String> buckets = bucketsOn(client, null);
      var plain = buckets.builder().build("semantics:plain", perMinute());
      var delaying = buckets.builder().withOptimization(Optimizations.delaying(
          new DelayParameters(10, Duration.ofSeconds(1)))).build("semantics:delaying", perMinute());
      String[] names = {"SharedQuotas", "Bucket4j", "Bucket4j, delaying(10 tokens, 1 s)"};
      List<BooleanSupplier> limiters = List.of(ours::tryAcquire, () -> plain.tryConsume(1),
          () -> delaying.tryConsume(1));
      for (BooleanSupplier l : limiters) spendUntilAdmitted(l, 50);
      redis.kill();
      for (int l = 0; l < 3; l++) report(names[l], limiters.get(l), 200, 1_000_000L);
      quotas.close();
    }
    System.out.println();
  }

  /** Up to 50 admitted, asking again while a block is on its way (ours refuses meanwhile). */
  private static void spendUntilAdmitted(BooleanSupplier limiter, int admitted) {
    long deadline = System.nanoTime() + 10_000_000_000L;
    int n = 0;
    while (n < admitted && System.nanoTime() < deadline) if (limiter.getAsBoolean()) n++;
  }

  /** Sends {@code requests}, {@code pauseNanos} apart, and prints what became of them. */
  private static void report(String name, BooleanSupplier limiter, int requests,
      long pauseNanos) {
    int admitted = 0;
    int refused = 0;
    int failed = 0;
    String firstFailure = null;
    long slowest = 0;
    long spent = 0;
    for (int i = 0; i < requests; i++) {
      long t0 = System.nanoTime();
      try {
        if (limiter.getAsBoolean()) admitted++;
        else refused++;
      } catch (RuntimeException e) {
        failed++;
        if (firstFailure == null) {
          firstFailure = e.getClass().getSimpleName() + ": " + e.getMessage();
        }
      }
      long took = System.nanoTime() - t0;
      slowest = Math.max(slowest, took);
      spent += took;
      if (pauseNanos > 0) java.util.concurrent.locks.LockSupport.parkNanos(pauseNanos);
    }
    System.out.printf(Locale.ROOT, "   %-36s %3d admitted, %3d refused, %3d threw; slowest call"
            + " %.1f ms, all calls %.1f ms%s%n", name, admitted, refused, failed, slowest / 1e6,
        spent / 1e6,
        firstFailure == null ? "" : "; first: " + firstFailure);
  }

  /** A Redis that accepts connections and never answers (a hung or partitioned server). */
  private static void silent() throws IOException {
    System.out.println("4. Redis not answering: 3 requests each, after the store or client"
        + " was opened on it");
    List<Socket> accepted = new ArrayList<>();
    try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      Thread acceptor = new Thread(() -> {
        try {
          while (true) {
            Socket s = server.accept();
            synchronized (accepted) {
              accepted.add(s);
            }
          }
        } catch (IOException e) {
          // closed: done
        }
      }, "silent-redis");
      acceptor.setDaemon(true);
      acceptor.start();
      String uri = "redis://127.0.0.1:" + server.getLocalPort();
      long t0 = System.nanoTime();
      RedisKeyStateStore store = RedisKeyStateStore.open(uri);
      System.out.printf(Locale.ROOT, "   (the store opened in %.0f ms, available: %s)%n",
          (System.nanoTime() - t0) / 1e6, store.isAvailable());
      SharedQuotas quotas = SharedQuotas.builder(store).minimumCredit(1).build();
      var ours = quotas.perMinute("semantics:silent", LIMIT);
      report("SharedQuotas", ours::tryAcquire, 3, 0);
      try (RedisClient client = RedisClient.create(uri)) {
        var plain = bucketsOn(client, null).builder().build("semantics:silent", perMinute());
        report("Bucket4j", () -> plain.tryConsume(1), 3, 0);
      }
      quotas.close();
      store.close();
    } finally {
      synchronized (accepted) {
        for (Socket s : accepted) s.close();
      }
    }
  }
}
