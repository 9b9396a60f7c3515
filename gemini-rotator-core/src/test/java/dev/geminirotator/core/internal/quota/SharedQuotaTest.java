package dev.geminirotator.core.internal.quota;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.Subscription;
import dev.geminirotator.api.spi.KeyStateStore;
import dev.geminirotator.api.spi.WindowCounters;
import dev.geminirotator.api.spi.StateChange;
import dev.geminirotator.api.spi.StoreSnapshot;
import dev.geminirotator.core.store.MemoryKeyStateStore;
import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.FakeClock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Queue;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

class SharedQuotaTest {

  private final FakeClock clock = FakeClock.at(Instant.parse("2026-11-01T07:00:00Z")); // minute-aligned
  private final MemoryKeyStateStore memory = new MemoryKeyStateStore(clock);

  /** Quotas whose claims run at once on the calling thread: deterministic. */
  private SharedQuotas quotas(KeyStateStore store) {
    return SharedQuotas.builder(store).clock(clock).executor(Runnable::run).build();
  }

  /**
   * Acquires from {@code quota} until {@code total} permits are admitted in all, {@code admitted}
   * of them already; between refusals it waits for the background claims to come back.
   */
  private static void acquireUntilAdmitted(SharedQuota quota, long admitted, long total) {
    long[] count = {admitted};
    Eventually.until(total + " permits admitted as the background claims come back", () -> {
      while (count[0] < total && quota.tryAcquire()) count[0]++;
      return count[0] == total;
    });
  }

  @Test
  void threeInstancesOnOneStoreAdmitTheLimitTogether() {
    CountingStore store = new CountingStore(memory);
    List<SharedQuota> instances = List.of(quotas(store).perMinute("quota:k:rpm", 3_000),
        quotas(store).perMinute("quota:k:rpm", 3_000), quotas(store).perMinute("quota:k:rpm", 3_000));
    long[] admitted = new long[3];
    for (int i = 0; i < 9_000; i++) {
      if (instances.get(i % 3).tryAcquire()) admitted[i % 3]++;
    }
    long total = admitted[0] + admitted[1] + admitted[2];
    assertThat(total).isBetween(2_850L, 3_150L);
    for (long n : admitted) assertThat(n).isGreaterThan(900);
    // the store saw blocks, not requests
    assertThat(store.calls.get()).isLessThan(9_000 / 10);
    assertThat(instances).allSatisfy(q -> assertThat(q.spent()).isTrue());
  }

  @Test
  void unevenDemandStillSharesOneLimit() {
    SharedQuota busy = quotas(memory).perMinute("quota:k:rpm", 1_000);
    SharedQuota quiet = quotas(memory).perMinute("quota:k:rpm", 1_000);
    long admitted = 0;
    for (int i = 0; i < 100; i++) if (quiet.tryAcquire()) admitted++;
    for (int i = 0; i < 5_000; i++) if (busy.tryAcquire()) admitted++;
    // what quiet claimed and left unused is lost to busy: a block, a fraction of the limit
    assertThat(admitted).isBetween(950L, 1_000L);
  }

  @Test
  void aClaimInFlightNeverMakesARequestWaitAndItsCreditIsCharged() {
    Queue<Runnable> inFlight = new ArrayDeque<>();
    SharedQuotas slow = SharedQuotas.builder(memory).clock(clock).executor(inFlight::add).build();
    SharedQuota quota = slow.perMinute("quota:k:rpm", 640);
    // nothing is claimed yet, and the first requests of the window go through on credit
    int first = 0;
    while (quota.tryAcquire()) first++;
    assertThat(first).isEqualTo(10); // one block of 640/64
    assertThat(quota.nanosToWait()).isEqualTo(Duration.ofMillis(1).toNanos());
    assertThat(inFlight).isNotEmpty();
    inFlight.forEach(Runnable::run);
    inFlight.clear();
    // the claim took the credit spent plus the next block
    assertThat(memory.counters().orElseThrow().addAndGet("quota:k:rpm", clock.instant(),
        Duration.ofMinutes(1), 1)).isEqualTo(21);
    assertThat(quota.tryAcquire()).isTrue();
  }

  @Test
  void aNewMinuteStartsAFreshWindow() {
    SharedQuota quota = quotas(memory).perMinute("quota:k:rpm", 5);
    int admitted = 0;
    for (int i = 0; i < 20; i++) if (quota.tryAcquire()) admitted++;
    assertThat(admitted).isEqualTo(5);
    assertThat(quota.nanosToWait()).isEqualTo(Duration.ofMinutes(1).toNanos());
    clock.advance(Duration.ofSeconds(59));
    assertThat(quota.tryAcquire()).isFalse();
    assertThat(quota.nanosToWait()).isEqualTo(Duration.ofSeconds(1).toNanos());
    clock.advance(Duration.ofSeconds(1));
    assertThat(quota.tryAcquire()).isTrue();
  }

