package dev.geminirotator.benchmarks;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyLease;
import dev.geminirotator.api.KeyState;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.QuotaScope;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.redis.RedisKeyStateStore;
import dev.geminirotator.testsupport.redis.RedisServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * What the Redis tests used to assert with wall-clock limits, measured instead: how fast a state
 * change made on one rotator reaches another rotator on the same Redis, and how slow the slowest
 * {@code acquire + complete} gets while Redis is killed and restarted. A plain {@code main()}
 * (not JMH: one event per measurement, not a throughput), against a real {@code redis-server}
 * started on a free port ({@link RedisServer}, as {@link StoreThroughputBenchmark} does).
 *
 * <p>Propagation: two rotators (A, B), each with its own {@link RedisKeyStateStore}, four keys.
 * Each round makes one change on A (disable, enable, a 429 cooldown, a reset of that cooldown) and
 * polls B's snapshot every 20 µs until B shows it; the time from just before the change to B
 * seeing it is one sample. Reported as percentiles per kind and over all.
 *
 * <p>Outage: one thread runs {@code acquire + complete} back to back on A and B in turn (90%
 * success, 10% 500), recording each call's latency in a log-linear histogram (about 6% bucket
 * width) per phase: Redis up, Redis killed (until both stores notice and a further second),
 * Redis restarted (until both stores are available and a further second).
 *
 * <p>Run (one benchmark at a time on this machine):
 * <pre>
 * mvn -B -ntp -q package -DskipTests -pl benchmarks -am
 * flock /tmp/jmh.lock java -cp benchmarks/target/benchmarks.jar \
 *     dev.geminirotator.benchmarks.PropagationBenchmark [rounds]
 * </pre>
 * Not thread-safe; run it alone.
 */
public final class PropagationBenchmark {

  private static final RequestContext FLASH = RequestContext.forModel("gemini-2.5-flash");
  private static final List<String> IDS = List.of("a", "b", "c", "d");

  private PropagationBenchmark() {
  }

  public static void main(String[] args) throws Exception {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 500;
    try (RedisServer redis = RedisServer.startOnFreePort()) {
      System.out.printf(Locale.ROOT, "redis-server %s on port %d; %d rounds per kind%n",
          RedisServer.binary(), redis.port(), rounds);
      propagation(redis, rounds);
      outage(redis);
    }
  }

  private static List<ApiKey> keys() {
    List<ApiKey> keys = new ArrayList<>();
    for (String id : IDS) {
      keys.add(ApiKey.builder("AIzaSyBENCH-" + id + "-0123456789abcdef").id(id).build());
    }
    return keys;
  }

  private static RequestContext only(String id) {
    RequestContext ctx = FLASH;
    for (String other : IDS) if (!other.equals(id)) ctx = ctx.excluding(other);
    return ctx;
  }

  private static KeyState state(GeminiKeyRotator r, String id) {
    return r.snapshot(id).orElseThrow().state();
  }

  // ---------------------------------------------------------------------------------------------
  // Propagation between two rotators

  private static void propagation(RedisServer redis, int rounds) throws Exception {
    try (RedisKeyStateStore storeA = RedisKeyStateStore.open(redis.uri("/0"));
        RedisKeyStateStore storeB = RedisKeyStateStore.open(redis.uri("/0"));
        GeminiKeyRotator a = GeminiKeyRotator.builder().keys(keys()).store(storeA).build();
        GeminiKeyRotator b = GeminiKeyRotator.builder().keys(keys()).store(storeB).build()) {
      String[] kinds = {"disable", "enable", "429 cooldown", "reset"};
      long[][] samples = new long[kinds.length][rounds];
      // warm-up: class loading, JIT, subscriptions live; not measured
      for (int i = 0; i < 200; i++) round(a, b, null, 0);
      for (int i = 0; i < rounds; i++) round(a, b, samples, i);
      System.out.println();
      System.out.println("Propagation A -> B (one Redis, two stores), microseconds:");
      System.out.printf(Locale.ROOT, "%-14s %8s %8s %8s %8s %8s %8s%n", "change", "n", "p50",
          "p90", "p99", "p99.9", "max");
      long[] all = new long[kinds.length * rounds];
      for (int k = 0; k < kinds.length; k++) {
        System.arraycopy(samples[k], 0, all, k * rounds, rounds);
        printRow(kinds[k], samples[k]);
      }
      printRow("all", all);
    }
  }

  /** One change of each kind on A, each timed until B shows it. */
  private static void round(GeminiKeyRotator a, GeminiKeyRotator b, long[][] samples, int i) {
    time(samples, 0, i, () -> a.disable("c"), () -> state(b, "c") == KeyState.DISABLED);
    time(samples, 1, i, () -> a.enable("c"), () -> state(b, "c") == KeyState.HEALTHY);
    time(samples, 2, i, () -> a.acquire(only("a"))
            .complete(Outcome.rateLimited(Duration.ofSeconds(60), QuotaScope.PER_MINUTE)),
        () -> state(b, "a") == KeyState.RATE_LIMITED);
    time(samples, 3, i, () -> a.reset("a"), () -> state(b, "a") == KeyState.HEALTHY);
  }

  private static void time(long[][] samples, int kind, int i, Runnable change,
      BooleanSupplier seen) {
    long start = System.nanoTime();
    change.run();
    long deadline = start + Duration.ofSeconds(30).toNanos();
    while (!seen.getAsBoolean()) {
      if (System.nanoTime() - deadline > 0) {
        throw new IllegalStateException("change " + kind + " not seen by B within 30 s");
      }
      LockSupport.parkNanos(20_000);
    }
    if (samples != null) samples[kind][i] = System.nanoTime() - start;
  }

