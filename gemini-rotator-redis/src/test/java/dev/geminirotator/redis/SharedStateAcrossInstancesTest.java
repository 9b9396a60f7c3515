package dev.geminirotator.redis;

import static dev.geminirotator.redis.Pools.FLASH;
import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.KeyState;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.QuotaScope;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.redis.RedisServerExtension;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Several rotators, each with its own store (as on separate hosts), sharing one Redis. */
class SharedStateAcrossInstancesTest {

  @RegisterExtension
  static final RedisServerExtension redis = new RedisServerExtension();

  private static final List<String> IDS = List.of("a", "b", "c", "d");
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

  private GeminiKeyRotator instance() {
    GeminiKeyRotator rotator = Pools.rotator(store(), Pools.keys(IDS.toArray(new String[0])));
    open.add(rotator);
    return rotator;
  }

  @Test
  void aNewRotatorOnTheSameRedisSeesCooledInvalidDisabledAndRuntimeKeys() {
    RedisKeyStateStore firstStore = RedisKeyStateStore.open(redis.uri("/0"));
    GeminiKeyRotator first = Pools.rotator(firstStore, Pools.keys("a", "b", "c", "d"));
    first.acquire(Pools.only("a", IDS))
        .complete(Outcome.rateLimited(Duration.ofSeconds(60), QuotaScope.PER_MINUTE));
    first.acquire(Pools.only("b", IDS)).complete(Outcome.keyRejected(400, "API_KEY_INVALID"));
    first.disable("c");
    first.addKey(Pools.key("e"));
    first.removeKey("d");
    first.close();
    firstStore.close(); // flushes what is queued

    GeminiKeyRotator second = instance();
    assertThat(Pools.view(second).keySet()).containsExactly("a", "b", "c", "e");
    assertThat(second.snapshot("a").orElseThrow().state()).isEqualTo(KeyState.RATE_LIMITED);
    assertThat(second.snapshot("a").orElseThrow().cooldowns()).containsKey("gemini-2.5-flash");
    assertThat(second.snapshot("b").orElseThrow().state()).isEqualTo(KeyState.INVALID);
    assertThat(second.snapshot("c").orElseThrow().state()).isEqualTo(KeyState.DISABLED);
    for (int i = 0; i < 20; i++) {
      assertThat(second.acquire(FLASH).key().id()).isEqualTo("e");
    }
  }

  // How fast a change propagates is measured, not asserted: benchmarks/ PropagationBenchmark.
  @Test
  void aRateLimitSeenByOneInstanceKeepsTheOtherTwoOffTheKey() {
    GeminiKeyRotator one = instance();
    GeminiKeyRotator two = instance();
    GeminiKeyRotator three = instance();
    warmUp(one, two, three);

    one.acquire(Pools.only("a", IDS))
        .complete(Outcome.rateLimited(Duration.ofSeconds(30), QuotaScope.PER_MINUTE));
    Eventually.until("the other instances see the cooldown", () ->
        two.snapshot("a").orElseThrow().state() == KeyState.RATE_LIMITED
            && three.snapshot("a").orElseThrow().state() == KeyState.RATE_LIMITED);
    for (int i = 0; i < 200; i++) {
      assertThat(two.acquire(FLASH).key().id()).isNotEqualTo("a");
      assertThat(three.acquire(FLASH).key().id()).isNotEqualTo("a");
    }
  }

  @Test
  void everyKindOfTransitionReachesTheOtherInstances() {
    GeminiKeyRotator one = instance();
    GeminiKeyRotator two = instance();
    GeminiKeyRotator three = instance();
    warmUp(one, two, three);

    propagates("invalid", () -> one.acquire(Pools.only("b", IDS))
            .complete(Outcome.keyRejected(401, null)),
        () -> state(two, "b") == KeyState.INVALID && state(three, "b") == KeyState.INVALID);
    propagates("disabled", () -> two.disable("c"),
        () -> state(one, "c") == KeyState.DISABLED && state(three, "c") == KeyState.DISABLED);
    propagates("reset", () -> three.reset("b"),
        () -> state(one, "b") == KeyState.HEALTHY && state(two, "b") == KeyState.HEALTHY);
    propagates("added", () -> one.addKey(Pools.key("e")),
        () -> two.snapshot("e").isPresent() && three.snapshot("e").isPresent());
    propagates("removed", () -> three.removeKey("d"),
        () -> one.snapshot("d").isEmpty() && two.snapshot("d").isEmpty());
    assertThat(Pools.view(two)).isEqualTo(Pools.view(one)).isEqualTo(Pools.view(three));
  }

  @Test
  void aChangeThePubSubMissedIsRepairedByTheRotatorsPeriodicReconcile() {
    GeminiKeyRotator rotator = GeminiKeyRotator.builder()
        .keys(Pools.keys(IDS.toArray(new String[0]))).store(store())
        .reconcileEvery(Duration.ofMillis(100)).build();
    open.add(rotator);
    // written straight into Redis, with a newer version and no PUBLISH: only a reload finds it
    long now = System.currentTimeMillis();
    redis.client().hset("gemini_rotator:key:c:status", java.util.Map.of("state", "DISABLED",
        "until", "", "reason", "by an operator elsewhere", "at", Long.toString(now),
        "v", String.format("%015d-zzzzzzzzzzzz-%012d", now, 1)));
    redis.client().sadd("gemini_rotator:keys:status", "c");
    Eventually.until("reconcile applies it",
        () -> state(rotator, "c") == KeyState.DISABLED);
  }

  private static KeyState state(GeminiKeyRotator rotator, String id) {
    return rotator.snapshot(id).orElseThrow().state();
  }

  private static void propagates(String what, Runnable action, BooleanSupplier seen) {
    action.run();
    Eventually.until(what + " reaches the other instances", seen);
  }

  /** One round of disable/enable from each instance: every subscription is live before a test. */
  private static void warmUp(GeminiKeyRotator one, GeminiKeyRotator two, GeminiKeyRotator three) {
    for (GeminiKeyRotator r : List.of(one, two, three)) {
      r.disable("d");
      Eventually.until("warm-up", () -> state(one, "d") == KeyState.DISABLED
          && state(two, "d") == KeyState.DISABLED && state(three, "d") == KeyState.DISABLED);
      r.enable("d");
      Eventually.until("warm-up", () -> state(one, "d") == KeyState.HEALTHY
          && state(two, "d") == KeyState.HEALTHY && state(three, "d") == KeyState.HEALTHY);
    }
  }
}
