package dev.geminirotator.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyState;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.QuotaScope;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.redis.RedisSentinels;
import dev.geminirotator.testsupport.redis.RedisServer;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The store on a real Sentinel set-up (master, replica, three sentinels): it follows the failover
 * to the promoted replica, and what is written after it reaches the other instances.
 */
class RedisSentinelStoreTest {

  private static RedisSentinels sentinels;
  private final List<AutoCloseable> open = new ArrayList<>();

  @BeforeAll
  static void startSentinels() {
    sentinels = RedisSentinels.start();
  }

  @AfterAll
  static void stopSentinels() {
    if (sentinels != null) sentinels.close();
  }

  @AfterEach
  void close() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) open.get(i).close();
  }

  private RedisKeyStateStore store() {
    RedisKeyStateStore store = RedisKeyStateStore.open(sentinels.uri("?timeout=1s&retry=100ms"));
    open.add(store);
    return store;
  }

  private GeminiKeyRotator instance(RedisKeyStateStore store, List<ApiKey> keys) {
    GeminiKeyRotator rotator = Pools.rotator(store, keys);
    open.add(rotator);
    return rotator;
  }

  @Test
  void theStoreFollowsTheFailoverToThePromotedReplicaAndSharesWhatIsWrittenAfter() {
    List<ApiKey> keys = Pools.keys("a", "b", "c", "d");
    List<String> ids = List.of("a", "b", "c", "d");
    RedisKeyStateStore storeA = store();
    RedisKeyStateStore storeB = store();
    assertThat(storeA.isAvailable()).isTrue();
    assertThat(storeA.describe()).startsWith("redis-sentinel://127.0.0.1:")
        .endsWith("/" + RedisSentinels.MASTER_NAME + "/0");
    GeminiKeyRotator a = instance(storeA, keys);
    GeminiKeyRotator b = instance(storeB, keys);
    a.disable("a");
    Eventually.until("B sees A's change on the first master",
        () -> b.snapshot("a").orElseThrow().state() == KeyState.DISABLED);

    RedisServer old = sentinels.killMaster();
    RedisServer promoted = sentinels.awaitFailover(old);
    assertThat(promoted).isNotSameAs(old);
    // changes made meanwhile are queued and written to the promoted master
    a.acquire(Pools.only("b", ids))
        .complete(Outcome.rateLimited(Duration.ofMinutes(5), QuotaScope.PER_MINUTE));
    Eventually.until("both stores follow the sentinels to the promoted master",
        () -> storeA.isAvailable() && storeB.isAvailable() && storeA.pendingWrites() == 0);
    assertThat(storeA.outages()).as("A saw the master go").isPositive();

    b.disable("c");
    Eventually.until("changes made after the failover cross over", () ->
        a.snapshot("c").orElseThrow().state() == KeyState.DISABLED
            && b.snapshot("b").orElseThrow().state() == KeyState.RATE_LIMITED);
    GeminiKeyRotator fresh = instance(store(), keys);
    Eventually.untilAsserted("a new instance loads everything from the promoted master",
        () -> assertThat(Pools.view(fresh)).isEqualTo(Pools.view(a)).isEqualTo(Pools.view(b)));
    assertThat(fresh.snapshot("a").orElseThrow().state()).isEqualTo(KeyState.DISABLED);
    Instant minute = Instant.parse("2026-11-26T12:00:00Z");
    Duration window = Duration.ofMinutes(1);
    assertThat(storeA.counters().orElseThrow().addAndGet("q", minute, window, 2)).isEqualTo(2);
    assertThat(storeB.counters().orElseThrow().addAndGet("q", minute, window, 3)).isEqualTo(5);
  }
}
