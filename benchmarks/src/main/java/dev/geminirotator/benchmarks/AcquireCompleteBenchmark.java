package dev.geminirotator.benchmarks;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyLease;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.core.rotation.Strategy;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
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
 * The request path of the rotator: lease a key for a model, complete it with success. Run with
 * {@code -t 1} and {@code -t 2} and {@code -prof gc}; see README "Benchmarks".
 *
 * <p>Targets (issue: core): at most 150 ns/op single-threaded at every pool size, flat from 10 to
 * 100,000 keys, and at most 64 B allocated per op.
 *
 * <p>{@code unusablePercent} disables that share of the keys (a seeded random choice, the same in
 * every run) before measuring, so that the strategies' way past keys that cannot serve is measured
 * too (issue 14 item 8: skipping must stay fair and cheap).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@State(Scope.Benchmark)
public class AcquireCompleteBenchmark {

  @Param({"ROUND_ROBIN", "WEIGHTED", "POWER_OF_TWO"})
  public Strategy strategy;

  @Param({"10", "1000", "100000"})
  public int keys;

  @Param({"0", "90"})
  public int unusablePercent;

  private GeminiKeyRotator rotator;
  private final RequestContext context = RequestContext.forModel("gemini-2.5-flash");

  @Setup(Level.Trial)
  public void setUp() {
    List<ApiKey> pool = new ArrayList<>(keys);
    for (int i = 0; i < keys; i++) {
      pool.add(ApiKey.builder(String.format("AIzaSyBENCH%028d", i)).id("k" + i)
          .weight(1 + i % 4).project("p" + (i % 50)).build());
    }
    rotator = GeminiKeyRotator.builder().keys(pool).strategy(strategy).build();
    List<ApiKey> shuffled = new ArrayList<>(pool);
    Collections.shuffle(shuffled, new Random(14));
    int unusable = (int) ((long) keys * unusablePercent / 100);
    for (int i = 0; i < unusable; i++) rotator.disable(shuffled.get(i).id());
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    rotator.close();
  }

  @Benchmark
  public KeyLease acquireAndComplete() {
    KeyLease lease = rotator.acquire(context);
    lease.complete(Outcome.success());
    return lease;
  }
}
