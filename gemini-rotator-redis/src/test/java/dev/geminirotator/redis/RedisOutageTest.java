package dev.geminirotator.redis;

import static dev.geminirotator.redis.Pools.FLASH;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.geminirotator.api.KeyLease;
import dev.geminirotator.api.KeyState;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.QuotaScope;
import dev.geminirotator.api.spi.StateChange;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.redis.RedisServer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.RedisClient;

/** Kills redis-server mid-run and brings it back on the same port, empty. */
class RedisOutageTest {

  private static final List<String> IDS = List.of("a", "b", "c", "d");
  private RedisServer server;
  private final List<AutoCloseable> open = new ArrayList<>();

  @BeforeEach
  void startRedis() {
    server = RedisServer.startOnFreePort();
  }

  @AfterEach
  void stop() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) open.get(i).close();
    server.close();
  }

  private RedisKeyStateStore store(String options) {
    RedisKeyStateStore store = RedisKeyStateStore.open(server.uri("/0?retry=50ms&timeout=500ms"
        + options));
    open.add(store);
    return store;
  }

  private GeminiKeyRotator rotator(RedisKeyStateStore store) {
    GeminiKeyRotator rotator = Pools.rotator(store, Pools.keys("a", "b", "c", "d"));
    open.add(rotator);
    return rotator;
  }

  @Test
  void requestsKeepFlowingWhileRedisIsDownAndStateReconcilesWhenItReturns() throws Exception {
    RedisKeyStateStore storeOne = store("");
    RedisKeyStateStore storeTwo = store("");
    GeminiKeyRotator one = rotator(storeOne);
    GeminiKeyRotator two = rotator(storeTwo);
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    new StoreMetrics(storeOne).bindTo(registry);
    one.acquire(Pools.only("a", IDS))
        .complete(Outcome.rateLimited(Duration.ofSeconds(60), QuotaScope.PER_MINUTE));
    Eventually.until("cooldown shared", () -> state(two, "a") == KeyState.RATE_LIMITED);
    assertThat(registry.get("gemini.rotator.store.available").gauge().value()).isEqualTo(1.0);

    // traffic on both instances for the whole outage, from another thread
    AtomicBoolean stop = new AtomicBoolean();
    AtomicLong served = new AtomicLong();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Thread traffic = new Thread(() -> {
      try {
        for (int i = 0; !stop.get(); i++) {
          GeminiKeyRotator r = i % 2 == 0 ? one : two;
          KeyLease lease = r.acquire(FLASH.excluding("b"));
          lease.complete(i % 10 == 0 ? Outcome.upstreamError(500, "INTERNAL") : Outcome.success());
          served.incrementAndGet();
          if (lease.key().id().equals("a")) throw new AssertionError("cooled key a was served");
        }
      } catch (Throwable t) {
        failure.set(t);
      }
    });
    traffic.start();

    server.kill();
    Eventually.until("outage noticed", () -> !storeOne.isAvailable() && !storeTwo.isAvailable());
    assertThat(registry.get("gemini.rotator.store.available").gauge().value()).isEqualTo(0.0);
    // The signal that the request path never waits on the store: 10,000 requests served while
    // Redis is down. How long the slowest one took is measured, not asserted: benchmarks/
    // PropagationBenchmark reports it.
    long before = served.get();
    Eventually.until("requests keep flowing while Redis is down",
        () -> served.get() > before + 10_000);
    // a transition made while Redis is down; the shared counters say they cannot count, so that
    // callers (SharedQuotas) count locally rather than take a local total for the shared one
    one.acquire(Pools.only("b", IDS)).complete(Outcome.keyRejected(400, "API_KEY_INVALID"));
    assertThatThrownBy(() -> StoreCalls.countNow(storeOne, "client:x", Duration.ofMinutes(1)))
        .isInstanceOf(IllegalStateException.class).hasMessageStartingWith("Redis store redis://");
    assertThat(state(two, "b")).isEqualTo(KeyState.HEALTHY);

    server.start();
    long restarted = served.get();
    Eventually.until("requests keep flowing while the stores reconnect",
        () -> served.get() > restarted + 10_000);
    Eventually.until("the transition made during the outage reaches the other instance",
        () -> state(two, "b") == KeyState.INVALID);
    Eventually.until("both stores available",
        () -> storeOne.isAvailable() && storeTwo.isAvailable());
    try (RedisClient redis = RedisClient.create(server.uri())) {
      Eventually.until("the status is in Redis", () ->
          "INVALID".equals(redis.hget("gemini_rotator:key:b:status", "state")));
      Eventually.until("the cooldown made before the outage is written back", () ->
          redis.exists("gemini_rotator:cooldown:key:a:gemini-2.5-flash"));
    }
    stop.set(true);
    traffic.join(10_000);
    assertThat(failure.get()).as("no request failed during the outage").isNull();
    assertThat(registry.get("gemini.rotator.store.available").gauge().value()).isEqualTo(1.0);
    assertThat(storeOne.outages()).as("one outage, reported once").isEqualTo(1);
    assertThat(storeTwo.outages()).isEqualTo(1);
    // a newcomer sees everything
    GeminiKeyRotator three = rotator(store(""));
    assertThat(state(three, "a")).isEqualTo(KeyState.RATE_LIMITED);
    assertThat(state(three, "b")).isEqualTo(KeyState.INVALID);
  }

  @Test
  void aStoreOpenedWhileRedisIsDownServesLocallyAndCatchesUpWhenItComes() {
    RedisKeyStateStore up = store("");
    GeminiKeyRotator early = rotator(up);
    server.kill();
    RedisKeyStateStore down = store("");
    assertThat(down.isAvailable()).isFalse();
    GeminiKeyRotator late = rotator(down); // its load fails; it starts from configuration
    assertThat(late.acquire(FLASH)).isNotNull();
    early.disable("c");
    server.start();
    Eventually.until("the late instance learns what happened meanwhile",
        () -> state(late, "c") == KeyState.DISABLED);
  }

  @Test
  void aFullQueueDropsTheOldestWritesAndCountsThemAndAnEmptyRedisGetsEverythingBack() {
    RedisKeyStateStore store = store("&queue=3");
    server.kill();
    Eventually.until("outage noticed", () -> !store.isAvailable());
    Instant now = Instant.now();
    for (int i = 0; i < 5; i++) {
      store.apply(new StateChange.KeyStatus("k" + i, KeyState.INVALID, null, "x", now));
    }
    // a second write to a queued key merges with it instead of taking room
    store.apply(new StateChange.KeyStatus("k4", KeyState.DISABLED, null, "y", now.plusMillis(1)));
    assertThat(store.droppedWrites()).isEqualTo(2);
    assertThat(store.pendingWrites()).isEqualTo(3);

    server.start();
    Eventually.until("queue replayed", () -> store.pendingWrites() == 0 && store.isAvailable());
    // Redis came back empty, so the store wrote back all it knows, the dropped writes included
    var statuses = Eventually.value("everything written back", () -> store.load().statuses(),
        x -> x.size() == 5);
    assertThat(statuses).containsOnlyKeys("k0", "k1", "k2", "k3", "k4");
    assertThat(statuses.get("k4").state()).isEqualTo(KeyState.DISABLED);
  }

  private static KeyState state(GeminiKeyRotator rotator, String id) {
    return rotator.snapshot(id).orElseThrow().state();
  }
}