  @Test
  void aDayEndsAtMidnightInLosAngelesNotInUtc() {
    // 23:30 in Los Angeles (UTC-8 in November) on the 25th
    clock.set(Instant.parse("2026-11-26T07:30:00Z"));
    SharedQuota quota = quotas(memory).perDay("quota:k:rpd", 3);
    while (quota.tryAcquire()) {
      // spend the day
    }
    assertThat(quota.nanosToWait()).isEqualTo(Duration.ofMinutes(30).toNanos());
    clock.set(Instant.parse("2026-11-26T08:00:00Z")); // midnight in Los Angeles
    assertThat(quota.tryAcquire()).isTrue();

    // midnight UTC is mid-afternoon in Los Angeles: the day goes on
    while (quota.tryAcquire()) {
      // spend it again
    }
    clock.set(Instant.parse("2026-11-27T00:10:00Z"));
    assertThat(quota.tryAcquire()).isFalse();
    assertThat(quota.nanosToWait()).isEqualTo(Duration.ofHours(7).plusMinutes(50).toNanos());
  }

  @Test
  void theDayDaylightSavingTimeEndsLastsTwentyFiveHours() {
    clock.set(Instant.parse("2026-11-01T07:00:00Z")); // 00:00 PDT, the day clocks go back
    SharedQuota quota = quotas(memory).perDay("quota:k:rpd", 1);
    assertThat(quota.tryAcquire()).isTrue();
    assertThat(quota.nanosToWait()).isEqualTo(Duration.ofHours(25).toNanos());
  }

  @Test
  void anUnavailableStoreFallsBackToALimitPerInstance() {
    KeyStateStore down = new CountingStore(memory) {
      @Override
      public boolean isAvailable() {
        return false;
      }
    };
    SharedQuotas quotas = quotas(down);
    SharedQuota a = quotas.perMinute("quota:k:rpm", 100);
    SharedQuota b = quotas(down).perMinute("quota:k:rpm", 100);
    long admitted = 0;
    for (int i = 0; i < 1_000; i++) {
      if (a.tryAcquire()) admitted++;
      if (b.tryAcquire()) admitted++;
    }
    assertThat(admitted).as("each instance enforces the limit on its own").isEqualTo(200);
    assertThat(quotas.shared()).isFalse();
    assertThat(((CountingStore) down).calls.get()).isZero();
  }

  @Test
  void anOutageMidWindowGoesOnFromWhatTheStoreLastSaidWasLeft() {
    AtomicBoolean up = new AtomicBoolean(true);
    KeyStateStore flaky = new CountingStore(memory) {
      @Override
      public boolean isAvailable() {
        return up.get();
      }
    };
    SharedQuotas quotas = quotas(flaky);
    SharedQuota quota = quotas.perMinute("quota:k:rpm", 640);
    int admitted = 0;
    while (admitted < 600 && quota.tryAcquire()) admitted++;
    assertThat(admitted).isEqualTo(600);
    up.set(false);
    for (int i = 0; i < 2_000; i++) if (quota.tryAcquire()) admitted++;
    assertThat(quotas.shared()).isFalse();
    assertThat(admitted).as("not 600 plus a fresh local limit").isEqualTo(640);
  }

  @Test
  void whatWasAdmittedDuringAnOutageStillCountsWhenTheStoreReturnsInTheSameWindow() {
    AtomicBoolean up = new AtomicBoolean(true);
    KeyStateStore flaky = new CountingStore(memory) {
      @Override
      public boolean isAvailable() {
        return up.get();
      }
    };
    SharedQuota quota = quotas(flaky).perMinute("quota:k:rpm", 640);
    int admitted = 0;
    while (admitted < 300 && quota.tryAcquire()) admitted++;
    up.set(false);
    for (int i = 0; i < 200; i++) if (quota.tryAcquire()) admitted++;
    assertThat(admitted).isEqualTo(500);
    up.set(true); // back within the same minute
    for (int i = 0; i < 2_000; i++) if (quota.tryAcquire()) admitted++;
    assertThat(admitted).as("one instance alone never exceeds the limit").isEqualTo(640);
    // and the store now holds what this instance admitted while it was away
    assertThat(memory.counters().orElseThrow()
        .addAndGet("quota:k:rpm", clock.instant(), Duration.ofMinutes(1), 1))
        .isGreaterThan(640);
  }

  @Test
  void aStoreWithoutSharedCountersLimitsEachInstanceLocally() {
    KeyStateStore plain = new CountingStore(memory) {
      @Override
      public Optional<WindowCounters> counters() {
        return Optional.empty();
      }
    };
    SharedQuota quota = quotas(plain).perMinute("quota:k:rpm", 50);
    int admitted = 0;
    for (int i = 0; i < 500; i++) if (quota.tryAcquire()) admitted++;
    assertThat(admitted).isEqualTo(50);
  }

  @Test
  void aFailingStoreNeverFailsARequest() {
    AtomicLong failures = new AtomicLong();
    KeyStateStore broken = new CountingStore(memory) {
      @Override
      long incrementWindow(String name, Instant start, Duration window, long delta) {
        failures.incrementAndGet();
        throw new IllegalStateException("connection reset");
      }
    };
    SharedQuotas quotas = quotas(broken);
    SharedQuota quota = quotas.perMinute("quota:k:rpm", 64);
    int admitted = 0;
    for (int i = 0; i < 200; i++) if (quota.tryAcquire()) admitted++;
    assertThat(admitted).isEqualTo(64);
    assertThat(failures.get()).isPositive();
    assertThat(quotas.shared()).isFalse();
  }

