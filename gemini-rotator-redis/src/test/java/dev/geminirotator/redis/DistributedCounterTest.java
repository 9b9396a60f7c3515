package dev.geminirotator.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.testsupport.redis.RedisServerExtension;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class DistributedCounterTest {

  @RegisterExtension
  static final RedisServerExtension redis = new RedisServerExtension();

  private final List<RedisKeyStateStore> stores = new ArrayList<>();

  @AfterEach
  void close() {
    stores.forEach(RedisKeyStateStore::close);
  }

  private RedisKeyStateStore store(Clock clock) {
    RedisKeyStateStore store = RedisKeyStateStore.open(RedisStoreOptions.builder()
        .host("127.0.0.1").port(redis.port()).clock(clock).build());
    stores.add(store);
    return store;
  }

  @Test
  void threeInstancesHammeringOneWindowHoldTheGlobalLimit() throws Exception {
    // a fixed clock keeps the whole run in one window, whenever it runs
    Clock clock = Clock.fixed(Instant.parse("2026-11-26T12:00:30Z"), ZoneOffset.UTC);
    List<RedisKeyStateStore> instances = List.of(store(clock), store(clock), store(clock));
    int limit = 2_000;
    AtomicLong admitted = new AtomicLong();
    AtomicLong refused = new AtomicLong();
    ExecutorService pool = Executors.newFixedThreadPool(12);
    List<Future<?>> done = new ArrayList<>();
    for (int t = 0; t < 12; t++) {
      RedisKeyStateStore store = instances.get(t % 3);
      done.add(pool.submit(() -> {
        for (int i = 0; i < 250; i++) {
          long count = StoreCalls.countNow(store, clock, "client:team-a", Duration.ofMinutes(1));
          (count <= limit ? admitted : refused).incrementAndGet();
        }
      }));
    }
    for (Future<?> f : done) f.get();
    pool.shutdown();
    assertThat(admitted.get()).isBetween((long) (limit * 0.95), (long) limit);
    assertThat(admitted.get() + refused.get()).isEqualTo(3_000);
    String key = "gemini_rotator:counter:client:team-a:1m:20261126T120000Z";
    assertThat(redis.client().get(key)).isEqualTo("3000");
    assertThat(redis.client().pttl(key)).as("expires after its window").isBetween(1L, 31_000L);
  }

  @Test
  void aNewWindowStartsFromOne() {
    AtomicLong millis = new AtomicLong(Instant.parse("2026-11-26T12:00:59.900Z").toEpochMilli());
    Clock clock = new Clock() {
      @Override
      public java.time.ZoneId getZone() {
        return ZoneOffset.UTC;
      }

      @Override
      public Clock withZone(java.time.ZoneId zone) {
        return this;
      }

      @Override
      public Instant instant() {
        return Instant.ofEpochMilli(millis.get());
      }
    };
    RedisKeyStateStore store = store(clock);
    assertThat(StoreCalls.countNow(store, clock, "client:b", Duration.ofMinutes(1))).isEqualTo(1);
    assertThat(StoreCalls.countNow(store, clock, "client:b", Duration.ofMinutes(1))).isEqualTo(2);
    millis.addAndGet(200);
    assertThat(StoreCalls.countNow(store, clock, "client:b", Duration.ofMinutes(1))).isEqualTo(1);
    assertThat(StoreCalls.countNow(store, clock, "client:c", Duration.ofSeconds(10))).isEqualTo(1);
  }
}