  private static void printRow(String name, long[] nanos) {
    long[] s = nanos.clone();
    Arrays.sort(s);
    System.out.printf(Locale.ROOT, "%-14s %8d %8.0f %8.0f %8.0f %8.0f %8.0f%n", name, s.length,
        pct(s, 50) / 1e3, pct(s, 90) / 1e3, pct(s, 99) / 1e3, pct(s, 99.9) / 1e3,
        s[s.length - 1] / 1e3);
  }

  private static long pct(long[] sorted, double p) {
    int i = (int) Math.ceil(p / 100 * sorted.length) - 1;
    return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
  }

  // ---------------------------------------------------------------------------------------------
  // Acquire latency across a Redis restart

  private static void outage(RedisServer redis) throws Exception {
    String uri = redis.uri("/1?retry=50ms&timeout=500ms");
    try (RedisKeyStateStore storeA = RedisKeyStateStore.open(uri);
        RedisKeyStateStore storeB = RedisKeyStateStore.open(uri);
        GeminiKeyRotator a = GeminiKeyRotator.builder().keys(keys()).store(storeA).build();
        GeminiKeyRotator b = GeminiKeyRotator.builder().keys(keys()).store(storeB).build()) {
      AtomicReference<Histogram> phase = new AtomicReference<>(new Histogram("warm-up"));
      AtomicBoolean stop = new AtomicBoolean();
      AtomicReference<Throwable> failure = new AtomicReference<>();
      Thread traffic = new Thread(() -> {
        try {
          for (long i = 0; !stop.get(); i++) {
            GeminiKeyRotator r = (i & 1) == 0 ? a : b;
            Histogram h = phase.get();
            long start = System.nanoTime();
            KeyLease lease = r.acquire(FLASH);
            lease.complete(i % 10 == 0 ? Outcome.upstreamError(500, "INTERNAL")
                : Outcome.success());
            h.record(System.nanoTime() - start);
          }
        } catch (Throwable t) {
          failure.set(t);
        }
      }, "traffic");
      traffic.start();
      sleep(2_000);
      List<Histogram> phases = new ArrayList<>();
      Histogram up = new Histogram("Redis up");
      phases.add(up);
      phase.set(up);
      sleep(3_000);

      Histogram down = new Histogram("Redis killed");
      phases.add(down);
      phase.set(down);
      long killedAt = System.nanoTime();
      redis.kill();
      await(() -> !storeA.isAvailable() && !storeB.isAvailable());
      long noticed = System.nanoTime() - killedAt;
      // a transition while Redis is down: queued, written back when it returns
      a.disable("d");
      sleep(2_000);

      Histogram back = new Histogram("Redis restarted");
      phases.add(back);
      phase.set(back);
      long restartedAt = System.nanoTime();
      redis.start();
      await(() -> storeA.isAvailable() && storeB.isAvailable()
          && state(b, "d") == KeyState.DISABLED);
      long reconciled = System.nanoTime() - restartedAt;
      sleep(2_000);
      stop.set(true);
      traffic.join(30_000);
      if (failure.get() != null) throw new IllegalStateException("traffic failed", failure.get());

      System.out.println();
      System.out.printf(Locale.ROOT, "Outage: stores noticed Redis gone after %.0f ms; after the"
          + " restart both were available and B had A's outage-time change after %.0f ms%n",
          noticed / 1e6, reconciled / 1e6);
      System.out.println("acquire + complete latency by phase (one thread, A and B in turn),"
          + " nanoseconds (bucket upper bounds, about 6% wide; max exact):");
      System.out.printf(Locale.ROOT, "%-16s %10s %8s %8s %8s %8s %11s %9s%n", "phase", "calls",
          "p50", "p99", "p99.9", "p99.99", "max", "calls>1ms");
      for (Histogram h : phases) h.print();
    }
  }

  private static void await(BooleanSupplier condition) {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() - deadline > 0) throw new IllegalStateException("timed out");
      sleep(1);
    }
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /**
   * Latencies in log-linear buckets: 16 per power of two (at most about 6% wide), plus the exact
   * maximum. Written by the traffic thread only; read after it stopped.
   */
  static final class Histogram {
    private final String name;
    private final long[] counts = new long[64 * 16];
    private long total;
    private long max;
    private long overOneMilli;

    Histogram(String name) {
      this.name = name;
    }

    void record(long nanos) {
      long v = Math.max(1, nanos);
      int log = 63 - Long.numberOfLeadingZeros(v);
      int sub = log < 4 ? (int) (v & 15) : (int) ((v >>> (log - 4)) & 15);
      counts[log * 16 + sub]++;
      total++;
      if (v > max) max = v;
      if (v > 1_000_000) overOneMilli++;
    }

    /** The upper bound of the bucket holding the p-th percentile. */
    long percentile(double p) {
      long rank = (long) Math.ceil(p / 100 * total);
      long seen = 0;
      for (int i = 0; i < counts.length; i++) {
        seen += counts[i];
        if (seen >= rank && counts[i] > 0) {
          int log = i / 16;
          int sub = i % 16;
          long upper = log < 4 ? sub + 1 : ((16L + sub + 1) << (log - 4));
          return Math.min(upper, max);
        }
      }
      return max;
    }

    void print() {
      System.out.printf(Locale.ROOT, "%-16s %10d %8d %8d %8d %8d %11d %9d%n", name, total,
          percentile(50), percentile(99), percentile(99.9), percentile(99.99), max, overOneMilli);
    }
  }
}
