package dev.geminirotator.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.KeyState;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.QuotaScope;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.redis.RedisServerExtension;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import redis.clients.jedis.Protocol;

/**
 * When Redis refuses an instance's write (compare-and-set: another instance wrote a newer state
 * since the one the write was based on), the writer's own rotator is handed the state that stands
 * at once, not at the next reconcile. Rotators are the subscribers, as in production. "Another
 * instance" writes with the store's own scripts on a channel nobody listens to: a message the
 * writer missed, which no reload (resync) repairs here because its subscription stays up.
 */
class CorrectionsReachTheWriterTest {

  @RegisterExtension
  static final RedisServerExtension redis = new RedisServerExtension();

  private static final List<String> IDS = List.of("k1", "k2", "k3");
  private static final String MODEL = Pools.FLASH.model();
  private static final String ELSEWHERE = "another-instance";

  private final List<AutoCloseable> open = new ArrayList<>();
  private RedisKeyStateStore storeA;
  private GeminiKeyRotator a;
  private GeminiKeyRotator b;

  @BeforeEach
  void twoInstances() {
    redis.client().flushAll();
    storeA = store();
    a = rotator(storeA);
    b = rotator(store());
    // both subscriptions are live: a change of B reaches A
    b.acquire(Pools.only("k2", IDS)).complete(Outcome.keyRejected(400, "API_KEY_INVALID"));
    Eventually.until("A learns k2 is invalid", () -> state(a, "k2") == KeyState.INVALID);
  }

  @AfterEach
  void close() throws Exception {
    redis.client().sendCommand(Protocol.Command.CLIENT, "UNPAUSE");
    for (int i = open.size() - 1; i >= 0; i--) open.get(i).close();
  }

  @Test
  void aResetRedisRefusesLeavesTheWritersRotatorWithTheStatusThatStands() {
    writtenElsewhere("k2", "DISABLED");

    a.reset("k2");

    Eventually.until("A's rotator is handed the status that stands",
        () -> state(a, "k2") == KeyState.DISABLED);
    assertThat(redis.client().hget("gemini_rotator:key:k2:status", "state"))
        .isEqualTo("DISABLED");
    assertThat(storeA.refusedWrites()).isEqualTo(1);
  }

  @Test
  void aResetRedisRefusesLeavesTheWritersRotatorWithTheCooldownThatStands() {
    b.acquire(Pools.only("k1", IDS))
        .complete(Outcome.rateLimited(Duration.ofSeconds(60), QuotaScope.PER_MINUTE));
    Eventually.until("A learns the cooldown", () -> state(a, "k1") == KeyState.RATE_LIMITED);
    Instant later = Instant.ofEpochMilli(System.currentTimeMillis() + 600_000);
    cooledElsewhere("k1", later);

    a.reset("k1");

    Eventually.until("A's rotator is handed the cooldown that stands",
        () -> later.equals(a.snapshot("k1").orElseThrow().cooldowns().get(MODEL)));
    assertThat(state(a, "k1")).isEqualTo(KeyState.RATE_LIMITED);
    assertThat(storeA.refusedWrites()).isEqualTo(1);
  }

  @Test
  void aShorterCooldownLeavesTheWritersRotatorWithTheLongerOneRedisHolds() {
    Instant later = Instant.ofEpochMilli(System.currentTimeMillis() + 600_000);
    cooledElsewhere("k3", later);

    a.acquire(Pools.only("k3", IDS))
        .complete(Outcome.rateLimited(Duration.ofSeconds(30), QuotaScope.PER_MINUTE));

    Eventually.until("A's rotator is handed the cooldown that stands",
        () -> later.equals(a.snapshot("k3").orElseThrow().cooldowns().get(MODEL)));
  }

  @Test
  void aRefusalAnsweredAfterAnotherRotatorOnTheStoreLoadedStillReachesTheWritersRotator() {
    writtenElsewhere("k2", "DISABLED");
    // Redis holds every write from here until the load below is done: the refusal is answered
    // after it, whatever the machine's speed
    redis.client().sendCommand(Protocol.Command.CLIENT, "PAUSE", "10000", "WRITE");
    a.reset("k2");
    GeminiKeyRotator sharing = rotator(storeA); // loads from the store A's rotator uses
    assertThat(state(sharing, "k2")).isEqualTo(KeyState.DISABLED);
    redis.client().sendCommand(Protocol.Command.CLIENT, "UNPAUSE");

    Eventually.until("the refused reset is answered", () -> storeA.pendingWrites() == 0);
    Eventually.until("A's rotator is handed the status that stands",
        () -> state(a, "k2") == KeyState.DISABLED);
  }

  @Test
  void aRefusedClearAnsweredAfterAnotherRotatorOnTheStoreLoadedStillReachesTheWritersRotator() {
    b.acquire(Pools.only("k1", IDS))
        .complete(Outcome.rateLimited(Duration.ofSeconds(60), QuotaScope.PER_MINUTE));
    Eventually.until("A learns the cooldown", () -> state(a, "k1") == KeyState.RATE_LIMITED);
    Instant later = Instant.ofEpochMilli(System.currentTimeMillis() + 600_000);
    cooledElsewhere("k1", later);
    writtenElsewhere("k3", "DISABLED"); // Redis's sequence moves past the cooldown's generation
    redis.client().sendCommand(Protocol.Command.CLIENT, "PAUSE", "10000", "WRITE");
    a.reset("k1");
    GeminiKeyRotator sharing = rotator(storeA);
    assertThat(sharing.snapshot("k1").orElseThrow().cooldowns()).containsEntry(MODEL, later);
    redis.client().sendCommand(Protocol.Command.CLIENT, "UNPAUSE");

    Eventually.until("the refused clear is answered", () -> storeA.pendingWrites() == 0);
    Eventually.until("A's rotator is handed the cooldown that stands",
        () -> later.equals(a.snapshot("k1").orElseThrow().cooldowns().get(MODEL)));
  }

  // ---------------------------------------------------------------------------------------------

  /** Another instance sets a key's status, with the store's own script; nobody hears of it. */
  private static void writtenElsewhere(String id, String state) {
    redis.client().eval(Scripts.STATUS,
        List.of("gemini_rotator:key:" + id + ":status", "gemini_rotator:keys:status",
            "gemini_rotator:keys:removed", "gemini_rotator:keys:gen", "gemini_rotator:generation"),
        List.of(id, state, "", "by an operator elsewhere",
            Long.toString(System.currentTimeMillis()), "9000000000000000", ELSEWHERE,
            "unheard", "{", "86400000"));
  }

  /** Another instance moves a key's cooldown later, with the store's own script; unheard. */
  private static void cooledElsewhere(String id, Instant until) {
    String member = "key:" + id + ":" + MODEL;
    redis.client().eval(Scripts.COOLDOWN,
        List.of("gemini_rotator:cooldown:" + member, "gemini_rotator:cooldowns",
            "gemini_rotator:generation"),
        List.of("key:" + id, MODEL, Long.toString(until.toEpochMilli()), "0", member, "unheard",
            "", "{", ELSEWHERE, "0"));
  }

  private RedisKeyStateStore store() {
    RedisKeyStateStore store = RedisKeyStateStore.open(redis.uri("/0"));
    open.add(store);
    return store;
  }

  private GeminiKeyRotator rotator(RedisKeyStateStore store) {
    GeminiKeyRotator rotator = Pools.rotator(store, Pools.keys("k1", "k2", "k3"));
    open.add(rotator);
    return rotator;
  }

  private static KeyState state(GeminiKeyRotator rotator, String id) {
    return rotator.snapshot(id).orElseThrow().state();
  }
}
