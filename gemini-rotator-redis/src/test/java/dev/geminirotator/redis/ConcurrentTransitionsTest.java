package dev.geminirotator.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyLease;
import dev.geminirotator.api.KeyState;
import dev.geminirotator.api.NoKeyAvailableException;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.QuotaScope;
import dev.geminirotator.api.spi.StateChange;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.redis.RedisServerExtension;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class ConcurrentTransitionsTest {

  @RegisterExtension
  static final RedisServerExtension redis = new RedisServerExtension();

  private static final List<String> IDS = List.of("k0", "k1", "k2", "k3", "k4", "k5");
  private static final List<String> ALL =
      List.of("k0", "k1", "k2", "k3", "k4", "k5", "rt-0", "rt-1", "rt-2");
  private final List<AutoCloseable> open = new ArrayList<>();

  @BeforeEach
  void emptyRedis() {
    redis.client().flushAll();
  }

  @AfterEach
  void close() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) open.get(i).close();
  }

  private RedisKeyStateStore store() {
    RedisKeyStateStore store = RedisKeyStateStore.open(redis.uri("/0"));
    open.add(store);
    return store;
  }

  private static List<ApiKey> pool() {
    List<ApiKey> keys = new ArrayList<>();
    for (String id : IDS) {
      // two projects of three keys: a 429 on one cools its siblings too
      keys.add(ApiKey.builder("AIzaSyTEST-" + id + "-0123456789abcdef").id(id)
          .project(id.compareTo("k3") < 0 ? "p-low" : "p-high").build());
    }
    return keys;
  }

  @Test
  void transitionsRacingFromThreadsOnThreeInstancesEndTheSameEverywhere() throws Exception {
    List<GeminiKeyRotator> instances = new ArrayList<>();
    List<RedisKeyStateStore> stores = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      RedisKeyStateStore store = store();
      stores.add(store);
      GeminiKeyRotator rotator = Pools.rotator(store, pool());
      open.add(rotator);
      instances.add(rotator);
    }
    ExecutorService pool = Executors.newFixedThreadPool(9);
    List<Future<?>> done = new ArrayList<>();
    for (int t = 0; t < 9; t++) {
      GeminiKeyRotator rotator = instances.get(t % 3);
      long seed = 42 + t;
      done.add(pool.submit(() -> hammer(rotator, new Random(seed))));
    }
    for (Future<?> f : done) f.get();
    pool.shutdown();

    Eventually.until("writes drained",
        () -> stores.stream().allMatch(s -> s.pendingWrites() == 0));
    // the last value, when they never agree, is the three views side by side
    List<Map<String, String>> views = Eventually.value("the three instances agree",
        () -> instances.stream().map(Pools::view).toList(),
        v -> v.get(0).equals(v.get(1)) && v.get(0).equals(v.get(2)));
    Map<String, String> expected = views.get(0);
    // And a newcomer that knows only Redis sees the same.
    GeminiKeyRotator newcomer = Pools.rotator(store(), pool());
    open.add(newcomer);
    assertThat(Pools.view(newcomer)).isEqualTo(expected);
  }

  @Test
  void instancesRacingOnOneStatusAllEndWithTheOneRedisKept() throws Exception {
    List<RedisKeyStateStore> stores = List.of(store(), store(), store());
    List<List<StateChange.KeyStatus>> delivered = new ArrayList<>();
    for (RedisKeyStateStore store : stores) {
      List<StateChange.KeyStatus> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
      store.subscribe(c -> {
        if (c instanceof StateChange.KeyStatus s) seen.add(s);
      });
      delivered.add(seen);
    }
    Instant base = Instant.now();
    ExecutorService pool = Executors.newFixedThreadPool(6);
    List<Future<?>> done = new ArrayList<>();
    for (int t = 0; t < 6; t++) {
      RedisKeyStateStore store = stores.get(t % 3);
      int thread = t;
      done.add(pool.submit(() -> {
        for (int i = 0; i < 300; i++) {
          KeyState state = KeyState.values()[(i + thread) % 5];
          if (state == KeyState.RATE_LIMITED) state = KeyState.INVALID;
          // clocks that disagree: the order is Redis's, not the timestamps'
          store.apply(new StateChange.KeyStatus("k", state, null, "t" + thread + "#" + i,
              base.plusMillis((thread % 2 == 0 ? -1 : 1) * i * 6L)));
        }
      }));
    }
    for (Future<?> f : done) f.get();
    pool.shutdown();
    Eventually.until("writes drained",
        () -> stores.stream().allMatch(s -> s.pendingWrites() == 0));
    String kept = redis.client().hget("gemini_rotator:key:k:status", "reason");
    assertThat(kept).isNotNull();
    for (int i = 0; i < stores.size(); i++) {
      List<StateChange.KeyStatus> seen = delivered.get(i);
      Eventually.until("instance " + i + " ends with the status Redis kept",
          () -> kept.equals(seen.get(seen.size() - 1).reason()));
      StateChange.KeyStatus loaded = stores.get(i).load().statuses().get("k");
      if ("HEALTHY".equals(redis.client().hget("gemini_rotator:key:k:status", "state"))) {
        assertThat(loaded).as("HEALTHY is the default a snapshot leaves out").isNull();
      } else {
        assertThat(loaded.reason()).isEqualTo(kept);
      }
    }
  }

  @Test
  void aCooldownSetElsewhereIsExactlyWhatRedisHoldsNotTheLaterOneHeldHere() {
    List<ApiKey> keys = List.of(
        ApiKey.builder("AIzaSyTEST-k0-0123456789abcdef").id("k0").project("p").build(),
        ApiKey.builder("AIzaSyTEST-k1-0123456789abcdef").id("k1").project("q").build());
    GeminiKeyRotator a = Pools.rotator(store(), keys);
    open.add(a);
    complete(a, "k0", Outcome.rateLimited(Duration.ofSeconds(50), QuotaScope.PER_MINUTE));
    String hash = "gemini_rotator:cooldown:p:gemini-2.5-flash";
    Eventually.until("the cooldown is in Redis", () -> "0".equals(redis.client().hget(hash,
        "cleared")));
    // Another instance clears it, and this one never hears of it (a message it skipped as old,
    // say, after an answer to its own write told it of a newer generation).
    redis.client().hset(hash, "cleared", "1");
    // A third instance, which knows only Redis, is then limited for a shorter time.
    GeminiKeyRotator c = Pools.rotator(store(), keys);
    open.add(c);
    assertThat(Pools.view(c).get("k0")).isEqualTo("HEALTHY {}");
    complete(c, "k0", Outcome.rateLimited(Duration.ofSeconds(20), QuotaScope.PER_MINUTE));
    Eventually.until("Redis holds the shorter cooldown", () -> "0".equals(redis.client().hget(
        hash, "cleared")));
    String stored = Pools.view(c).get("k0");

    Eventually.until("the first instance holds what Redis holds",
        () -> stored.equals(Pools.view(a).get("k0")));
  }

  private static void hammer(GeminiKeyRotator rotator, Random random) {
    for (int i = 0; i < 250; i++) {
      String id = IDS.get(random.nextInt(IDS.size()));
      switch (random.nextInt(10)) {
        case 0 -> rotator.disable(id);
        case 1 -> rotator.enable(id);
        case 2 -> rotator.reset(id);
        case 3 -> rotator.addKey(Pools.key("rt-" + random.nextInt(3)));
        case 4 -> rotator.removeKey("rt-" + random.nextInt(3));
        case 5 -> complete(rotator, id, Outcome.keyRejected(400, "API_KEY_INVALID"));
        case 6 -> complete(rotator, id, Outcome.rateLimited(
            Duration.ofSeconds(20 + random.nextInt(40)), QuotaScope.PER_MINUTE));
        default -> complete(rotator, id, Outcome.success());
      }
    }
  }

  private static void complete(GeminiKeyRotator rotator, String id, Outcome outcome) {
    try {
      // runtime keys stay out of the outcomes: a removed key's project forgets its cooldowns in
      // the rotator (core) while Redis keeps them, which a newcomer would then see
      KeyLease lease = rotator.acquire(Pools.only(id, ALL));
      lease.complete(outcome);
    } catch (NoKeyAvailableException e) {
      // the key is out of rotation right now
    }
  }
}
