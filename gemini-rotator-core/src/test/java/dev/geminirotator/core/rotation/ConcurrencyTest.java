package dev.geminirotator.core.rotation;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyLease;
import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.QuotaScope;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.api.RotatorStats;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.IntStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class ConcurrencyTest {

  private static final int THREADS = 4;
  private static final int PAIRS_PER_THREAD = 250_000;

  @ParameterizedTest
  @EnumSource(Strategy.class)
  void fourThreadsOfAcquireAndCompleteLoseAndDoubleNothing(Strategy strategy) throws Exception {
    GeminiKeyRotator rotator = GeminiKeyRotator.builder()
        .keys(IntStream.range(0, 16)
            .mapToObj(i -> ApiKey.builder("secret-" + i + "-0123456789").id("k" + i).build())
            .toList())
        .strategy(strategy)
        .build();
    RequestContext ctx = RequestContext.forModel("gemini-2.5-flash");
    AtomicLong doubleCompletions = new AtomicLong();
    CountDownLatch start = new CountDownLatch(1);
    ExecutorService pool = Executors.newFixedThreadPool(THREADS);
    List<Future<?>> futures = new ArrayList<>();
    for (int t = 0; t < THREADS; t++) {
      futures.add(pool.submit(() -> {
        start.await();
        for (int i = 0; i < PAIRS_PER_THREAD; i++) {
          KeyLease lease = rotator.acquire(ctx);
          Outcome outcome = (i % 5 == 4) ? Outcome.clientError(400) : Outcome.success();
          if (!lease.complete(outcome)) doubleCompletions.incrementAndGet();
          if (lease.complete(Outcome.success())) doubleCompletions.incrementAndGet();
        }
        return null;
      }));
    }
    start.countDown();
    for (Future<?> f : futures) f.get(2, TimeUnit.MINUTES);
    pool.shutdown();

    long total = (long) THREADS * PAIRS_PER_THREAD;
    RotatorStats stats = rotator.stats();
    assertThat(doubleCompletions).hasValue(0);
    assertThat(stats.acquisitions()).isEqualTo(total);
    assertThat(stats.outcomes().get(Outcome.Kind.SUCCESS)).isEqualTo(total * 4 / 5);
    assertThat(stats.outcomes().get(Outcome.Kind.CLIENT_ERROR)).isEqualTo(total / 5);
    List<KeySnapshot> keys = rotator.snapshot();
    assertThat(keys).allSatisfy(k -> assertThat(k.inFlight()).isZero());
    assertThat(keys.stream().mapToLong(KeySnapshot::successes).sum()).isEqualTo(total * 4 / 5);
  }

  @ParameterizedTest
  @EnumSource(Strategy.class)
  void racingTransitionsLeaveEveryKeyInAConsistentState(Strategy strategy) throws Exception {
    GeminiKeyRotator rotator = GeminiKeyRotator.builder()
        .keys(IntStream.range(0, 8)
            .mapToObj(i -> ApiKey.builder("secret-" + i + "-0123456789").id("k" + i).build())
            .toList())
        .strategy(strategy)
        .build();
    RequestContext ctx = RequestContext.forModel("gemini-2.5-flash");
    ExecutorService pool = Executors.newFixedThreadPool(THREADS);
    List<Future<?>> futures = new ArrayList<>();
    for (int t = 0; t < THREADS; t++) {
      int seed = t;
      futures.add(pool.submit(() -> {
        for (int i = 0; i < 20_000; i++) {
          KeyLease lease;
          try {
            lease = rotator.acquire(ctx);
          } catch (dev.geminirotator.api.NoKeyAvailableException e) {
            rotator.reset("k" + (i % 8));
            continue;
          }
          Outcome outcome = switch ((i + seed) % 7) {
            case 0 -> Outcome.upstreamError(500, "INTERNAL");
            case 1 -> Outcome.rateLimited(Duration.ofMillis(1), QuotaScope.PER_MINUTE);
            case 2 -> Outcome.transportError("reset");
            default -> Outcome.success();
          };
          lease.complete(outcome);
          if (i % 1_000 == 0) rotator.disable("k" + (i % 8));
          if (i % 1_000 == 500) rotator.enable("k" + ((i - 500) % 8));
        }
        return null;
      }));
    }
    for (Future<?> f : futures) f.get(2, TimeUnit.MINUTES);
    pool.shutdown();
    assertThat(rotator.snapshot()).allSatisfy(k -> {
      assertThat(k.inFlight()).isZero();
      assertThat(k.health()).isBetween(0.0, 1.0);
    });
    RotatorStats stats = rotator.stats();
    long completed = stats.outcomes().values().stream().mapToLong(Long::longValue).sum();
    assertThat(completed).isEqualTo(stats.acquisitions());
  }
}