  @Test
  void theBackgroundThreadClaimsWithoutTheRequestThread() {
    SharedQuotas quotas = SharedQuotas.builder(memory).clock(clock).build();
    try {
      SharedQuota quota = quotas.perMinute("quota:k:rpm", 200);
      acquireUntilAdmitted(quota, 0, 200);
      // The barrier: the background claim after the last permit came back and said the limit
      // is reached (the wait is then to the window's end, not the millisecond of a claim).
      Eventually.until("the store says the limit is reached",
          () -> quota.nanosToWait() > Duration.ofMillis(1).toNanos());
      assertThat(quota.tryAcquire()).isFalse();
    } finally {
      quotas.close();
    }
  }

  @Test
  void anErrorFromTheStoreDoesNotStopTheBackgroundClaimsForGood() {
    AtomicLong errors = new AtomicLong();
    KeyStateStore once = new CountingStore(memory) {
      @Override
      long incrementWindow(String name, Instant start, Duration window, long delta) {
        if (errors.getAndIncrement() == 0) throw new NoClassDefFoundError("a broken store");
        return super.incrementWindow(name, start, window, delta);
      }
    };
    SharedQuotas quotas = SharedQuotas.builder(once).clock(clock).build();
    try {
      SharedQuota quota = quotas.perMinute("quota:k:rpm", 200);
      // the first request asks for the first claim, which fails with an Error
      assertThat(quota.tryAcquire()).as("on credit").isTrue();
      // the claim is retried on its own, with no request asking for it again
      Eventually.until("the failed claim is retried", () -> errors.get() >= 2);
      assertThat(errors.get()).as("store calls").isEqualTo(2);
      acquireUntilAdmitted(quota, 1, 200);
    } finally {
      quotas.close();
    }
  }

  @Test
  void aStoreThatKeepsThrowingErrorsIsRetriedWithBackoffNotInALoop() throws Exception {
    CountingStore broken = new CountingStore(memory) {
      @Override
      long incrementWindow(String name, Instant start, Duration window, long delta) {
        calls.incrementAndGet();
        throw new AssertionError("a broken store");
      }
    };
    SharedQuotas quotas = SharedQuotas.builder(broken).clock(clock).build();
    try {
      SharedQuota quota = quotas.perMinute("quota:k:rpm", 200);
      // requests keep asking for a block for 400 ms
      long end = System.nanoTime() + Duration.ofMillis(400).toNanos();
      while (System.nanoTime() < end) {
        quota.tryAcquire();
        Thread.sleep(0, 100_000);
      }
      // waits of 10, 20, 40, 80, 160 ms...: about 6 calls in 400 ms, not one per request
      assertThat(broken.calls.get()).isBetween(2L, 10L);
    } finally {
      quotas.close();
    }
  }

  @Test
  void aCountTheStoreMadeJustBeforeGoingDownIsNotChargedTwice() {
    AtomicBoolean up = new AtomicBoolean(true);
    AtomicBoolean dropAfterFirstCount = new AtomicBoolean(true);
    KeyStateStore flaky = new CountingStore(memory) {
      @Override
      long incrementWindow(String name, Instant start, Duration window, long delta) {
        long total = super.incrementWindow(name, start, window, delta);
        if (dropAfterFirstCount.getAndSet(false)) up.set(false); // the connection drops after
        return total;
      }

      @Override
      public boolean isAvailable() {
        return up.get();
      }
    };
    SharedQuota quota = quotas(flaky).perMinute("quota:k:rpm", 640);
    assertThat(quota.tryAcquire()).isTrue();
    up.set(true);
    int admitted = 1;
    for (int i = 0; i < 2_000; i++) if (quota.tryAcquire()) admitted++;
    assertThat(admitted).as("the block counted before the drop is not charged again")
        .isEqualTo(640);
  }

  /** A store that counts the calls to its shared counter. */
  static class CountingStore implements KeyStateStore {
    final AtomicLong calls = new AtomicLong();
    private final MemoryKeyStateStore delegate;

    CountingStore(MemoryKeyStateStore delegate) {
      this.delegate = delegate;
    }

    /** What its {@link #counters()} call; tests override it to make the counter fail. */
    long incrementWindow(String name, Instant start, Duration window, long delta) {
      calls.incrementAndGet();
      return delegate.counters().orElseThrow().addAndGet(name, start, window, delta);
    }

    @Override
    public Optional<WindowCounters> counters() {
      return Optional.of(this::incrementWindow);
    }

    @Override
    public StoreSnapshot load() {
      return delegate.load();
    }

    @Override
    public StateChange apply(StateChange change) {
      return delegate.apply(change);
    }

    @Override
    public Subscription subscribe(Consumer<StateChange> listener) {
      return delegate.subscribe(listener);
    }


    @Override
    public boolean isAvailable() {
      return true;
    }

    @Override
    public String describe() {
      return "counting";
    }

    @Override
    public void close() {
    }
  }
}
