package dev.geminirotator.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.KeyState;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.QuotaScope;
import dev.geminirotator.api.spi.StateChange;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.redis.RedisServer;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.RedisClient;

/**
 * A change an instance queued while it could not reach Redis is replayed when Redis returns, and
 * must not undo what other instances wrote meanwhile. Reported: an admin reset made during an
 * outage was replayed after Redis returned and wiped cooldowns that other instances had set later.
 * Instance A reaches Redis through a {@link TcpRelay} the tests cut; instance B stays connected
 * (or, in one test, Redis itself is killed and comes back empty before B writes again).
 */
class ResetReplayedAfterOutageTest {

  private static final List<String> IDS = List.of("k1", "k2", "k3");
  private static final String MODEL = Pools.FLASH.model();
  private static final String COOLDOWN_K1 = "gemini_rotator:cooldown:key:k1:" + MODEL;

  private RedisServer server;
  private TcpRelay relay;
  private RedisClient redis;
  private final List<AutoCloseable> open = new ArrayList<>();

  @BeforeEach
  void start() {
    server = RedisServer.startOnFreePort();
    relay = TcpRelay.to(server.port());
    redis = RedisClient.create(server.uri());
  }

  @AfterEach
  void stop() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) open.get(i).close();
    redis.close();
    relay.close();
    server.close();
  }

  @Test
  void aResetQueuedDuringAnOutageDoesNotWipeACooldownAnotherInstanceSetMeanwhile() {
    RedisKeyStateStore storeA = store(relay.uri(""));
    RedisKeyStateStore storeB = store(server.uri(""));
    GeminiKeyRotator a = rotator(storeA, Clock.systemUTC());
    GeminiKeyRotator b = rotator(storeB, Clock.systemUTC());
    b.acquire(Pools.only("k1", IDS))
        .complete(Outcome.rateLimited(Duration.ofSeconds(60), QuotaScope.PER_MINUTE));
    Eventually.until("A learns the cooldown", () -> state(a, "k1") == KeyState.RATE_LIMITED);

    cutOff(storeA);
    a.reset("k1");
    assertThat(state(a, "k1")).isEqualTo(KeyState.HEALTHY);
    // later, B (still connected) learns of a longer cooldown for the same project and model
    Instant later = Instant.ofEpochMilli(System.currentTimeMillis() + 600_000);
    storeB.apply(new StateChange.Cooldown("key:k1", MODEL, later, false));
    Eventually.until("B's cooldown is in Redis",
        () -> Long.toString(later.toEpochMilli()).equals(redis.hget(COOLDOWN_K1, "until")));

    reconnect(storeA);
    assertThat(redis.hget(COOLDOWN_K1, "cleared")).as("the replayed clear was skipped")
        .isEqualTo("0");
    assertThat(redis.hget(COOLDOWN_K1, "until")).isEqualTo(Long.toString(later.toEpochMilli()));
    Eventually.until("A is handed the cooldown that stands",
        () -> later.equals(a.snapshot("k1").orElseThrow().cooldowns().get(MODEL)));
    assertThat(b.snapshot("k1").orElseThrow().cooldowns()).containsEntry(MODEL, later);
    assertThat(storeA.refusedWrites()).as("the skipped clear is counted (and logged)")
        .isEqualTo(1);
  }

  @Test
  void aResetQueuedDuringAnOutageLosesToAStatusWrittenMeanwhileThoughItsWritersClockIsAhead() {
    RedisKeyStateStore storeA = store(relay.uri(""));
    RedisKeyStateStore storeB = store(server.uri(""));
    // A's clock runs ten minutes ahead: its reset carries the later timestamp
    GeminiKeyRotator a = rotator(storeA, Clock.offset(Clock.systemUTC(), Duration.ofMinutes(10)));
    GeminiKeyRotator b = rotator(storeB, Clock.systemUTC());
    b.acquire(Pools.only("k2", IDS)).complete(Outcome.keyRejected(400, "API_KEY_INVALID"));
    Eventually.until("A learns the key is invalid", () -> state(a, "k2") == KeyState.INVALID);

    cutOff(storeA);
    a.reset("k2");
    assertThat(state(a, "k2")).isEqualTo(KeyState.HEALTHY);
    b.disable("k2"); // an operator on B, after A's reset
    Eventually.until("B's status is in Redis",
        () -> "DISABLED".equals(redis.hget("gemini_rotator:key:k2:status", "state")));

    reconnect(storeA);
    assertThat(redis.hget("gemini_rotator:key:k2:status", "state"))
        .as("the replayed reset did not overwrite the newer status").isEqualTo("DISABLED");
    Eventually.until("A is handed the status that stands",
        () -> state(a, "k2") == KeyState.DISABLED);
    assertThat(state(b, "k2")).isEqualTo(KeyState.DISABLED);
    assertThat(storeA.refusedWrites()).as("the refused reset is counted (and logged), not lost"
        + " without a trace").isEqualTo(1);
    assertThat(storeB.refusedWrites()).isZero();
  }

  @Test
  void aResetQueuedDuringAnOutageDoesNotWipeACooldownSetAfterRedisRestartedEmpty() {
    RedisKeyStateStore storeA = store(relay.uri(""));
    RedisKeyStateStore storeB = store(server.uri(""));
    GeminiKeyRotator a = rotator(storeA, Clock.systemUTC());
    GeminiKeyRotator b = rotator(storeB, Clock.systemUTC());
    b.acquire(Pools.only("k1", IDS))
        .complete(Outcome.rateLimited(Duration.ofSeconds(60), QuotaScope.PER_MINUTE));
    Eventually.until("A learns the cooldown", () -> state(a, "k1") == KeyState.RATE_LIMITED);

    relay.cut(); // A stays cut off until B has written again
    server.kill();
    Eventually.until("both notice the outage",
        () -> !storeA.isAvailable() && !storeB.isAvailable());
    a.reset("k1");
    server.start();
    redis.close(); // its pooled connections died with the server
    redis = RedisClient.create(server.uri());
    Eventually.until("B is back", storeB::isAvailable);
    Instant later = Instant.ofEpochMilli(System.currentTimeMillis() + 600_000);
    storeB.apply(new StateChange.Cooldown("key:k1", MODEL, later, false));
    Eventually.until("B's cooldown is in the restarted Redis",
        () -> Long.toString(later.toEpochMilli()).equals(redis.hget(COOLDOWN_K1, "until")));

    reconnect(storeA);
    assertThat(redis.hget(COOLDOWN_K1, "cleared")).as("the replayed clear was skipped")
        .isEqualTo("0");
    assertThat(redis.hget(COOLDOWN_K1, "until")).isEqualTo(Long.toString(later.toEpochMilli()));
    Eventually.until("A is handed the cooldown that stands",
        () -> later.equals(a.snapshot("k1").orElseThrow().cooldowns().get(MODEL)));
  }

  @Test
  void aResetQueuedDuringAnOutageStillAppliesWhenNothingNewerWasWritten() {
    RedisKeyStateStore storeA = store(relay.uri(""));
    RedisKeyStateStore storeB = store(server.uri(""));
    GeminiKeyRotator a = rotator(storeA, Clock.systemUTC());
    GeminiKeyRotator b = rotator(storeB, Clock.systemUTC());
    b.acquire(Pools.only("k1", IDS))
        .complete(Outcome.rateLimited(Duration.ofSeconds(60), QuotaScope.PER_MINUTE));
    b.acquire(Pools.only("k2", IDS)).complete(Outcome.keyRejected(400, "API_KEY_INVALID"));
    Eventually.until("A learns both", () -> state(a, "k1") == KeyState.RATE_LIMITED
        && state(a, "k2") == KeyState.INVALID);

    cutOff(storeA);
    a.reset("k1");
    a.reset("k2");
    reconnect(storeA);

    assertThat(redis.hget(COOLDOWN_K1, "cleared")).isEqualTo("1");
    assertThat(redis.hget("gemini_rotator:key:k2:status", "state")).isEqualTo("HEALTHY");
    Eventually.until("B learns of both resets", () -> state(b, "k1") == KeyState.HEALTHY
        && state(b, "k2") == KeyState.HEALTHY);
    assertThat(state(a, "k1")).isEqualTo(KeyState.HEALTHY);
    assertThat(state(a, "k2")).isEqualTo(KeyState.HEALTHY);
    assertThat(storeA.refusedWrites()).as("nothing was refused").isZero();
  }

  @Test
  void aStatusReplayedAfterTheHealthyStatusItWasBasedOnExpiredStillLoses() {
    // HEALTHY statuses expire (a day in production; a moment here), their generation must not
    RedisKeyStateStore storeA = store(relay.uri(""), 200);
    RedisKeyStateStore storeB = store(server.uri(""), 200);
    GeminiKeyRotator a = rotator(storeA, Clock.systemUTC());
    GeminiKeyRotator b = rotator(storeB, Clock.systemUTC());
    b.acquire(Pools.only("k2", IDS)).complete(Outcome.keyRejected(400, "API_KEY_INVALID"));
    Eventually.until("A learns the key is invalid", () -> state(a, "k2") == KeyState.INVALID);

    cutOff(storeA);
    a.disable("k2"); // based on INVALID
    b.reset("k2"); // an operator on B, after A's change: HEALTHY, which expires
    Eventually.until("B's HEALTHY status expired from Redis",
        () -> "HEALTHY".equals(state(b, "k2").name())
            && redis.hget("gemini_rotator:keys:gen", "k2") != null
            && !redis.exists("gemini_rotator:key:k2:status"));

    reconnect(storeA);
    assertThat(redis.hget("gemini_rotator:key:k2:status", "state"))
        .as("the replayed status did not beat the expired, newer one").isNotEqualTo("DISABLED");
    Eventually.until("A is handed the status that stands",
        () -> state(a, "k2") == KeyState.HEALTHY);
    assertThat(state(b, "k2")).isEqualTo(KeyState.HEALTHY);
    assertThat(storeA.refusedWrites()).isEqualTo(1);
  }

  // ---------------------------------------------------------------------------------------------

  private RedisKeyStateStore store(String uri, long healthyStatusTtlMillis) {
    RedisKeyStateStore store = RedisKeyStateStore.open(
        RedisStoreOptions.fromUri(uri + "/0?retry=50ms&timeout=500ms"), healthyStatusTtlMillis);
    open.add(store);
    return store;
  }

  private RedisKeyStateStore store(String uri) {
    RedisKeyStateStore store = RedisKeyStateStore.open(uri + "/0?retry=50ms&timeout=500ms");
    open.add(store);
    return store;
  }

  private GeminiKeyRotator rotator(RedisKeyStateStore store, Clock clock) {
    GeminiKeyRotator rotator = GeminiKeyRotator.builder().keys(Pools.keys("k1", "k2", "k3"))
        .store(store).clock(clock).build();
    open.add(rotator);
    return rotator;
  }

  private void cutOff(RedisKeyStateStore store) {
    relay.cut();
    Eventually.until("the cut is noticed", () -> !store.isAvailable());
  }

  /** Lets the store reach Redis again and waits until its queued writes are acknowledged. */
  private void reconnect(RedisKeyStateStore store) {
    relay.restore();
    Eventually.until("the store replays what it queued",
        () -> store.isAvailable() && store.pendingWrites() == 0);
  }

  private static KeyState state(GeminiKeyRotator rotator, String id) {
    return rotator.snapshot(id).orElseThrow().state();
  }
}
