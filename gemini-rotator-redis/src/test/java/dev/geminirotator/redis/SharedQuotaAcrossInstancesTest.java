package dev.geminirotator.redis;

import static dev.geminirotator.redis.Pools.FLASH;
import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyLease;
import dev.geminirotator.api.NoKeyAvailableException;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.FakeClock;
import dev.geminirotator.testsupport.redis.RedisServerExtension;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Per-key quotas held across three rotators, each with its own store, on one real Redis. */
class SharedQuotaAcrossInstancesTest {

  @RegisterExtension
  static final RedisServerExtension redis = new RedisServerExtension();

  private final List<AutoCloseable> open = new ArrayList<>();

  @BeforeEach
  void emptyRedis() {
    redis.client().flushAll();
  }

  @AfterEach
  void close() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) open.get(i).close();
  }

  private GeminiKeyRotator instance(FakeClock clock, ApiKey key) {
    RedisKeyStateStore store = RedisKeyStateStore.open(RedisStoreOptions.builder()
        .host("127.0.0.1").port(redis.port()).clock(clock).build());
    open.add(store);
    GeminiKeyRotator rotator = GeminiKeyRotator.builder().clock(clock).store(store).key(key)
        .build();
    open.add(rotator);
    return rotator;
  }

  /**
   * Sends requests through a rotator from one thread until it is told the quota is spent for the
   * window, and returns how many it admitted. The signal is the refusal itself: out of permits
   * while its next block is being claimed, the rotator says a key frees in a millisecond; once
   * Redis says the limit is reached, it names the end of the window.
   */
  private static long hammer(GeminiKeyRotator rotator, FakeClock clock) {
    long[] admitted = {0};
    Eventually.untilAsserted("the rotator told the quota is spent", () -> {
      while (true) {
        try {
          KeyLease lease = rotator.acquire(FLASH);
          lease.complete(Outcome.success());
          admitted[0]++;
        } catch (NoKeyAvailableException e) {
          Instant inAMillisecond = clock.instant().plusMillis(1);
          // spent, or a pause: its next block is on the way
          assertThat(e.earliestAvailable()).as("when a key frees up (%d admitted)", admitted[0])
              .hasValueSatisfying(t -> assertThat(t).isAfter(inAMillisecond));
          return;
        }
      }
    });
    return admitted[0];
  }

  @Test
  void threeRotatorsOnOneRedisHoldAKeysMinuteQuotaWithinFivePercent() throws Exception {
    FakeClock clock = FakeClock.at(Instant.parse("2026-11-26T12:00:10Z"));
    ApiKey key = Pools.key("a").toBuilder().requestsPerMinute(3_000).build();
    List<GeminiKeyRotator> instances =
        List.of(instance(clock, key), instance(clock, key), instance(clock, key));
    long callsBefore = redis.commandCalls();
    ExecutorService threads = Executors.newFixedThreadPool(3);
    List<Future<Long>> results = new ArrayList<>();
    for (GeminiKeyRotator rotator : instances) {
      results.add(threads.submit(() -> hammer(rotator, clock)));
    }
    long total = 0;
    for (Future<Long> f : results) {
      long admitted = f.get();
      assertThat(admitted).as("each instance served some").isPositive();
      total += admitted;
    }
    threads.shutdown();
    long calls = redis.commandCalls() - callsBefore;

    assertThat(total).as("admitted by all three together").isBetween(2_850L, 3_150L);
    String counter = "gemini_rotator:counter:quota:a:rpm:1m:20261126T120000Z";
    assertThat(Long.parseLong(redis.client().get(counter)))
        .as("claimed in Redis").isGreaterThanOrEqualTo(3_000L);
    assertThat(redis.client().pttl(counter)).as("expires after its minute").isBetween(1L, 61_000L);
    // Blocks of permits, not one round trip per request (the writer's other traffic included).
    // About 190 claims of up to 4 commands each: 700-760 here, so total / 4 flaked on a busy
    // machine (755 of 3,001); one command per request would still be 3,000+.
    assertThat(calls).as("Redis commands for %d requests", total).isLessThan(total / 2);
  }

  @Test
  void aLoneUserOfASmallQuotaIsNeverRefusedTheFirstRequestOfAMinute() {
    FakeClock clock = FakeClock.at(Instant.parse("2026-11-26T12:00:00Z"));
    ApiKey key = Pools.key("a").toBuilder().requestsPerMinute(10).build();
    GeminiKeyRotator rotator = instance(clock, key);
    for (int minute = 0; minute < 5; minute++) {
      // one request a minute, far under the quota, while the minute's first block is unclaimed
      KeyLease lease = rotator.acquire(FLASH);
      lease.complete(Outcome.success());
      // the credit is charged with the claim: the first block (1) plus the request on credit
      String counter = "gemini_rotator:counter:quota:a:rpm:1m:20261126T120" + minute + "00Z";
      Eventually.until("the claim reaches Redis: " + counter,
          () -> redis.client().get(counter) != null);
      assertThat(redis.client().get(counter)).as(counter).isEqualTo("2");
      clock.advance(Duration.ofMinutes(1));
    }
  }

  @Test
  void aDayQuotaCountsFromMidnightInLosAngelesAndExpires() {
    // 07:30 UTC is 23:30 the day before in Los Angeles
    FakeClock clock = FakeClock.at(Instant.parse("2026-11-26T07:30:00Z"));
    ApiKey key = Pools.key("a").toBuilder().requestsPerDay(5).build();
    GeminiKeyRotator one = instance(clock, key);
    GeminiKeyRotator two = instance(clock, key);
    // The documented bound: one request per instance over the limit, admitted on credit while
    // its first claim is in flight. Here one spends the day alone (its credit never exceeds what
    // Redis said was left), then two admits exactly one on credit before Redis says none is left.
    int instances = 2;
    long admitted = hammer(one, clock) + hammer(two, clock);
    assertThat(admitted).isEqualTo(5 + instances - 1);
    String day = "gemini_rotator:counter:quota:a:rpd:1d:20261125T080000Z";
    assertThat(redis.client().get(day)).isNotNull();
    assertThat(redis.client().pttl(day)).as("expires after 00:00 in Los Angeles, +1 s")
        .isBetween(1L, Duration.ofMinutes(30).plusSeconds(1).toMillis());

    clock.set(Instant.parse("2026-11-26T08:00:00Z")); // midnight in Los Angeles
    assertThat(hammer(one, clock) + hammer(two, clock)).isEqualTo(5 + instances - 1);
    assertThat(redis.client().exists("gemini_rotator:counter:quota:a:rpd:1d:20261126T080000Z"))
        .isTrue();
  }
}
